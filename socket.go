package zmq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqgo/zmq/internal/transport"
)

// Lock order: LOCKS.md lists every lock and the order they are taken in
// (checked by the tests built with -tags lockorder). recvSem and sendSem are
// taken before any lock, with the caller's context; stateMu is never held
// while a call waits.

// Socket is a ZeroMQ socket. Its methods are safe for concurrent use.
type Socket struct {
	typ  Type
	ops  *patternOps // the type's rules (patterns.go), chosen once
	opts options

	// mu guards the fields below it up to direct, and every pipe's
	// conn, id, peerType and minor.
	mu        mutex[rankSocketMu]
	closed    bool
	pipes     []*pipe          // attached pipes, in attach order (round-robin, fan-out)
	rr        int              // round-robin cursor into pipes
	byID      map[string]*pipe // ROUTER: routing id → pipe
	nextID    uint32           // ROUTER: next generated routing id
	listeners map[string]*listener
	dialers   map[string]*dialer
	lastEP    string
	// What Shutdown reports about undelivered messages (close.go).
	everConnected bool  // a peer completed a handshake at some point
	connErr       error // the last failed connection attempt or handshake

	direct atomic.Pointer[conn] // the connection a REQ/REP receiver reads itself (reqrep.go)

	queuedBytes atomic.Int64 // in all send queues, with WithSendHWMBytes (queuebytes.go)

	// Senders waiting for room (a full queue drains, a pipe attaches); see
	// block. Guarded by wmu.
	wmu     mutex[rankWmu]
	wgen    uint64          // bumped by every wake
	waiting []chan struct{} // one per blocked sender, signalled by wake
	spareCh []chan struct{} // their channels, kept for the next wait

	// Guarded by subMu.
	subMu       rwmutex[rankSubMu]
	subs        map[string]int // SUB/XSUB: our own subscriptions, counted
	xcount      map[string]int // XPUB: how many pipes subscribe to each topic
	lastSubPipe *pipe          // XPUB manual: where the last subscription came from

	// REQ/REP state, guarded by stateMu (reqrep.go).
	stateMu    mutex[rankStateMu]
	reqPipe    *pipe    // REQ: where the outstanding request went
	reqPending bool     // REQ: a request awaits its reply
	repPipe    *pipe    // REP: where the reply goes
	repEnv     [][]byte // REP: envelope to put back on the reply
	repPending bool     // REP: a request was received and not answered

	inMu        mutex[rankInMu]
	active      []*pipe       // pipes with received messages, in turn order; guarded by inMu
	recvWaiters int           // Recv calls waiting for a message; guarded by inMu
	inNotify    chan struct{} // wakes a waiting Recv (cap 1)
	recvSem     chan struct{} // REQ/REP: one receiver at a time
	sendSem     chan struct{} // REQ: one sender at a time (stateMu is never held while a send waits)
	done        chan struct{} // closed by Close
	kill        chan struct{} // closed by Close once lingering is over
	linkCh      chan struct{} // cap 1: a dialer's attempt ended or a connection went (close.go)
	mons        monitors
	wg          sync.WaitGroup

	// WithHandler (handler.go), guarded by corkMu: handler calls running,
	// and the pipes whose writers TrySends meanwhile left asleep.
	corkMu       mutex[rankCorkMu]
	corked       int
	dirty        []dirtyPipe
	spareDirty   []dirtyPipe
	handlersOff  bool          // Close stopped the handler calls (stopHandlers)
	handlersIdle chan struct{} // closed when the last running call ends, for stopHandlers
}

type listener struct {
	endpoint, resolved string
	l                  *transport.Listener // nil for inproc
	conns              map[*conn]struct{}  // guarded by Socket.mu
}

// stop stops accepting new connections.
func (l *listener) stop(s *Socket) {
	if l.l != nil {
		l.l.Close()
		return
	}
	inprocUnbind(l.resolved[len("inproc://"):], s)
}

type dialer struct {
	endpoint string
	ep       transport.Endpoint
	p        *pipe
	stop     chan struct{}
	conn     *conn // guarded by Socket.mu
	trying   bool  // an attempt (dial, handshake) is under way; guarded by Socket.mu
}

// NewSocket returns a socket of type t configured by opts.
func NewSocket(t Type, opts ...Option) (*Socket, error) {
	if !t.valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidType, int(t))
	}
	s := &Socket{
		typ:       t,
		ops:       &patterns[t],
		opts:      defaultOptions(),
		byID:      make(map[string]*pipe),
		nextID:    rand.Uint32(),
		listeners: make(map[string]*listener),
		dialers:   make(map[string]*dialer),
		subs:      make(map[string]int),
		done:      make(chan struct{}),
		kill:      make(chan struct{}),
		linkCh:    make(chan struct{}, 1),
	}
	for _, o := range opts {
		if err := o(&s.opts); err != nil {
			return nil, err
		}
	}
	if s.opts.handler != nil && !handlerOK(t) {
		return nil, fmt.Errorf("%w: %s cannot take a handler (WithHandler)", ErrNotSupported, t)
	}
	if s.opts.borrowFrames && s.opts.handler == nil {
		return nil, fmt.Errorf("%w: WithBorrowedFrames needs WithHandler", ErrInvalidOption)
	}
	s.inNotify = make(chan struct{}, 1)
	s.recvSem = make(chan struct{}, 1)
	s.sendSem = make(chan struct{}, 1)
	return s, nil
}

// Type returns the socket's type.
func (s *Socket) Type() Type { return s.typ }

// LastEndpoint returns the endpoint of the last successful Bind, with a
// wildcard or zero port replaced by the real one (ZMQ_LAST_ENDPOINT).
func (s *Socket) LastEndpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastEP
}

func endpointErr(err error) error {
	switch {
	case errors.Is(err, transport.ErrUnsupported):
		return fmt.Errorf("%w: %v", ErrUnsupportedTransport, err)
	case errors.Is(err, transport.ErrInvalid):
		return fmt.Errorf("%w: %v", ErrInvalidEndpoint, err)
	}
	return err
}

// Bind listens on endpoint, e.g. "tcp://127.0.0.1:5555", "tcp://*:5555" or
// "tcp://127.0.0.1:0" (an ephemeral port; see LastEndpoint).
func (s *Socket) Bind(endpoint string) error {
	ep, err := transport.Parse(endpoint, true)
	if err != nil {
		return endpointErr(err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.Unlock()
	if ep.Transport == "inproc" {
		resolved := "inproc://" + ep.Address
		ln := &listener{endpoint: endpoint, resolved: resolved, conns: make(map[*conn]struct{})}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return ErrClosed
		}
		if err := inprocBind(ep.Address, s, ln); err != nil {
			s.emit(Event{Type: EventBindFailed, Endpoint: endpoint, Err: err})
			return err
		}
		s.listeners[resolved] = ln
		s.lastEP = resolved
		s.emit(Event{Type: EventListening, Endpoint: resolved})
		return nil
	}
	l, resolved, err := transport.Listen(ep)
	if err != nil {
		err = fmt.Errorf("zmq: bind %s: %w", endpoint, err)
		s.emit(Event{Type: EventBindFailed, Endpoint: endpoint, Err: err})
		return err
	}
	ln := &listener{endpoint: endpoint, resolved: resolved, l: l, conns: make(map[*conn]struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	s.listeners[resolved] = ln
	s.lastEP = resolved
	s.wg.Add(1)
	s.mu.Unlock()
	s.opts.logger.Debug("zmq: listening", "socket", s.typ.String(), "endpoint", resolved)
	s.emit(Event{Type: EventListening, Endpoint: resolved})
	go s.acceptLoop(ln)
	return nil
}

func (s *Socket) acceptLoop(ln *listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off instead of spinning.
			s.opts.logger.Warn("zmq: accept failed", "endpoint", ln.resolved, "err", err)
			s.emit(Event{Type: EventAcceptFailed, Endpoint: ln.resolved, Err: err})
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay < time.Second {
				delay *= 2
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.emit(Event{Type: EventAccepted, Endpoint: ln.resolved, PeerAddr: nc.RemoteAddr().String()})
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serve(nc, ln, nil)
		}()
	}
}

// Connect connects to endpoint. The connection is made in the background and
// remade if it breaks; messages sent meanwhile queue up to the send
// high-water mark.
//
// A tcp host name is resolved at once, and Connect fails with
// ErrUnknownHost if the name does not exist, so that a typo does not
// retry silently for ever (libzmq 4.3 checks only the syntax and resolves
// at each attempt; older versions resolved here too). If DNS cannot answer
// (a timeout, a server failure), Connect goes on and each attempt resolves
// again; failed attempts are logged and reported as EventConnectRetried
// with the error.
func (s *Socket) Connect(endpoint string) error {
	ep, err := transport.Parse(endpoint, false)
	if err != nil {
		return endpointErr(err)
	}
	if err := checkHost(endpoint, ep); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, dup := s.dialers[endpoint]; dup {
		return fmt.Errorf("%w: already connected to %s", ErrState, endpoint)
	}
	if s.typ == Pair && len(s.pipes) > 0 {
		return fmt.Errorf("%w: a PAIR socket has one peer", ErrState)
	}
	d := &dialer{endpoint: endpoint, ep: ep, stop: make(chan struct{}), trying: true}
	d.p = s.newPipe(endpoint, true)
	s.dialers[endpoint] = d
	// The pipe exists before the connection does, so messages can queue for
	// it (except where routing needs the peer's identity first, or the user
	// asked for live peers only).
	if !s.pipePerConn() {
		s.attachLocked(d.p)
	}
	s.wg.Add(1)
	go s.dialLoop(d)
	return nil
}

// resolveTimeout bounds the name lookup in Connect.
const resolveTimeout = 2 * time.Second

// checkHost fails if a tcp endpoint's host name does not exist.
func checkHost(endpoint string, ep transport.Endpoint) error {
	if ep.Transport != "tcp" || ep.Network != "tcp" { // tcp4, tcp6: an IP address
		return nil
	}
	host, _, err := net.SplitHostPort(ep.Address)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	_, err = net.DefaultResolver.LookupHost(ctx, host)
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok && dnsErr.IsNotFound {
		return fmt.Errorf("%w in %q: %v", ErrUnknownHost, endpoint, err)
	}
	return nil
}

func (s *Socket) dialLoop(d *dialer) {
	defer s.wg.Done()
	ivl := s.opts.reconnectIvl
	var authWait time.Duration // backoff after refused handshakes (security.go)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if d.ep.Transport == "inproc" {
		// No reconnection delays: the link is made the moment the name is
		// bound, and remade if it is bound again.
		for {
			b := inprocLookupNow(d.ep.Address)
			if b == nil {
				// Nobody bound yet: nothing to wait for in Close (close.go).
				s.attemptEnded(d, fmt.Errorf("%w: connect %s: nothing bound there", ErrEndpointNotFound, d.endpoint))
				if b = inprocLookup(d.ep.Address, d.stop); b == nil {
					return
				}
				s.attemptStarted(d)
			}
			s.serveInproc(b, d)
			s.attemptEnded(d, nil)
			select {
			case <-d.stop:
				return
			default:
			}
		}
	}
	for first := true; ; first = false {
		if !first {
			s.attemptStarted(d)
		}
		s.emit(Event{Type: EventConnectDelayed, Endpoint: d.endpoint})
		nc, err := transport.Dial(ctx, d.ep)
		if err == nil {
			s.emit(Event{Type: EventConnected, Endpoint: d.endpoint, PeerAddr: nc.RemoteAddr().String()})
			hsErr := s.serve(nc, nil, d)
			if s.handshakeBackoff(hsErr) {
				authWait = s.nextAuthBackoff(authWait) // no reconnect storm when refused
			} else {
				authWait = 0
			}
			if hsErr != nil {
				hsErr = fmt.Errorf("zmq: handshake with %s: %w", d.endpoint, hsErr)
			}
			s.attemptEnded(d, hsErr)
			ivl = s.opts.reconnectIvl
		} else {
			s.opts.logger.Debug("zmq: connect failed", "endpoint", d.endpoint, "err", err)
			s.attemptEnded(d, fmt.Errorf("zmq: connect %s: %w", d.endpoint, err))
		}
		if s.opts.reconnectIvl < 0 {
			return
		}
		// libzmq waits the interval plus a random jitter of up to one
		// interval, so a restarted server is not hit by every client at once.
		wait := max(ivl, authWait)
		if ivl > 0 {
			wait += time.Duration(rand.Int64N(int64(ivl)))
		}
		s.emit(Event{Type: EventConnectRetried, Endpoint: d.endpoint, Interval: wait, Err: err})
		if max := s.opts.reconnectIvlMax; max > 0 && err != nil {
			ivl = min(ivl*2, max)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.stop:
			t.Stop()
			return
		}
	}
}

// attachConn binds a handshaken connection to its pipe.
func (s *Socket) attachConn(c *conn, ln *listener, d *dialer, pi peerInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// While Close lingers, a connected endpoint may still connect so its
	// queued messages get out (as libzmq); nothing new is accepted.
	if s.closed && (d == nil || s.killed()) {
		return ErrClosed
	}
	var p *pipe
	if d != nil {
		if _, ok := s.dialers[d.endpoint]; !ok || d.conn != nil {
			return ErrClosed
		}
		p = d.p
	} else {
		p = s.newPipe(ln.resolved, false)
	}
	if attach := s.ops.attach; attach != nil {
		if err := attach(s, p, pi, d == nil); err != nil {
			return err
		}
	}
	p.conn, p.peerType, p.minor = c, pi.typ, pi.minor
	c.p = p
	s.everConnected = true
	if d != nil {
		d.conn = c
		if s.pipePerConn() {
			s.attachLocked(p)
		}
	} else {
		ln.conns[c] = struct{}{}
		s.attachLocked(p)
	}
	if connected := s.ops.connected; connected != nil {
		connected(s, p)
	}
	// Data queued before this connection existed goes out now.
	signal(p.out.notify)
	return nil
}

// pipePerConn reports whether a connected endpoint's pipe exists only while
// its connection does.
func (s *Socket) pipePerConn() bool { return s.ops.routingIDs || s.opts.immediate }

func (s *Socket) newPipe(endpoint string, persistent bool) *pipe {
	p := newPipe(endpoint, s.opts.sendHWM, persistent)
	p.out.conflate = s.opts.conflate
	if s.opts.sendHWMBytes > 0 || s.opts.sendBytesTotal > 0 {
		p.out.bq = queueBytes{limit: s.opts.sendHWMBytes, total: &s.queuedBytes, totalLimit: s.opts.sendBytesTotal}
	}
	return p
}

func (s *Socket) attachLocked(p *pipe) {
	s.pipes = append(s.pipes, p)
	s.wake()
}

func (s *Socket) removePipeLocked(p *pipe) {
	if i := slices.Index(s.pipes, p); i >= 0 {
		s.pipes = slices.Delete(s.pipes, i, i+1)
		if s.rr > i {
			s.rr--
		}
		if s.rr >= len(s.pipes) {
			s.rr = 0
		}
	}
}

// detachConn undoes attachConn when the connection ends.
func (s *Socket) detachConn(c *conn, ln *listener, d *dialer) {
	p := c.p
	s.mu.Lock()
	p.conn = nil
	if detach := s.ops.detach; detach != nil {
		detach(s, p)
	}
	if d != nil {
		d.conn = nil
		if s.pipePerConn() {
			s.removePipeLocked(p)
		}
		// Queued data waits for the next connection (unless only live peers
		// count); commands were for this one.
		p.out.reset(!s.opts.immediate)
	} else {
		delete(ln.conns, c)
		s.removePipeLocked(p)
		p.out.reset(false)
	}
	s.mu.Unlock()
	signal(s.linkCh)
	if gone := s.ops.gone; gone != nil {
		gone(s, p)
	}
	s.wake()
}

// Unbind stops listening on endpoint (as given to Bind, or as LastEndpoint
// reported it) and closes the connections accepted there.
func (s *Socket) Unbind(endpoint string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	ln := s.listeners[endpoint]
	if ln == nil {
		for _, l := range s.listeners {
			if l.endpoint == endpoint {
				ln = l
				break
			}
		}
	}
	if ln == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrEndpointNotFound, endpoint)
	}
	delete(s.listeners, ln.resolved)
	conns := make([]*conn, 0, len(ln.conns))
	for c := range ln.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	ln.stop(s)
	for _, c := range conns {
		c.close()
	}
	s.emit(Event{Type: EventClosed, Endpoint: ln.resolved})
	return nil
}

// Disconnect stops connecting to endpoint (as given to Connect), closes the
// connection and drops what was queued for it.
func (s *Socket) Disconnect(endpoint string) error {
	s.mu.Lock()
	if s.closed {
		// Close already stopped every dialer (closing d.stop again would panic).
		s.mu.Unlock()
		return ErrClosed
	}
	d := s.dialers[endpoint]
	if d == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrEndpointNotFound, endpoint)
	}
	delete(s.dialers, endpoint)
	s.removePipeLocked(d.p)
	c := d.conn
	s.mu.Unlock()
	close(d.stop)
	if c != nil {
		c.close()
	}
	d.p.out.reset(false)
	return nil
}

func (s *Socket) killed() bool {
	select {
	case <-s.kill:
		return true
	default:
		return false
	}
}

func (s *Socket) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// lockOpen takes s.mu and reports true, or reports false, without the
// lock, if the socket is closed.
func (s *Socket) lockOpen() bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	return true
}

// deliver hands a received message to Recv (or, on PUB and XPUB, reads
// subscriptions from it). It reports false if the connection is going away.
func (s *Socket) deliver(c *conn, m Msg) bool {
	if d := s.ops.deliver; d != nil {
		return d(s, c, m)
	}
	return s.deliverQueued(c, m)
}

// batchable reports whether received messages may be handed over in
// batches (deliverBatch): queued as they come, or as subscriptions match
// them, neither truncated nor conflated.
func (s *Socket) batchable() bool {
	return (s.ops.deliver == nil || s.ops.filtered) && s.opts.truncateOver == 0 && !s.opts.conflate
}

// deliverBatch is deliver for several messages from c, for a batchable
// socket: one lock of the inbound queue for all that fit below the
// high-water mark, rather than one each.
func (s *Socket) deliverBatch(c *conn, msgs []Msg) bool {
	if s.ops.filtered {
		msgs = s.matching(msgs)
	}
	return s.enqueueBatch(c.p, msgs, c, c.quit)
}

// Send sends a message. What it does depends on the type: round-robin to a
// peer with room (PUSH, DEALER, REQ), to every matching subscriber (PUB), to
// the peer named by the first frame (ROUTER), back to the requester (REP).
// It blocks while no peer can take the message, until ctx is done or the
// socket is closed. REQ prepends, and REP restores, the envelope.
func (s *Socket) Send(ctx context.Context, m Msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.send(ctx, m)
}

func (s *Socket) send(ctx context.Context, m Msg) error {
	if len(m.Frames) == 0 {
		return ErrEmptyMsg
	}
	if max := s.opts.maxMsgSize; max > 0 && int64(m.Size()) > max {
		return ErrMsgTooLarge
	}
	if s.isClosed() {
		return ErrClosed
	}
	// An AllocMsg buffer must not go back to the pool while Send still
	// routes it, nor after a failed Send (the caller keeps the message).
	m.sendRef()
	err := s.route(ctx, m)
	if err != nil {
		m.sendAbandon()
	} else {
		m.sendUnref()
	}
	return err
}

func (s *Socket) route(ctx context.Context, m Msg) error {
	if send := s.ops.send; send != nil {
		return send(s, ctx, m)
	}
	return s.sendRR(ctx, m)
}

// Recv receives a message, blocking until one arrives, ctx is done or the
// socket is closed. ROUTER prefixes the sender's routing id; REQ and REP
// strip the envelope.
func (s *Socket) Recv(ctx context.Context) (Msg, error) {
	// Closed wins over REQ/REP state errors and over messages still queued.
	if s.isClosed() {
		return Msg{}, ErrClosed
	}
	if s.opts.handler != nil {
		return Msg{}, fmt.Errorf("%w: the socket's handler receives its messages (WithHandler)", ErrNotSupported)
	}
	if recv := s.ops.recv; recv != nil {
		return recv(s, ctx)
	}
	return s.recv(ctx, nil)
}
