package zmtp

// Socket type names as carried in the Socket-Type property.
const (
	TypePair   = "PAIR"
	TypePub    = "PUB"
	TypeSub    = "SUB"
	TypeXPub   = "XPUB"
	TypeXSub   = "XSUB"
	TypePush   = "PUSH"
	TypePull   = "PULL"
	TypeReq    = "REQ"
	TypeRep    = "REP"
	TypeDealer = "DEALER"
	TypeRouter = "ROUTER"
)

var compatible = map[string][]string{
	TypePair:   {TypePair},
	TypePub:    {TypeSub, TypeXSub},
	TypeXPub:   {TypeSub, TypeXSub},
	TypeSub:    {TypePub, TypeXPub},
	TypeXSub:   {TypePub, TypeXPub},
	TypePush:   {TypePull},
	TypePull:   {TypePush},
	TypeReq:    {TypeRep, TypeRouter},
	TypeRep:    {TypeReq, TypeDealer},
	TypeDealer: {TypeRep, TypeDealer, TypeRouter},
	TypeRouter: {TypeReq, TypeDealer, TypeRouter},
}

// Compatible reports whether a socket of type local may talk to a peer that
// announced type peer. Names are compared exactly, as libzmq does.
func Compatible(local, peer string) bool {
	for _, t := range compatible[local] {
		if t == peer {
			return true
		}
	}
	return false
}

// SendsIdentity reports whether libzmq puts an Identity property into this
// socket type's READY (only REQ, DEALER and ROUTER do).
func SendsIdentity(t string) bool {
	return t == TypeReq || t == TypeDealer || t == TypeRouter
}
