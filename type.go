package zmq

import "github.com/zmqgo/zmq/internal/zmtp"

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
		return "Type(" + itoa(int(t)) + ")"
	}
	return typeNames[t]
}

// ParseType returns the Type whose ZMTP name is s (case-insensitive).
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if equalFold(n, s) {
			return Type(i), true
		}
	}
	return 0, false
}

func (t Type) valid() bool { return t >= 0 && int(t) < len(typeNames) }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'a' <= ca && ca <= 'z' {
			ca -= 'a' - 'A'
		}
		if 'a' <= cb && cb <= 'z' {
			cb -= 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
