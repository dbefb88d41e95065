// ROUTER: routing ids (announced, generated, handed over), sends
// addressed by the first frame, and the id prefix on received messages.
package zmq

import (
	"context"
	"encoding/binary"
	"fmt"
)

// generateIDLocked returns a fresh routing id for an anonymous peer: 0x00
// and a 32-bit counter (as libzmq), skipping any id still held, so that a
// wrapped counter can never hand out a live peer's id. Guarded by s.mu.
func (s *Socket) generateIDLocked() []byte {
	b := make([]byte, 5)
	for {
		binary.BigEndian.PutUint32(b[1:], s.nextID)
		s.nextID++
		if _, live := s.byID[string(b)]; !live {
			return b
		}
	}
}

func (s *Socket) sendRouter(ctx context.Context, m Msg) error {
	if len(m.Frames) < 2 {
		return fmt.Errorf("%w: ROUTER needs a routing id frame and a body", ErrEmptyMsg)
	}
	id := m.Frames[0]
	body := Msg{Frames: m.Frames[1:], rx: m.rx, rxGen: m.rxGen}
	var w waitTicket
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		p := s.byID[string(id)]
		if p == nil {
			s.mu.Unlock()
			if s.opts.routerMandatory {
				return fmt.Errorf("%w: %x", ErrHostUnreachable, id)
			}
			return nil
		}
		ok := p.out.push(body)
		s.mu.Unlock()
		if ok || !s.opts.routerMandatory {
			return nil
		}
		if err := w.wait(ctx, s); err != nil {
			return err
		}
	}
}
