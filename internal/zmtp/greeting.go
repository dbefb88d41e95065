package zmtp

import (
	"encoding/binary"
	"fmt"
)

// Greeting layout (RFC 23 §greeting): signature (10), major (1), minor (1),
// mechanism (20), as-server (1), filler (31).
const (
	SignatureSize = 10
	GreetingSize  = 64
	// RestSize is what follows the signature and the major version byte.
	RestSize = GreetingSize - SignatureSize - 1

	MajorVersion = 3
	MinorVersion = 1

	mechanismSize = 20
)

var (
	// ErrBadSignature means the peer's first ten bytes are not a ZMTP signature.
	ErrBadSignature = protocolErr("zmtp: invalid greeting signature")
	// ErrNotZMTP means the peer's first bytes are no ZMTP greeting of any
	// version: HTTP, TLS or random bytes on a ZMTP port.
	ErrNotZMTP = protocolErr("zmtp: not a ZMTP peer")
	// ErrOldVersion means the peer speaks ZMTP 1.0 or 2.x, which we do not implement.
	ErrOldVersion = protocolErr("zmtp: peer speaks an unsupported ZMTP version (< 3.0)")
	// ErrBadMechanism means the mechanism field is not a valid name.
	ErrBadMechanism = protocolErr("zmtp: invalid mechanism name in greeting")
)

// Greeting is a decoded ZMTP 3.x greeting.
type Greeting struct {
	Major, Minor byte
	Mechanism    string
	AsServer     bool
}

// Signature returns the 10-byte signature. libzmq puts routing-id length + 1
// into the padding; peers must not validate it, so we always send 1.
func Signature() [SignatureSize]byte {
	return [SignatureSize]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f}
}

// CheckSignature validates the peer's signature. A first byte other than
// 0xFF, or a clear bit 0 in the last byte, is ZMTP 1.0 (whose first frame is
// the identity, short or long) if the bytes look like that frame (see
// CheckOld), and no ZMTP at all otherwise.
func CheckSignature(b []byte) error {
	if len(b) < SignatureSize {
		return ErrBadSignature
	}
	if b[0] != 0xff {
		return CheckOld(b[0], b[1])
	}
	if b[9]&1 == 0 {
		// A ZMTP 1.0 long frame: 8-byte length (identity + flags byte,
		// at most 256) and a final frame's flags.
		if n := binary.BigEndian.Uint64(b[1:9]); n >= 1 && n <= 256 {
			return fmt.Errorf("%w: ZMTP 1.0 peer", ErrOldVersion)
		}
		return fmt.Errorf("%w: first bytes % x", ErrNotZMTP, b[:SignatureSize])
	}
	return nil
}

// CheckOld judges a peer whose first byte is not 0xFF by its first two
// bytes: a ZMTP 1.0 peer begins with its identity frame, a length of 1 to
// 255 (identity plus flags byte) and a flags byte of 0. Anything else (an
// HTTP request, say) is not ZMTP.
func CheckOld(b0, b1 byte) error {
	if b0 >= 1 && b1 == 0 {
		return fmt.Errorf("%w: ZMTP 1.0 peer", ErrOldVersion)
	}
	return fmt.Errorf("%w: first bytes %q", ErrNotZMTP, []byte{b0, b1})
}

// CheckMajor validates the peer's major version byte.
func CheckMajor(major byte) error {
	if major < MajorVersion {
		if major == 1 { // ZMTP 2.0 sends revision 1 here
			return fmt.Errorf("%w: ZMTP 2.0 peer", ErrOldVersion)
		}
		return fmt.Errorf("%w: major version %d", ErrOldVersion, major)
	}
	return nil
}

// AppendRest appends the 53 greeting bytes that follow the major version:
// minor, mechanism, as-server, filler.
func AppendRest(dst []byte, mechanism string, asServer bool) []byte {
	dst = append(dst, MinorVersion)
	var mech [mechanismSize]byte
	copy(mech[:], mechanism)
	dst = append(dst, mech[:]...)
	if asServer {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	var filler [31]byte
	return append(dst, filler[:]...)
}

// AppendGreeting appends a whole 64-byte greeting.
func AppendGreeting(dst []byte, mechanism string, asServer bool) []byte {
	sig := Signature()
	dst = append(dst, sig[:]...)
	dst = append(dst, MajorVersion)
	return AppendRest(dst, mechanism, asServer)
}

// ParseRest decodes the 53 bytes after the major version byte.
func ParseRest(major byte, b []byte) (Greeting, error) {
	if len(b) < RestSize {
		return Greeting{}, ErrBadSignature
	}
	g := Greeting{Major: major, Minor: b[0], AsServer: b[1+mechanismSize] == 1}
	mech := b[1 : 1+mechanismSize]
	n := 0
	for n < len(mech) && mech[n] != 0 {
		c := mech[n]
		// RFC 23: mechanism names are uppercase letters, digits, '-', '_', '.', '+'.
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return Greeting{}, ErrBadMechanism
		}
		n++
	}
	for _, c := range mech[n:] {
		if c != 0 {
			return Greeting{}, ErrBadMechanism
		}
	}
	if n == 0 {
		return Greeting{}, ErrBadMechanism
	}
	g.Mechanism = string(mech[:n])
	return g, nil
}

// ParseGreeting decodes a whole 64-byte greeting.
func ParseGreeting(b []byte) (Greeting, error) {
	if len(b) < GreetingSize {
		return Greeting{}, ErrBadSignature
	}
	if err := CheckSignature(b); err != nil {
		return Greeting{}, err
	}
	if err := CheckMajor(b[10]); err != nil {
		return Greeting{}, err
	}
	return ParseRest(b[10], b[11:GreetingSize])
}
