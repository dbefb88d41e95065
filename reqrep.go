// REQ and REP: the envelope and the strict send/receive alternation, and
// the direct read (the baton, below) through which a REQ/REP receiver reads
// its connection itself instead of waiting for the reader goroutine.
package zmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"time"
)

// Direct reads, for REQ and REP over tcp and ipc. A message read by the
// connection's readLoop goroutine must then wake the goroutine waiting in
// Recv: a hand-off for which the Go runtime wakes a second thread, tens of
// µs on small VMs and most of a REQ/REP round trip. So a REQ or REP
// receiver with one peer and nothing queued reads that connection itself:
// it waits in the network poller, and the reply wakes it directly.
//
// Reading belongs to whoever holds the connection's baton. Normally that
// is the readLoop. A receiver takes it by asking and then kicking the loop
// out of its read with a read deadline in the past (the reader goes on
// later where it stopped, see readMessage); after its message the receiver
// leaves the baton parked, so that the next Recv, moments later in a
// request-reply exchange, takes it without a kick. If no receiver comes back
// within batonIdle (at most twice that, see idleReturn), the loop takes the
// baton back, so PINGs, disconnects and queued messages are still read while
// the application is away.

const batonIdle = 5 * time.Millisecond

const (
	batonLoop   = iota // the readLoop reads, or may
	batonParked        // nobody reads; a receiver may take it
	batonRecv          // a receiver reads
)

// baton.mu guards state, want, err, armed and parked.
type baton struct {
	mu     mutex[rankBaton]
	state  int
	want   bool          // a receiver waits for the loop to let go
	err    error         // a receiver's read failed: the loop returns it
	loopCh chan struct{} // cap 1: the baton is the loop's again
	recvCh chan struct{} // cap 1: the loop let go for the receiver
	idle   *time.Timer   // gives a parked baton back to the loop
	armed  bool          // idle is pending
	parked time.Time     // when the baton was last parked
	nc     net.Conn
}

// aLongTimeAgo, as a read deadline, ends a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

func newBaton(nc net.Conn) *baton {
	b := &baton{nc: nc, loopCh: make(chan struct{}, 1), recvCh: make(chan struct{}, 1)}
	b.idle = time.AfterFunc(time.Hour, b.idleReturn)
	b.idle.Stop()
	return b
}

// idleReturn gives the baton back to the loop once it has been parked for
// batonIdle. Receivers never touch the timer on their way (arming a timer
// can wake the thread waiting in the network poller, the very cost direct
// reads avoid): it re-arms itself while the baton is away from the loop,
// firing every batonIdle, and looks at when the baton was last parked.
func (b *baton) idleReturn() {
	b.mu.Lock()
	if b.state == batonLoop {
		b.armed = false
		b.mu.Unlock()
		return
	}
	if b.state == batonRecv || b.want {
		b.idle.Reset(batonIdle)
		b.mu.Unlock()
		return
	}
	if wait := batonIdle - time.Since(b.parked); wait > 0 {
		b.idle.Reset(wait)
		b.mu.Unlock()
		return
	}
	b.armed = false
	b.state = batonLoop
	b.mu.Unlock()
	signal(b.loopCh)
}

// park leaves the baton for the next receiver (or, after batonIdle, the loop).
func (b *baton) park() {
	b.mu.Lock()
	b.state = batonParked
	b.parked = time.Now()
	if !b.armed {
		b.armed = true
		b.idle.Reset(batonIdle)
	}
	b.mu.Unlock()
}

// acquireLoop returns when the readLoop may read, handing the baton over
// first if a receiver asked for it.
func (b *baton) acquireLoop(c *conn) error {
	for {
		b.mu.Lock()
		if b.err != nil {
			err := b.err
			b.mu.Unlock()
			return err
		}
		if b.state == batonLoop {
			if !b.want {
				b.mu.Unlock()
				return nil
			}
			b.want, b.state = false, batonParked
			b.mu.Unlock()
			signal(b.recvCh)
			continue
		}
		b.mu.Unlock()
		select {
		case <-b.loopCh:
		case <-c.quit:
			return net.ErrClosed
		}
	}
}

// loopInterrupted reports whether the loop's read error was a kick (or a
// stale one): the loop then goes on, handing the baton over if asked.
func (b *baton) loopInterrupted(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	b.nc.SetReadDeadline(time.Time{})
	b.mu.Lock()
	if b.want {
		b.want, b.state = false, batonParked
		b.mu.Unlock()
		signal(b.recvCh)
		return true
	}
	b.mu.Unlock()
	return true
}

// directConn is the connection a REQ or REP receiver may read itself: the
// only one attached, tcp or ipc.
func (s *Socket) directConn() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pipes) != 1 {
		return nil
	}
	if c := s.pipes[0].conn; c != nil && c.bt != nil {
		return c
	}
	return nil
}

// recvDirect reads one message from the socket's only connection in the
// calling goroutine and queues it, as the readLoop would have. It reports
// false if it could not (the caller then waits as usual).
func (s *Socket) recvDirect(ctx context.Context) (bool, error) {
	if ctx.Err() != nil { // TryRecv: leave reading to the loop
		return false, nil
	}
	c := s.directConn()
	if c == nil {
		return false, nil
	}
	b := c.bt
	b.mu.Lock()
	switch b.state {
	case batonParked:
		b.state = batonRecv
		b.mu.Unlock()
	case batonLoop:
		b.want = true
		b.mu.Unlock()
		b.nc.SetReadDeadline(aLongTimeAgo)
		for taken := false; !taken; {
			select {
			case <-b.recvCh:
			case <-ctx.Done():
				b.withdraw()
				return false, ctx.Err()
			case <-c.quit:
				b.withdraw()
				return false, nil
			case <-s.done:
				b.withdraw()
				return false, ErrClosed
			}
			b.mu.Lock()
			if taken = b.state == batonParked && !b.want; taken { // else a stale token: wait on
				b.state = batonRecv
			}
			b.mu.Unlock()
		}
	default:
		b.mu.Unlock()
		return false, nil
	}
	// From here a message that another connection queues kicks us out of
	// the read (Socket.enqueue), so check the queue after announcing it.
	b.nc.SetReadDeadline(time.Time{})
	s.direct.Store(c)
	defer s.direct.Store(nil)
	if s.queued() {
		b.park()
		return true, nil
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { b.nc.SetReadDeadline(aLongTimeAgo) })
		defer stop()
	}
	for {
		m, err := c.readMessage()
		if err == nil {
			s.direct.Store(nil)
			s.deliver(c, m)
			b.park()
			return true, nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Cancelled, or kicked: a message came on another connection
			// (or the kick is stale). Reset first, so a later kick holds.
			b.nc.SetReadDeadline(time.Time{})
			if err := ctx.Err(); err != nil {
				b.park()
				return false, err
			}
			if s.queued() {
				b.park()
				return true, nil
			}
			continue
		}
		// The connection failed: the loop reports it and tears it down.
		b.mu.Lock()
		b.err, b.state = err, batonLoop
		b.mu.Unlock()
		signal(b.loopCh)
		return false, nil
	}
}

// queued reports whether Recv has a message waiting.
func (s *Socket) queued() bool {
	s.inMu.Lock()
	q := len(s.active) > 0
	s.inMu.Unlock()
	return q
}

// kickDirect interrupts a receiver reading another connection than from
// (a message from "from" was just queued).
func (s *Socket) kickDirect(from *conn) {
	if d := s.direct.Load(); d != nil && d != from {
		d.bt.nc.SetReadDeadline(aLongTimeAgo)
	}
}

// withdraw cancels a receiver's request for the baton; if the loop already
// let go, the baton goes back to it.
func (b *baton) withdraw() {
	b.mu.Lock()
	b.want = false
	back := b.state == batonParked
	if back {
		b.state = batonLoop
	}
	b.mu.Unlock()
	select {
	case <-b.recvCh:
	default:
	}
	if back {
		signal(b.loopCh)
	}
}

var emptyFrame = []byte{}

// sendReq sends a request. Senders take turns (lockSend, honouring ctx);
// stateMu is held only to look at and set the state, never while the send
// waits for room, so Recv and TrySend from other goroutines never wait
// behind a blocked Send.
func (s *Socket) sendReq(ctx context.Context, m Msg) error {
	if err := s.lockSend(ctx); err != nil {
		return err
	}
	defer s.unlockSend()
	s.stateMu.Lock()
	pending := s.reqPending
	s.stateMu.Unlock()
	if pending {
		return fmt.Errorf("%w: REQ must receive the reply before sending again", ErrState)
	}
	frames := make([][]byte, 1+len(m.Frames))
	frames[0] = emptyFrame
	copy(frames[1:], m.Frames)
	p, err := s.sendRRPipe(ctx, Msg{Frames: frames}, true)
	if err != nil {
		return err
	}
	s.stateMu.Lock()
	s.reqPipe, s.reqPending = p, true
	s.stateMu.Unlock()
	return nil
}

func (s *Socket) sendRep(_ context.Context, m Msg) error {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if !s.repPending {
		return fmt.Errorf("%w: REP must receive a request before sending", ErrState)
	}
	frames := make([][]byte, 0, len(s.repEnv)+len(m.Frames))
	frames = append(frames, s.repEnv...)
	frames = append(frames, m.Frames...)
	p := s.repPipe
	s.repPipe, s.repEnv, s.repPending = nil, nil, false
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	reply := Msg{Frames: frames}
	if c := p.conn; c.inlineOK(reply) { // see sendRRPipe
		_, claimed, epoch := p.out.pushInline(reply)
		s.mu.Unlock()
		if claimed {
			c.writeInline(reply, epoch)
		}
		return nil
	}
	// The requester may be gone; its reply then has nowhere to go (as libzmq).
	if p.conn != nil || p.persistent && slices.Contains(s.pipes, p) {
		p.out.push(reply)
	}
	s.mu.Unlock()
	return nil
}

func (s *Socket) recvReq(ctx context.Context) (Msg, error) {
	if err := s.lockRecv(ctx); err != nil {
		return Msg{}, err
	}
	defer s.unlockRecv()
	s.stateMu.Lock()
	pending, want := s.reqPending, s.reqPipe
	s.stateMu.Unlock()
	if !pending {
		return Msg{}, fmt.Errorf("%w: REQ must send a request before receiving", ErrState)
	}
	for {
		var p *pipe
		m, err := s.recv(ctx, &p)
		if err != nil {
			return Msg{}, err
		}
		// Only the peer we asked may answer, and only behind the delimiter.
		if p != want || len(m.Frames) < 2 && m.Truncated == 0 || len(m.Frames) == 0 || len(m.Frames[0]) != 0 {
			s.opts.logger.Debug("zmq: REQ dropped a reply it did not expect")
			continue
		}
		s.stateMu.Lock()
		s.reqPending, s.reqPipe = false, nil
		s.stateMu.Unlock()
		return Msg{Frames: m.Frames[1:], Truncated: m.Truncated, meta: m.meta, rx: m.rx, rxGen: m.rxGen}, nil
	}
}

func (s *Socket) recvRep(ctx context.Context) (Msg, error) {
	if err := s.lockRecv(ctx); err != nil {
		return Msg{}, err
	}
	defer s.unlockRecv()
	s.stateMu.Lock()
	pending := s.repPending
	s.stateMu.Unlock()
	if pending {
		return Msg{}, fmt.Errorf("%w: REP must send the reply before receiving again", ErrState)
	}
	for {
		var p *pipe
		m, err := s.recv(ctx, &p)
		if err != nil {
			return Msg{}, err
		}
		// The envelope is everything up to and including the first empty frame.
		i := slices.IndexFunc(m.Frames, func(f []byte) bool { return len(f) == 0 })
		if i < 0 {
			s.opts.logger.Debug("zmq: REP dropped a request without an envelope delimiter")
			continue
		}
		s.stateMu.Lock()
		s.repPipe, s.repEnv, s.repPending = p, m.Frames[:i+1], true
		s.stateMu.Unlock()
		return Msg{Frames: m.Frames[i+1:], Truncated: m.Truncated, meta: m.meta, rx: m.rx, rxGen: m.rxGen}, nil
	}
}
