// PAIR: one peer, round-robin sends to it (loadbalance.go), received
// messages queued as they come.
package zmq

import "fmt"

// attachPair refuses a second peer on a bound PAIR.
func (s *Socket) attachPair(_ *pipe, _ peerInfo, accepted bool) error {
	if accepted && len(s.pipes) > 0 {
		return fmt.Errorf("%w: PAIR already has its peer", ErrState)
	}
	return nil
}
