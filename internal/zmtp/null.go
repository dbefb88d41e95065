package zmtp

import (
	"fmt"
)

// MechNull is the NULL mechanism's name.
const MechNull = "NULL"

// ErrPeerError means the peer sent an ERROR command during the handshake.
var ErrPeerError = protocolErr("zmtp: peer sent ERROR")

// Mechanism drives a security handshake one command at a time. The caller
// sends what Start returns, then feeds each command it receives to Next until
// done. It never touches the connection itself.
type Mechanism interface {
	// Name is the mechanism name carried in the greeting.
	Name() string
	// Start returns the command frames (encoded, with headers) to send first.
	Start(dst []byte) ([]byte, error)
	// Next consumes one received command frame body and returns frames to send.
	Next(dst []byte, body []byte) (out []byte, done bool, err error)
	// PeerMetadata is the peer's metadata, valid once done.
	PeerMetadata() Metadata
}

// Null is the NULL mechanism (RFC 23): each side sends READY with its
// metadata at once and waits for the peer's READY.
type Null struct {
	Local Metadata
	peer  Metadata
}

func (m *Null) Name() string { return MechNull }

func (m *Null) Start(dst []byte) ([]byte, error) { return AppendReady(dst, m.Local), nil }

func (m *Null) Next(dst []byte, body []byte) ([]byte, bool, error) {
	name, data, err := ParseCommand(body)
	if err != nil {
		return dst, false, err
	}
	switch string(name) {
	case CmdReady:
		md, err := ParseMetadata(data)
		if err != nil {
			return dst, false, err
		}
		m.peer = md
		return dst, true, nil
	case CmdError:
		reason, err := ParseError(data)
		if err != nil {
			return dst, false, err
		}
		return dst, false, fmt.Errorf("%w: %q", ErrPeerError, reason)
	default:
		return dst, false, fmt.Errorf("%w: unexpected %q during NULL handshake", ErrMalformedCommand, name)
	}
}

func (m *Null) PeerMetadata() Metadata { return m.peer }
