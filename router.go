// ROUTER: routing ids (announced, generated, handed over), sends
// addressed by the first frame, and the id prefix on received messages.
package zmq

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
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
		s.mu.Lock() // not lockOpen, which is not inlined: a hot path
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
		ok, wake := p.out.pushQuiet(body)
		s.mu.Unlock()
		if wake {
			s.wakeWriter(ctx, p)
		}
		if ok || !s.opts.routerMandatory {
			return nil
		}
		if err := w.wait(ctx, s); err != nil {
			return err
		}
	}
}

// attachRouter gives a new peer its routing id: the one it announced, or a
// generated one. Under s.mu.
func (s *Socket) attachRouter(p *pipe, pi peerInfo, _ bool) error {
	id := pi.identity
	if len(id) == 0 {
		id = s.generateIDLocked()
	} else if id[0] == 0 {
		// 0x00 is the generated ids' space: a peer announcing one could
		// take the id the next anonymous peer is about to get.
		return fmt.Errorf("%w: announced id %x starts with 0x00, reserved for generated ids", ErrRoutingID, id)
	} else if old := s.byID[string(id)]; old != nil {
		if !s.opts.routerHandover {
			return fmt.Errorf("%w: announced id %q is already in use", ErrRoutingID, id)
		}
		// The newcomer takes the id over; the old connection goes.
		delete(s.byID, string(id))
		old.id = nil
		if old.conn != nil {
			go old.conn.close()
		}
	}
	p.id = slices.Clip(append([]byte(nil), id...))
	s.byID[string(p.id)] = p
	return nil
}

// detachRouter frees a departed peer's routing id. Under s.mu.
func (s *Socket) detachRouter(p *pipe) {
	if p.id != nil && s.byID[string(p.id)] == p {
		delete(s.byID, string(p.id))
	}
}

// idFrames is how many frames withRoutingID puts in front of a received
// message: the routing id on a ROUTER, nothing on other types.
func (s *Socket) idFrames() int {
	if s.ops.routingIDs {
		return 1
	}
	return 0
}

// withRoutingID puts a received message's frames behind the routing id of
// the pipe they came from, on a ROUTER: the one place that adds the prefix
// (tcp and ipc reads, inproc, truncated messages). It copies into dst, of
// length idFrames()+len(frames); with dst nil it allocates one, except on
// other types, which then get frames as they are.
func (s *Socket) withRoutingID(p *pipe, frames, dst [][]byte) [][]byte {
	n := s.idFrames()
	if dst == nil {
		if n == 0 {
			return frames
		}
		dst = make([][]byte, n+len(frames))
	}
	if n == 1 {
		dst[0] = p.id
	}
	copy(dst[n:], frames)
	return dst
}
