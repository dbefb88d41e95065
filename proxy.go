package zmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Proxy connects frontend and backend (zmq_proxy): every message received
// on one is sent on the other, both ways, whole multipart messages at a
// time, and capture, if not nil, gets a copy of each before it is
// forwarded. The usual pairs are ROUTER/DEALER (a shared queue between
// clients and workers), XSUB/XPUB (a forwarder: data flows from XSUB to
// XPUB, subscriptions from XPUB back to XSUB) and PULL/PUSH (a streamer).
//
// Proxy returns ctx.Err() when ctx is done, or an error wrapping ErrClosed
// when one of the sockets is closed, or the first other Send or Recv error
// (for example ErrHostUnreachable from a ROUTER with RouterMandatory), as
// zmq_proxy returns -1. It never closes the sockets itself.
//
// See SteerableProxy for the details: the direction rules, flow control,
// REQ/REP, capture, and pausing, resuming and statistics.
func Proxy(ctx context.Context, frontend, backend, capture *Socket) error {
	return NewSteerableProxy(frontend, backend, capture).Run(ctx)
}

// SteerableProxy is a proxy the application can steer while it runs, as
// zmq_proxy_steerable. Where libzmq takes commands on a control socket, it
// has methods, safe to call from any goroutine:
//
//	libzmq control command   SteerableProxy
//	"PAUSE"                  Pause()
//	"RESUME"                 Resume()
//	"TERMINATE"              Terminate()   (Run then returns nil)
//	"STATISTICS"             Stats()       (the same 8 counters, see ProxyStats)
//
// Make one with NewSteerableProxy and call Run once. (Proxy, the function,
// is NewSteerableProxy(...).Run(ctx).)
//
// Directions. Messages from frontend go to backend if frontend can receive
// and backend can send, and the other way round likewise: a PULL→PUSH
// streamer runs one way only, a ROUTER/DEALER queue both. An XPUB whose
// subscription messages have nowhere to go (the other side is a SUB, which
// cannot send) has them read and discarded, so they cannot pile up. If
// frontend and backend are the same socket, one direction runs, from the
// socket to itself (zmq_proxy with frontend == backend). If no direction
// can run, Run returns ErrNotSupported.
//
// Flow control. Each direction is one goroutine doing Recv then Send, so a
// Send that blocks (a PUSH or DEALER whose peers are all at their high-water
// mark, an XPUB with XPubNoDrop) holds that one message and stops reading
// that direction: the backlog stays in the sockets' queues, whose
// high-water marks push back on the senders through TCP. Nothing is dropped
// beyond what the destination socket type itself drops (PUB and XPUB for a
// subscriber at its mark, ROUTER for an unknown routing id). The other
// direction keeps running.
//
// REQ and REP. These sockets must alternate Send and Recv. The proxy keeps
// their turn: it receives from a REP and sends to a REQ only when the socket
// is ready for it (REP: request in, reply out; REQ: request out, reply in),
// so such a proxy moves one request at a time, as with libzmq. Use ROUTER
// and DEALER to carry many requests at once.
//
// Capture. The copy for capture is made with Msg.Clone, because the
// forwarded message and the copy may both reach inproc receivers that own
// what they receive. It is sent before the message is forwarded, with a
// blocking Send as in libzmq, so a capture socket that cannot take it
// (a PUSH with no peer) holds the proxy up. Capture must be able to send.
//
// Ending. Run returns when ctx is done (ctx.Err()), when Terminate is
// called (nil), or on the first error of either direction (a closed socket
// gives an error wrapping ErrClosed). Run returns only once both directions
// have stopped; a message received but not yet sent at that moment is
// dropped, as libzmq drops what it holds when the proxy ends.
type SteerableProxy struct {
	front, back, capture *Socket

	stats [8]atomic.Uint64 // libzmq's order, see ProxyStats

	mu         mutex[rankProxy]
	paused     bool
	resumed    chan struct{} // closed on Resume; replaced on Pause
	started    bool
	terminated bool
	term       chan struct{} // closed by Terminate
}

// ProxyStats are the counters of zmq_proxy_steerable's STATISTICS command:
// messages and bytes received and sent on each side. A multipart message
// counts once, with the size of all its frames (including a ROUTER's
// routing id frame), as in libzmq. Messages sent to capture are not
// counted. libzmq replies with the eight values in the order of the fields
// below: frontend in (messages, bytes), frontend out (messages, bytes),
// then the same for backend. Array returns them in that order.
type ProxyStats struct {
	FrontendMsgsIn, FrontendBytesIn   uint64 // received on frontend
	FrontendMsgsOut, FrontendBytesOut uint64 // sent on frontend
	BackendMsgsIn, BackendBytesIn     uint64 // received on backend
	BackendMsgsOut, BackendBytesOut   uint64 // sent on backend
}

// Array returns the counters in the order of libzmq's STATISTICS reply.
func (s ProxyStats) Array() [8]uint64 {
	return [8]uint64{
		s.FrontendMsgsIn, s.FrontendBytesIn, s.FrontendMsgsOut, s.FrontendBytesOut,
		s.BackendMsgsIn, s.BackendBytesIn, s.BackendMsgsOut, s.BackendBytesOut,
	}
}

// Indexes into SteerableProxy.stats.
const (
	statFrontIn  = 0 // +1: bytes
	statFrontOut = 2
	statBackIn   = 4
	statBackOut  = 6
)

// NewSteerableProxy returns a proxy between frontend and backend, copying
// to capture (nil for none). Nothing moves until Run.
func NewSteerableProxy(frontend, backend, capture *Socket) *SteerableProxy {
	return &SteerableProxy{
		front: frontend, back: backend, capture: capture,
		term: make(chan struct{}),
	}
}

// Pause stops forwarding (libzmq's PAUSE): no message is received from
// either side until Resume, so messages wait in the sockets' queues and,
// beyond their high-water marks, in the senders'. A message already received
// when Pause is called is held until Resume; a Send already under way may
// complete. Pausing a paused proxy does nothing.
func (p *SteerableProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resumed = make(chan struct{})
	}
}

// Resume restarts forwarding after Pause (libzmq's RESUME). Resuming a
// running proxy does nothing.
func (p *SteerableProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resumed)
	}
}

// Terminate ends Run, which then returns nil (libzmq's TERMINATE). It does
// not wait for Run to return. Called before Run, it makes Run return nil at
// once. It may be called more than once.
func (p *SteerableProxy) Terminate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.terminated {
		p.terminated = true
		close(p.term)
	}
}

// Stats returns the proxy's counters (libzmq's STATISTICS). They count from
// the start of Run and keep their values after it returns.
func (p *SteerableProxy) Stats() ProxyStats {
	var v [8]uint64
	for i := range v {
		v[i] = p.stats[i].Load()
	}
	return ProxyStats{
		FrontendMsgsIn: v[0], FrontendBytesIn: v[1], FrontendMsgsOut: v[2], FrontendBytesOut: v[3],
		BackendMsgsIn: v[4], BackendBytesIn: v[5], BackendMsgsOut: v[6], BackendBytesOut: v[7],
	}
}

func canRecvType(t Type) bool { return t != Pub && t != Push }
func canSendType(t Type) bool { return t != Sub && t != Pull }

// turn keeps the send/receive alternation of a REQ or REP socket across the
// proxy's two goroutines: one token, held by whichever operation may run
// next.
type turn struct {
	send, recv chan struct{} // cap 1; exactly one holds the token
}

func newTurn(t Type) *turn {
	switch t {
	case Req, Rep:
	default:
		return nil
	}
	tn := &turn{send: make(chan struct{}, 1), recv: make(chan struct{}, 1)}
	if t == Req {
		tn.send <- struct{}{} // REQ: a request goes out first
	} else {
		tn.recv <- struct{}{} // REP: a request comes in first
	}
	return tn
}

// wait takes the token from ch (nil turn: no wait).
func (tn *turn) wait(ctx context.Context, ch func(*turn) chan struct{}) error {
	if tn == nil {
		return nil
	}
	select {
	case <-ch(tn):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pass hands the token to ch.
func (tn *turn) pass(ch func(*turn) chan struct{}) {
	if tn != nil {
		ch(tn) <- struct{}{}
	}
}

func sendTok(tn *turn) chan struct{} { return tn.send }
func recvTok(tn *turn) chan struct{} { return tn.recv }

// direction is one way through the proxy.
type direction struct {
	name          string  // "frontend" or "backend": the source side, for errors
	from, to      *Socket // to is nil: read and discard
	fromTurn      *turn
	toTurn        *turn
	inIdx, outIdx int
}

// Run forwards messages until ctx is done (it returns ctx.Err()), Terminate
// is called (nil), or a Send or Recv fails (that error; one wrapping
// ErrClosed if a socket was closed). It may be called once; later calls
// return ErrState.
func (p *SteerableProxy) Run(ctx context.Context) error {
	if p.front == nil || p.back == nil {
		return fmt.Errorf("%w: proxy needs a frontend and a backend socket", ErrInvalidArgument)
	}
	if p.capture != nil && !canSendType(p.capture.typ) {
		return fmt.Errorf("%w: proxy capture socket %v cannot send", ErrNotSupported, p.capture.typ)
	}
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return fmt.Errorf("%w: proxy already run", ErrState)
	}
	p.started = true
	terminated := p.terminated
	p.mu.Unlock()
	if terminated {
		return nil
	}

	var dirs []direction
	if p.front == p.back {
		if canRecvType(p.front.typ) && canSendType(p.front.typ) {
			// One socket, one goroutine: alternation needs no turn keeping,
			// Recv and Send follow each other.
			dirs = append(dirs, direction{name: "frontend", from: p.front, to: p.front, inIdx: statFrontIn, outIdx: statBackOut})
		}
	} else {
		ft, bt := newTurn(p.front.typ), newTurn(p.back.typ)
		add := func(name string, from, to *Socket, fromTurn, toTurn *turn, in, out int) {
			if !canRecvType(from.typ) {
				return
			}
			if !canSendType(to.typ) {
				if from.typ != XPub {
					return
				}
				to, toTurn = nil, nil // subscriptions with nowhere to go
			}
			dirs = append(dirs, direction{name: name, from: from, to: to, fromTurn: fromTurn, toTurn: toTurn, inIdx: in, outIdx: out})
		}
		add("frontend", p.front, p.back, ft, bt, statFrontIn, statBackOut)
		add("backend", p.back, p.front, bt, ft, statBackIn, statFrontOut)
	}
	if len(dirs) == 0 {
		return fmt.Errorf("%w: proxy between %v and %v has no direction to forward", ErrNotSupported, p.front.typ, p.back.typ)
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan struct{})
	go func() { // Terminate ends the directions as a cancelled ctx would
		defer close(watched)
		select {
		case <-p.term:
			cancel()
		case <-rctx.Done():
		}
	}()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for _, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.forward(rctx, d); err != nil && rctx.Err() == nil {
				errOnce.Do(func() { firstErr = err })
				cancel() // one direction failing ends the other
			}
		}()
	}
	wg.Wait()
	cancel()
	<-watched

	select {
	case <-p.term:
		return nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

// forward runs one direction until ctx ends or an operation fails.
func (p *SteerableProxy) forward(ctx context.Context, d direction) error {
	for {
		if err := p.waitRunning(ctx); err != nil {
			return err
		}
		// Take both turns before receiving, so a message is never held
		// waiting for a REQ or REP to be ready for it.
		if err := d.toTurn.wait(ctx, sendTok); err != nil {
			return err
		}
		if err := d.fromTurn.wait(ctx, recvTok); err != nil {
			d.toTurn.pass(sendTok)
			return err
		}
		m, err := d.from.Recv(ctx)
		if err != nil {
			d.fromTurn.pass(recvTok)
			d.toTurn.pass(sendTok)
			return p.opErr("receive from", d.name, err)
		}
		d.fromTurn.pass(sendTok)
		size := uint64(m.Size())
		p.stats[d.inIdx].Add(1)
		p.stats[d.inIdx+1].Add(size)
		if d.to == nil {
			continue
		}
		// A message received as Pause was called waits for Resume.
		if err := p.waitRunning(ctx); err != nil {
			return err
		}
		if p.capture != nil {
			if err := p.capture.Send(ctx, m.Clone()); err != nil {
				return p.opErr("send to", "capture", err)
			}
		}
		if err := d.to.Send(ctx, m); err != nil {
			return p.opErr("send to", d.other(), err)
		}
		d.toTurn.pass(recvTok)
		p.stats[d.outIdx].Add(1)
		p.stats[d.outIdx+1].Add(size)
	}
}

func (d direction) other() string {
	if d.name == "frontend" {
		return "backend"
	}
	return "frontend"
}

func (p *SteerableProxy) opErr(op, side string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("zmq: proxy: %s %s: %w", op, side, err)
}

// waitRunning blocks while the proxy is paused.
func (p *SteerableProxy) waitRunning(ctx context.Context) error {
	for {
		p.mu.Lock()
		paused, resumed := p.paused, p.resumed
		p.mu.Unlock()
		if !paused {
			return ctx.Err()
		}
		select {
		case <-resumed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
