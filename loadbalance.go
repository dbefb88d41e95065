// Round-robin sends (libzmq's lb_t): PUSH, DEALER, PAIR and REQ queue each
// message on the next pipe in turn that has room.
package zmq

import "context"

// sendRR queues m on the next pipe in turn that has room (libzmq's lb_t),
// waiting while none has.
func (s *Socket) sendRR(ctx context.Context, m Msg) error {
	_, err := s.sendRRPipe(ctx, m, false)
	return err
}

// sendRRPipe is sendRR reporting the pipe that took m. With inline, a
// small m bound for an idle connection is written from this goroutine
// (conn.writeInline): REQ and REP alternate strictly, so their queues are
// nearly always empty and the hand-off to the writer is pure latency, while
// streaming sockets keep the writer, which batches.
func (s *Socket) sendRRPipe(ctx context.Context, m Msg, inline bool) (*pipe, error) {
	var w waitTicket
	for {
		s.mu.Lock() // not lockOpen: this is the hottest path, and lockOpen is not inlined
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		n := len(s.pipes)
		for i := 0; i < n; i++ {
			k := (s.rr + i) % n
			p := s.pipes[k]
			if c := p.conn; inline && c.inlineOK(m) {
				ok, claimed, epoch := p.out.pushInline(m)
				if ok {
					s.rr = (k + 1) % n
					s.mu.Unlock()
					if claimed {
						c.writeInline(m, epoch)
					}
					return p, nil
				}
				continue
			}
			if ok, wake := p.out.pushQuiet(m); ok {
				s.rr = (k + 1) % n
				s.mu.Unlock()
				if wake {
					s.wakeWriter(ctx, p)
				}
				return p, nil
			}
		}
		s.mu.Unlock()
		if err := w.wait(ctx, s); err != nil {
			return nil, err
		}
	}
}

// deliverNowhere drops what a PUSH receives: its peers only take.
func (s *Socket) deliverNowhere(*conn, Msg) bool { return true }
