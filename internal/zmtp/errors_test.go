package zmtp

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorsAreProtocolErrors(t *testing.T) {
	all := []error{ErrMalformedCommand, ErrMalformedMetadata, ErrFrameTooLarge, ErrCommandMore,
		ErrBadSignature, ErrNotZMTP, ErrOldVersion, ErrBadMechanism, ErrPeerError, ErrCryptographic, ErrNonce}
	for i, e := range all {
		wrapped := fmt.Errorf("context: %w", e)
		if !errors.Is(wrapped, ErrProtocol) {
			t.Errorf("%v: does not match ErrProtocol", e)
		}
		if !errors.Is(wrapped, e) {
			t.Errorf("%v: does not match itself", e)
		}
		for j, other := range all[:9] { // the first nine are independent
			if i != j && i < 9 && errors.Is(e, other) {
				t.Errorf("%v matches %v", e, other)
			}
		}
	}
	if errors.Is(ErrAuthRejected, ErrProtocol) {
		t.Error("ErrAuthRejected is an authentication error, not a protocol error")
	}
	if errors.Is(errors.New("zmtp: malformed command"), ErrMalformedCommand) {
		t.Error("an equal message is not the sentinel")
	}
}
