package zmq

import (
	"strconv"
	"strings"

	"github.com/zmqgo/zmq/internal/zmtp"
)

// Type is a socket type.
type Type int

// Socket types, as in libzmq.
const (
	Pair Type = iota
	Pub
	Sub
	XPub
	XSub
	Push
	Pull
	Req
	Rep
	Dealer
	Router
)

var typeNames = [...]string{
	Pair: zmtp.TypePair, Pub: zmtp.TypePub, Sub: zmtp.TypeSub, XPub: zmtp.TypeXPub,
	XSub: zmtp.TypeXSub, Push: zmtp.TypePush, Pull: zmtp.TypePull, Req: zmtp.TypeReq,
	Rep: zmtp.TypeRep, Dealer: zmtp.TypeDealer, Router: zmtp.TypeRouter,
}

// String returns the ZMTP name of the type ("PUB", "DEALER", ...).
func (t Type) String() string {
	if t < 0 || int(t) >= len(typeNames) {
		return "Type(" + strconv.Itoa(int(t)) + ")"
	}
	return typeNames[t]
}

// ParseType returns the Type whose ZMTP name is s (case-insensitive).
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if strings.EqualFold(n, s) {
			return Type(i), true
		}
	}
	return 0, false
}

func (t Type) valid() bool { return t >= 0 && int(t) < len(typeNames) }
