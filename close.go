package zmq

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Closing. libzmq's zmq_close returns at once and leaves queued messages to
// zmq_ctx_term, which waits for them without limit by default: a program
// whose peer never comes hangs at exit. A Go program has no context to
// terminate, and a deferred Close must not hang it, so:
//
//   - Close waits for queued outgoing messages only while they can be
//     written: for a queue whose connection is up, or whose connected
//     endpoint is still making its first (or current) attempt. A refused or
//     unresolvable connection, a failed handshake or a lost connection ends
//     the wait for that queue at once. And it waits at most the linger
//     (WithLinger, default DefaultLinger).
//   - Shutdown waits until every queued message is written, through
//     reconnections, or until its context is done, and then reports what it
//     could not write (*UndeliveredError).

// DefaultLinger is how long Close waits at most for queued messages to be
// written when WithLinger is not given. libzmq's default is to wait for
// ever; a bound keeps a peer that accepts a connection but never reads
// from holding a closing program.
const DefaultLinger = 30 * time.Second

// UndeliveredError reports messages that Shutdown dropped. "Delivered"
// means written to a peer's connection: ZMTP has no acknowledgements.
type UndeliveredError struct {
	// Messages is how many queued messages were dropped.
	Messages int
	// Connected reports whether any peer ever completed a handshake with
	// the socket. False with a Cause from a handshake means peers were
	// reached but refused (wrong key, incompatible type...).
	Connected bool
	// Cause is the last failed connection attempt or handshake (an unknown
	// host, a refused connection, ErrAuthFailed...), nil if there was none.
	Cause error
	// Err is what ended the wait: the context's error, or nil if Shutdown
	// stopped because nothing could be written any more.
	Err error
}

func (e *UndeliveredError) Error() string {
	msg := fmt.Sprintf("zmq: %d message(s) not delivered", e.Messages)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if !e.Connected {
		msg += ": no peer ever completed a handshake"
	}
	if e.Cause != nil {
		msg += " (last attempt: " + e.Cause.Error() + ")"
	}
	return msg
}

// Unwrap lets errors.Is find ErrUndelivered, the context's error and the
// cause.
func (e *UndeliveredError) Unwrap() []error {
	errs := []error{ErrUndelivered}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// Close closes the socket. Blocked Send and Recv calls return ErrClosed at
// once. Queued outgoing messages get up to the linger time (WithLinger,
// default DefaultLinger) to be written, but only while they can be: Close
// does not wait for a queue whose peer is not connected and not being
// connected to (the connection was refused, its host is unknown, its
// handshake failed, or it broke). Then every connection is closed, and
// Close returns once every goroutine of the socket has ended. Close does
// not report dropped messages; Shutdown does.
func (s *Socket) Close() error {
	_, err := s.close(nil)
	return err
}

// Shutdown closes the socket as Close does, but first waits until every
// queued outgoing message has been written to a peer, reconnecting as
// needed, or until ctx is done, whatever the linger. It returns nil if
// everything was written, and otherwise an *UndeliveredError (matching
// ErrUndelivered and ctx's error) saying how many messages were dropped and
// the last connection or handshake failure. On a closed socket it returns
// ErrClosed.
func (s *Socket) Shutdown(ctx context.Context) error {
	left, err := s.close(ctx)
	if err != nil {
		return err
	}
	if left == 0 {
		return nil
	}
	s.mu.Lock()
	e := &UndeliveredError{Messages: left, Connected: s.everConnected, Cause: s.connErr, Err: ctx.Err()}
	s.mu.Unlock()
	return e
}

// close closes the socket after draining its queues: by Close's rule if
// ctx is nil, else until ctx is done. It returns how many messages were
// left queued.
func (s *Socket) close(ctx context.Context) (int, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	s.closed = true
	close(s.done)
	// Free inproc names at once, so a connecting peer stops linking to us.
	for _, l := range s.listeners {
		if l.l == nil {
			inprocUnbind(l.resolved[len("inproc://"):], s)
		}
	}
	lns := make([]*listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		lns = append(lns, l)
	}
	pipes := slices.Clone(s.pipes)
	for _, d := range s.dialers {
		if !slices.Contains(pipes, d.p) {
			pipes = append(pipes, d.p)
		}
	}
	s.mu.Unlock()
	for _, l := range lns {
		l.stop(s)
	}
	s.drain(ctx, pipes)
	left := 0
	for _, p := range pipes {
		left += p.out.len()
	}
	close(s.kill)
	s.mu.Lock()
	var conns []*conn
	for _, l := range s.listeners {
		for c := range l.conns {
			conns = append(conns, c)
		}
	}
	for _, l := range lns {
		for c := range l.conns {
			conns = append(conns, c)
		}
	}
	for _, d := range s.dialers {
		close(d.stop)
		if d.conn != nil {
			conns = append(conns, d.conn)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	s.stopHandlers() // inproc peers call them from their own goroutines
	for _, l := range lns {
		s.emit(Event{Type: EventClosed, Endpoint: l.resolved})
	}
	s.stopMonitors()
	return left, nil
}

// drain waits until every pipe's queue is written out: with ctx nil, by
// Close's rule (while writable, within the linger); else until ctx is done.
func (s *Socket) drain(ctx context.Context, pipes []*pipe) {
	var deadline <-chan time.Time
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	} else {
		if s.opts.linger == 0 {
			return
		}
		if s.opts.linger > 0 {
			t := time.NewTimer(s.opts.linger)
			defer t.Stop()
			deadline = t.C
		}
	}
	for _, p := range pipes {
		for !p.out.empty() {
			if ctx == nil && !s.writable(p) {
				break
			}
			select {
			case <-p.out.idle:
			case <-s.linkCh: // a connection went or an attempt failed: look again
			case <-deadline:
				return
			case <-done:
				return
			}
		}
	}
}

// writable reports whether p's queue can be written now or soon: its
// connection is up, or its endpoint's connection attempt is under way.
func (s *Socket) writable(p *pipe) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.conn != nil {
		return true
	}
	for _, d := range s.dialers {
		if d.p == p {
			return d.trying
		}
	}
	return false
}

// attemptStarted and attemptEnded track a dialer's connection attempts for
// Close (writable) and Shutdown (the cause it reports).
func (s *Socket) attemptStarted(d *dialer) {
	s.mu.Lock()
	d.trying = true
	s.mu.Unlock()
}

func (s *Socket) attemptEnded(d *dialer, err error) {
	s.mu.Lock()
	d.trying = false
	if err != nil && !s.killed() { // not an attempt Close itself cut short
		s.connErr = err
	}
	s.mu.Unlock()
	signal(s.linkCh)
}
