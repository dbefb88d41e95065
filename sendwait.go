// Senders waiting for room: a full queue drains or a pipe attaches, and
// wake lets every blocked Send try again (see Socket.wmu).
package zmq

import (
	"context"
	"slices"
)

// wake releases senders blocked on full queues or missing peers.
func (s *Socket) wake() {
	s.wmu.Lock()
	s.wgen++
	for _, c := range s.waiting {
		signal(c)
	}
	clear(s.waiting)
	s.waiting = s.waiting[:0]
	s.wmu.Unlock()
}

// sendTicket is taken after a failed send attempt and before the retry
// that precedes block (waitTicket), so a wake in between is not lost.
func (s *Socket) sendTicket() uint64 {
	s.wmu.Lock()
	t := s.wgen
	s.wmu.Unlock()
	return t
}

// block waits for a wake after ticket t, ctx or Close. Each blocked sender
// waits on a one-slot channel of its own, reused from wait to wait: a
// channel closed per wake cost an allocation every time a sender met a full
// queue, which at 64 KiB was every few messages.
func (s *Socket) block(ctx context.Context, t uint64) error {
	s.wmu.Lock()
	if s.wgen != t {
		s.wmu.Unlock()
		return nil
	}
	var c chan struct{}
	if n := len(s.spareCh); n > 0 {
		c = s.spareCh[n-1]
		s.spareCh = s.spareCh[:n-1]
	} else {
		c = make(chan struct{}, 1)
	}
	s.waiting = append(s.waiting, c)
	s.wmu.Unlock()
	var err error
	select {
	case <-c:
	case <-ctx.Done():
		err = ctx.Err()
	case <-s.done:
		err = ErrClosed
	}
	s.wmu.Lock()
	if i := slices.Index(s.waiting, c); i >= 0 { // gave up before a wake
		s.waiting = slices.Delete(s.waiting, i, i+1)
	}
	select { // a wake may have come with ctx or Close
	case <-c:
	default:
	}
	s.spareCh = append(s.spareCh, c)
	s.wmu.Unlock()
	return err
}

// waitTicket makes a sender that found no room try once more after taking
// a wake ticket before it blocks, so a wake in between is never lost, while
// the common case (room at once) takes no ticket and no extra lock.
type waitTicket struct {
	t    uint64
	have bool
}

// wait is called after a failed try: the first time it takes a ticket and
// returns at once (try again); then it blocks until a wake after the ticket.
func (w *waitTicket) wait(ctx context.Context, s *Socket) error {
	if !w.have {
		w.t, w.have = s.sendTicket(), true
		return nil
	}
	w.have = false
	return s.block(ctx, w.t)
}
