package zmq

import (
	"errors"
	"fmt"
	"testing"

	"github.com/zmqgo/zmq/internal/zmtp"
)

// serve classifies a failed handshake with errors.Is(err, zmtp.ErrProtocol):
// every protocol failure must match it, and nothing else.
func TestHandshakeProtocolClass(t *testing.T) {
	for _, e := range []error{ErrProtocol, ErrIncompatiblePeer, errMechanism, zmtp.ErrNotZMTP, zmtp.ErrMalformedCommand, zmtp.ErrCryptographic} {
		if !errors.Is(fmt.Errorf("zmq: handshake with x: %w", e), zmtp.ErrProtocol) {
			t.Errorf("%v: not in the protocol class", e)
		}
	}
	for _, e := range []error{ErrAuthFailed, ErrClosed, ErrState, zmtp.ErrAuthRejected} {
		if errors.Is(e, zmtp.ErrProtocol) {
			t.Errorf("%v: in the protocol class", e)
		}
	}
	if errors.Is(ErrIncompatiblePeer, ErrProtocol) || errors.Is(zmtp.ErrNotZMTP, ErrProtocol) {
		t.Error("the class check must not change what matches the public ErrProtocol")
	}
}
