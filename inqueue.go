package zmq

import "context"

// Inbound fair queueing (libzmq's fq_t): every pipe keeps its own queue of
// received messages, bounded by the receive high-water mark, and Recv takes
// one message at a time from each pipe that has any, in turn, so a busy peer
// cannot starve a quiet one. Guarded by Socket.inMu.

// inRing is one pipe's queue of received messages.
type inRing struct {
	ring   []Msg
	head   int
	n      int
	active bool          // listed in Socket.active
	space  chan struct{} // closed when a full queue gets room; nil if nobody waits
}

func (r *inRing) push(m Msg) {
	if r.n == len(r.ring) {
		n := len(r.ring) * 2
		if n == 0 {
			n = 8
		}
		nr := make([]Msg, n)
		for i := 0; i < r.n; i++ {
			nr[i] = r.ring[(r.head+i)%len(r.ring)]
		}
		r.ring, r.head = nr, 0
	}
	r.ring[(r.head+r.n)%len(r.ring)] = m
	r.n++
}

func (r *inRing) pop() Msg {
	m := r.ring[r.head]
	r.ring[r.head] = Msg{}
	r.head = (r.head + 1) % len(r.ring)
	r.n--
	return m
}

// enqueue adds a received message to p's queue, waiting while the queue is at
// the receive high-water mark (so TCP pushes back on the peer). force skips
// the mark, for the few messages the socket makes itself. from is the
// connection m came on (nil for those): p.conn may not be read here, it is
// guarded by Socket.mu. It reports false if quit closed first.
func (s *Socket) enqueue(p *pipe, m Msg, from *conn, quit <-chan struct{}, force bool) bool {
	if s.opts.handler != nil {
		s.handle(m)
		return true
	}
	limit := s.opts.recvHWM
	s.inMu.Lock()
	if s.opts.conflate && !force && p.in.n > 0 {
		// Only the newest message counts (ZMQ_CONFLATE).
		p.in.ring[(p.in.head+p.in.n-1)%len(p.in.ring)] = m
		s.inMu.Unlock()
		return true
	}
	for !force && limit > 0 && p.in.n >= limit {
		if p.in.space == nil {
			p.in.space = make(chan struct{})
		}
		space := p.in.space
		s.inMu.Unlock()
		select {
		case <-space:
		case <-quit:
			return false
		case <-s.done:
			// Nobody will read any more; drop it and keep the connection
			// alive for the linger period.
			return true
		}
		s.inMu.Lock()
	}
	p.in.push(m)
	if !p.in.active {
		p.in.active = true
		s.active = append(s.active, p)
	}
	wake := s.recvWaiters > 0
	s.inMu.Unlock()
	if wake {
		signal(s.inNotify)
	}
	if from != nil {
		s.kickDirect(from) // a REQ/REP receiver may be reading another connection (reqrep.go)
	}
	return true
}

// enqueueBatch is enqueue of several messages for p, without force and
// without conflation, under one lock while they fit below the high-water
// mark; at the mark it waits as enqueue does.
func (s *Socket) enqueueBatch(p *pipe, msgs []Msg, from *conn, quit <-chan struct{}) bool {
	if s.opts.handler != nil {
		s.handleBatch(msgs)
		return true
	}
	limit := s.opts.recvHWM
	for len(msgs) > 0 {
		s.inMu.Lock()
		k := 0
		for ; k < len(msgs) && (limit <= 0 || p.in.n < limit); k++ {
			p.in.push(msgs[k])
		}
		if k > 0 && !p.in.active {
			p.in.active = true
			s.active = append(s.active, p)
		}
		wake := k > 0 && s.recvWaiters > 0
		s.inMu.Unlock()
		if wake {
			signal(s.inNotify)
		}
		if k > 0 && from != nil {
			s.kickDirect(from)
		}
		if msgs = msgs[k:]; len(msgs) > 0 { // at the mark
			if !s.enqueue(p, msgs[0], from, quit, false) {
				return false
			}
			msgs = msgs[1:]
		}
	}
	return true
}

// recv takes the next message in fair-queue order, waiting for one, and
// sets *from (if from is not nil) to the pipe it came from. (Returning the
// pipe too would pass the results on the stack: a Msg is 7 words.)
func (s *Socket) recv(ctx context.Context, from **pipe) (Msg, error) {
	for {
		s.inMu.Lock()
		if len(s.active) > 0 {
			p := s.active[0]
			wasFull := s.opts.recvHWM > 0 && p.in.n >= s.opts.recvHWM
			m := p.in.pop()
			if p.in.n > 0 {
				// Next turn goes to the next pipe with messages.
				copy(s.active, s.active[1:])
				s.active[len(s.active)-1] = p
			} else {
				p.in.active = false
				copy(s.active, s.active[1:])
				s.active[len(s.active)-1] = nil
				s.active = s.active[:len(s.active)-1]
			}
			if wasFull && p.in.space != nil {
				close(p.in.space)
				p.in.space = nil
			}
			// Pass the wake-up on if another receiver waits and more is there.
			more := len(s.active) > 0 && s.recvWaiters > 0
			s.inMu.Unlock()
			if more {
				signal(s.inNotify)
			}
			if from != nil {
				*from = p
			}
			return m, nil
		}
		s.inMu.Unlock()
		if s.ops.direct { // read the connection here (reqrep.go)
			if ok, err := s.recvDirect(ctx); err != nil {
				return Msg{}, err
			} else if ok {
				continue
			}
		}
		s.inMu.Lock()
		if len(s.active) > 0 {
			s.inMu.Unlock()
			continue
		}
		s.recvWaiters++
		s.inMu.Unlock()
		var err error
		select {
		case <-s.inNotify:
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.done:
			err = ErrClosed
		}
		s.inMu.Lock()
		s.recvWaiters--
		s.inMu.Unlock()
		if err != nil {
			return Msg{}, err
		}
	}
}

// lockRecv serialises REQ and REP receivers, whose state check and take
// must be one step.
func (s *Socket) lockRecv(ctx context.Context) error {
	return lock(ctx, s.recvSem, s.done)
}

func (s *Socket) unlockRecv() { <-s.recvSem }

// lockSend serialises REQ senders, whose state check and send must be one
// step, without holding a lock while the send waits for room.
func (s *Socket) lockSend(ctx context.Context) error {
	return lock(ctx, s.sendSem, s.done)
}

func (s *Socket) unlockSend() { <-s.sendSem }

// lock takes the one-slot semaphore sem, waiting until ctx or done. It
// tries first without waiting, so a free semaphore is taken even with a
// done ctx (TrySend, TryRecv), where select would choose at random.
func lock(ctx context.Context, sem chan struct{}, done <-chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return ErrClosed
	}
}
