package zmtp

import (
	"errors"
	"fmt"
)

// Mechanism names carried in the greeting.
const (
	MechPlain = "PLAIN"
	MechCurve = "CURVE"
)

// ZAP status codes (RFC 27).
const (
	StatusOK        = "200"
	StatusTemporary = "300"
	StatusDenied    = "400"
	StatusInternal  = "500"
)

var (
	// ErrCryptographic means a CURVE box did not open: wrong key, or the
	// bytes were tampered with. It wraps ErrMalformedCommand.
	ErrCryptographic = fmt.Errorf("%w: CURVE box does not open (wrong key or tampered data)", ErrMalformedCommand)
	// ErrNonce means a CURVE short nonce did not increase (a replay). It
	// wraps ErrMalformedCommand.
	ErrNonce = fmt.Errorf("%w: CURVE nonce not increasing (replayed or reordered)", ErrMalformedCommand)
	// ErrAuthRejected means a server mechanism was told by its ZAP handler
	// to reject the client. The error returned wraps it and is an
	// *AuthRejectedError carrying the status.
	ErrAuthRejected = errors.New("zmtp: authentication rejected")
)

// PeerError is the error a PLAIN or CURVE client returns when the server
// sends ERROR during the handshake. errors.Is(err, ErrPeerError) holds.
type PeerError struct {
	Reason string // the ERROR command's reason; libzmq sends the ZAP status code, e.g. "400"
}

func (e *PeerError) Error() string { return fmt.Sprintf("%v: %q", ErrPeerError, e.Reason) }

// Is makes errors.Is(err, ErrPeerError) hold.
func (e *PeerError) Is(target error) bool { return target == ErrPeerError }

// AuthRejectedError is returned by Authenticating.Authenticated when the
// ZAP status is not 200. errors.Is(err, ErrAuthRejected) holds.
type AuthRejectedError struct {
	Status string // "300", "400" or "500"
}

func (e *AuthRejectedError) Error() string {
	return fmt.Sprintf("%v: ZAP status %s", ErrAuthRejected, e.Status)
}

// Is makes errors.Is(err, ErrAuthRejected) hold.
func (e *AuthRejectedError) Is(target error) bool { return target == ErrAuthRejected }

// Authenticating is implemented by server mechanisms (PLAIN, CURVE) that ask
// a ZAP handler (RFC 27) whether to accept the client. After each call to
// Next that returns no error, the caller asks AuthPending; when it reports a
// request, the caller obtains a verdict and passes it to Authenticated before
// it reads another command. The mechanism itself does no I/O.
type Authenticating interface {
	// AuthPending returns the ZAP mechanism name and credentials frames of a
	// request that awaits a verdict (PLAIN: user name, password; CURVE: the
	// client's 32-byte long-term public key).
	AuthPending() (mechanism string, credentials [][]byte, ok bool)
	// Authenticated resumes the handshake with a ZAP status code. For "200"
	// it returns the next command to send. For "300" it returns no output and
	// an *AuthRejectedError (close quietly); for "400" and "500" it returns an
	// ERROR command and an *AuthRejectedError. The ERROR's reason is reason,
	// or the bare status code if reason is empty, as libzmq sends it.
	Authenticated(dst []byte, status, reason string) (out []byte, done bool, err error)
}

// MessageCodec is implemented by mechanisms that protect the data phase
// (CURVE), once the handshake is done. AppendMessage is called only by the
// connection's writer and OpenMessage only by its reader; the two may run
// concurrently.
type MessageCodec interface {
	// AppendMessage appends to dst one encoded wire frame (header included)
	// carrying a frame with the given flags (FlagMore, FlagCommand) and body.
	AppendMessage(dst []byte, flags byte, body []byte) ([]byte, error)
	// OpenMessage decodes a received frame body in place and returns the
	// inner frame's flags (FlagMore, FlagCommand) and body, which aliases
	// the input.
	OpenMessage(body []byte) (flags byte, plain []byte, err error)
	// Overhead is how many bytes AppendMessage adds to a frame body.
	Overhead() int
}

// parseHandshakeCommand splits a command body and returns a malformed error
// naming the mechanism if it cannot.
func parseHandshakeCommand(mech string, body []byte) (name string, data []byte, err error) {
	n, d, err := ParseCommand(body)
	if err != nil {
		return "", nil, fmt.Errorf("%s handshake: %w", mech, err)
	}
	return string(n), d, nil
}

func unexpected(mech, name, state string) error {
	return fmt.Errorf("%w: unexpected %q during %s handshake (%s)", ErrMalformedCommand, name, mech, state)
}

// peerError decodes an ERROR command's data.
func peerError(data []byte) error {
	reason, err := ParseError(data)
	if err != nil {
		return err
	}
	return &PeerError{Reason: reason}
}

// appendStatusError appends the ERROR command a server sends for a ZAP
// rejection, and the matching error. 300 sends nothing (close quietly).
func appendStatusError(dst []byte, status, reason string) ([]byte, bool, error) {
	err := &AuthRejectedError{Status: status}
	if status == StatusTemporary {
		return dst, false, err
	}
	if reason == "" {
		reason = status
	}
	return AppendError(dst, reason), false, err
}

// validStatus reports whether s is one of the four ZAP status codes.
func validStatus(s string) bool {
	switch s {
	case StatusOK, StatusTemporary, StatusDenied, StatusInternal:
		return true
	}
	return false
}

// NullAuth is NULL with a ZAP check first, which libzmq does when a ZAP
// domain is set and a handler exists: READY goes out only after a 200
// verdict; otherwise ERROR (400, 500) or a quiet close (300).
type NullAuth struct {
	Null
	state int // 0 before Start, 1 waiting for the verdict, 2 approved, 3 refused
}

func (m *NullAuth) Start(dst []byte) ([]byte, error) {
	m.state = 1
	return dst, nil
}

func (m *NullAuth) Next(dst []byte, body []byte) ([]byte, bool, error) {
	if m.state != 2 {
		return dst, false, fmt.Errorf("%w: command before the NULL handshake was authorized", ErrMalformedCommand)
	}
	return m.Null.Next(dst, body)
}

func (m *NullAuth) AuthPending() (string, [][]byte, bool) {
	return MechNull, nil, m.state == 1
}

func (m *NullAuth) Authenticated(dst []byte, status, reason string) ([]byte, bool, error) {
	if m.state != 1 {
		return dst, false, fmt.Errorf("zmtp: NULL: no authentication pending")
	}
	if status != StatusOK {
		m.state = 3
		if !validStatus(status) {
			return dst, false, fmt.Errorf("zmtp: invalid ZAP status %q", status)
		}
		return appendStatusError(dst, status, reason)
	}
	m.state = 2
	out, err := m.Null.Start(dst)
	return out, false, err
}
