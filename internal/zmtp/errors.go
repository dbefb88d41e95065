package zmtp

// ErrProtocol is the class of every error that means the peer broke ZMTP
// (RFC 23/37): a bad greeting, a malformed frame or command, an ERROR
// command. Each specific error below matches both itself and ErrProtocol
// under errors.Is, so a caller classifies a failed handshake with one check
// and a new error of this package cannot be forgotten by that check.
var ErrProtocol = &protocolError{msg: "zmtp: protocol error"}

// protocolError is a sentinel of the ErrProtocol class.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

// Is makes every protocolError match ErrProtocol (and, by identity, itself).
func (e *protocolError) Is(target error) bool { return target == ErrProtocol }

// protocolErr returns a new sentinel of the ErrProtocol class.
func protocolErr(msg string) error { return &protocolError{msg: msg} }
