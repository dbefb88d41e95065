package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zmqgo/zmq"
)

// ErrClosed is returned by the methods of a Broker or Client that was
// closed. errors.Is(ErrClosed, net.ErrClosed) holds.
var ErrClosed = zmq.ErrClosed

// Broker is a running message broker: a ROUTER socket for clients and
// downstream brokers, a DEALER per upstream broker, and one goroutine, the
// loop, for everything else (connection events, timers, calls). Messages
// are handled on the goroutine of the connection that read them
// (zmq.WithHandler), and the replies a read's worth of requests causes go
// out together when it is handled, one write per peer. Handlers and the
// loop take turns on the state (mu), so every message is handled in turn,
// as by one goroutine. Sending never waits: a message for a client whose
// queue is full is dropped and counted, so one slow client never holds up
// the others.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	router *zmq.Socket
	ups    []*zmq.Socket
	addrs  []string
	st     *state

	// mu guards st and stopped: held by a handler or the loop while it
	// handles something. Handling each message on its connection's reader,
	// rather than passing it to the loop, saves a hand-over (a channel send
	// and a wake-up of another goroutine per message), which cost more CPU
	// than the handling. "On the loop" in this package's comments means
	// holding mu.
	mu      sync.Mutex
	stopped bool          // Close began (or New failed): handlers handle nothing more
	kick    chan struct{} // a handler changed names or routes (st.dirty): the loop schedules an announcement
	ready   chan struct{} // closed once the state exists: a message may arrive before New returns

	in        chan event
	calls     chan func()
	quit      chan struct{}
	loopDone  chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	lastStats    Stats
	finalLatency latencyHist // the latency histogram once the loop is done
	lastStatsAt  time.Time

	ops ops // metrics.go, status.go
}

// event is what the loop handles: a message or a connection event, from
// the ROUTER (src -1) or upstream src.
type event struct {
	kind   eventKind
	src    int
	id     []byte   // ROUTER: the peer's routing id
	user   string   // ROUTER: the user id of the peer's connection (ZAP)
	frames [][]byte // evMsg: the frames after the routing id
	size   int64    // evMsg: not 0 for a message the socket truncated (frames: its envelope)
	err    error    // evCut: why
	addr   string   // evConn, evGone: the peer's address
	hb     bool     // evConn: the socket pings it
}

type eventKind uint8

const (
	evMsg  eventKind = iota
	evConn           // a ROUTER peer's connection is up (liveness.go)
	evGone           // a ROUTER peer's connection closed
	evCut            // the ROUTER cut a peer's connection for a message over the hard cap
	evUp             // an upstream connection is up
	evDown           // an upstream connection is down
)

// inbox is how many connection events may wait for the loop.
const inbox = 4096

// announceDelay gathers the changes of names and routes into one
// announcement upstream.
const announceDelay = 20 * time.Millisecond

// New starts a broker: it binds cfg.Bind, connects to cfg.Upstream, and
// serves until Close.
func New(cfg Config) (*Broker, error) {
	named := cfg.Name != ""
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Broker{
		cfg: cfg, log: cfg.Logger,
		in: make(chan event, inbox), calls: make(chan func()), kick: make(chan struct{}, 1), ready: make(chan struct{}),
		quit: make(chan struct{}), loopDone: make(chan struct{}),
	}
	b.router, err = zmq.NewSocket(zmq.Router, append([]zmq.Option{
		// Handle each message on the connection's reader: no hand-over to
		// another goroutine, and the replies go out together when the
		// handler returns (zmq.WithHandler).
		zmq.WithHandler(func(m zmq.Msg) { b.onMessage(m, -1) }),
		// Requests are not copied out of the read buffer: nothing keeps
		// or sends a view into one after onMessage returns (replies are
		// encoded afresh, the cluster copies what it keeps: redis.go).
		zmq.WithBorrowedFrames(),
		zmq.WithRouterMandatory(true), // full queue and gone peer are errors: counted, never waited for
		// No handover: a live client's routing id cannot be taken over by
		// a newcomer announcing the same id (see Security in the package
		// documentation).
		zmq.WithRouterHandover(false),
		zmq.WithSendHWM(cfg.QueueSize),
		zmq.WithSendHWMBytes(cfg.QueueBytes, cfg.TotalBytes),
		zmq.WithHeartbeatInterval(max(cfg.Heartbeat, 0)),
		zmq.WithHeartbeatTimeout(max(cfg.HeartbeatTimeout, 0)),
		zmq.WithHeartbeatTTL(min(max(cfg.Heartbeat+cfg.HeartbeatTimeout, 0), 6553*time.Second)), // clients drop a broker gone silent too
		zmq.WithMaxMsgSize(cfg.socketLimit()),
		// Read a request over the limit off the wire without keeping it,
		// and answer it; past the hard cap the socket cuts the connection.
		zmq.WithTruncateOver(int64(cfg.MaxMsgSize) + fedSlack),
		zmq.WithLinger(cfg.Linger),
		zmq.WithLogger(cfg.Logger),
	}, slices.Concat(cfg.SocketOptions, cfg.Security)...)...)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	routerEvents := b.router.Monitor(context.Background())
	fail := func(err error) (*Broker, error) {
		b.stopped = true // handlers waiting for ready handle nothing
		close(b.ready)
		b.router.Close()
		for _, u := range b.ups {
			u.Close()
		}
		return nil, err
	}
	for _, ep := range cfg.Bind {
		if err := b.router.Bind(ep); err != nil {
			return fail(fmt.Errorf("broker: bind %s: %w", ep, err))
		}
		b.addrs = append(b.addrs, b.router.LastEndpoint())
	}
	if !named {
		cfg.Name = defaultName(b.addrs[0])
	}
	cfg.Logger = cfg.Logger.With("broker", cfg.Name)
	b.cfg, b.log = cfg, cfg.Logger
	upEvents := make([]<-chan zmq.Event, len(cfg.Upstream))
	for i, ep := range cfg.Upstream {
		u, err := zmq.NewSocket(zmq.Dealer, append([]zmq.Option{
			zmq.WithHandler(func(m zmq.Msg) { b.onMessage(m, i) }),
			zmq.WithBorrowedFrames(), // handleUp decodes with encoding/json, which copies
			zmq.WithSendHWM(cfg.QueueSize),
			zmq.WithMaxMsgSize(cfg.socketLimit()),
			zmq.WithLinger(cfg.Linger),
			zmq.WithLogger(cfg.Logger),
			zmq.WithReconnectIntervalMax(2 * time.Second),
		}, slices.Concat(cfg.SocketOptions, cfg.UpstreamSecurity)...)...)
		if err != nil {
			return fail(fmt.Errorf("broker: %w", err))
		}
		b.ups = append(b.ups, u)
		upEvents[i] = u.Monitor(context.Background())
		if err := u.Connect(ep); err != nil {
			return fail(fmt.Errorf("broker: upstream %s: %w", ep, err))
		}
	}
	b.st = newState(&b.cfg, b, len(b.ups))
	b.ops.init()
	if cfg.Redis != nil {
		if b.st.cluster, err = newCluster(b, b.st); err != nil {
			return fail(err)
		}
	}
	close(b.ready)
	b.wg.Add(1 + len(b.ups))
	go b.watch(routerEvents, -1)
	for i := range b.ups {
		go b.watch(upEvents[i], i)
	}
	b.lastStatsAt = time.Now()
	go b.loop()
	if b.st.cluster != nil {
		b.st.cluster.start()
	}
	limit := "none"
	if cfg.Rate > 0 {
		limit = fmt.Sprintf("%g/s, burst %d", cfg.Rate, cfg.Burst)
	}
	b.log.Info("broker: started", "bind", b.addrs, "upstream", cfg.Upstream, "expire", cfg.Expire,
		"queue", cfg.QueueSize, "queue_bytes", cfg.QueueBytes, "total_bytes", cfg.TotalBytes, "max_msg_size", cfg.MaxMsgSize, "rate_limit", limit,
		"name_rules", cfg.Names != nil, "federation_peers", len(cfg.FederationPeers))
	return b, nil
}

// defaultName names a broker after its host and the port (or ipc path) of
// its first endpoint, which no other broker has.
func defaultName(endpoint string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = DefaultName
	}
	name := host
	if _, addr, ok := strings.Cut(endpoint, "://"); ok {
		if i := strings.LastIndexAny(addr, ":/"); i >= 0 && i < len(addr)-1 {
			name += ":" + addr[i+1:]
		}
	}
	if len(name) > maxNameLen || checkName(name) != nil {
		return DefaultName
	}
	return name
}

// Addr returns the first endpoint the broker is bound to, with the port
// the system chose for a tcp port 0.
func (b *Broker) Addr() string { return b.addrs[0] }

// Addrs returns every endpoint the broker is bound to, as Addr does.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Name returns the broker's name in its federation.
func (b *Broker) Name() string { return b.cfg.Name }

// Stats returns the broker's counters and counts. After Close they are the
// final ones.
func (b *Broker) Stats() Stats {
	var st Stats
	if !b.do(func() { st = b.st.snapshot() }) {
		return b.lastStats
	}
	return st
}

// Clients returns the registered clients by name, as list_clients does
// (nil after Close).
func (b *Broker) Clients() []ClientInfo {
	var list []ClientInfo
	b.do(func() { list = b.st.clientInfos() })
	return list
}

// Close stops the broker: what was received is handled, then its sockets
// close, giving queued messages up to Config.Linger to be written. Later
// calls do nothing.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		close(b.quit)
		<-b.loopDone
		if b.st.cluster != nil {
			b.st.cluster.stop()
		}
		var wg sync.WaitGroup
		for _, s := range append([]*zmq.Socket{b.router}, b.ups...) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Close()
			}()
		}
		wg.Wait()
		b.wg.Wait()
		st := b.lastStats
		b.log.Info("broker: stopped", "received", st.Received, "sent", st.Sent, "errors", st.Errors, "dropped", st.Dropped)
	})
	return nil
}

// do runs fn on the loop and waits for it; false if the loop has ended.
func (b *Broker) do(fn func()) bool {
	done := make(chan struct{})
	select {
	case b.calls <- func() { fn(); close(done) }:
		<-done
		return true
	case <-b.loopDone:
		return false
	}
}

// waitState waits until cond holds; cond runs on the loop each time names
// or routes change.
func (b *Broker) waitState(ctx context.Context, cond func(*state) bool) error {
	for {
		var ok bool
		var changed chan struct{}
		if !b.do(func() { ok, changed = cond(b.st), b.st.changed }) {
			return ErrClosed
		}
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *Broker) loop() {
	defer close(b.loopDone)
	st := b.st
	var sweep, stats, announce <-chan time.Time
	{
		t := time.NewTicker(b.cfg.sweepEvery())
		defer t.Stop()
		sweep = t.C
	}
	if b.cfg.StatsInterval > 0 {
		t := time.NewTicker(b.cfg.StatsInterval)
		defer t.Stop()
		stats = t.C
	}
	if len(st.ups) > 0 {
		t := time.NewTicker(b.cfg.AnnounceInterval)
		defer t.Stop()
		announce = t.C
		b.locked(func() { st.announce(-1) })
	}
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	defer delay.Stop()
	delayed := false
	for {
		select {
		case ev := <-b.in:
			b.mu.Lock()
			b.handle(ev)
			// Handle what else waits with a plain receive: the select
			// of every case costs more than an event's handling.
			for range inbox {
				select {
				case ev := <-b.in:
					b.handle(ev)
					continue
				default:
				}
				break
			}
			b.mu.Unlock()
		case fn := <-b.calls:
			b.mu.Lock()
			fn()
			b.mu.Unlock()
		case <-b.kick:
		case <-sweep:
			b.locked(st.sweep)
		case <-stats:
			b.locked(b.logStats)
		case <-announce:
			b.locked(func() { st.announce(-1) })
		case <-delay.C:
			delayed = false
			b.locked(func() {
				if st.dirty {
					st.announce(-1)
				}
			})
		case <-b.quit:
			b.mu.Lock()
			defer b.mu.Unlock()
			b.stopped = true
			for {
				select {
				case ev := <-b.in:
					b.handle(ev)
				default:
					b.lastStats, b.finalLatency = st.snapshot(), b.ops.latency
					return
				}
			}
		}
		if len(st.ups) > 0 && !delayed { // ups is fixed at New: no lock for it
			b.mu.Lock()
			dirty := st.dirty
			b.mu.Unlock()
			if dirty {
				delay.Reset(announceDelay)
				delayed = true
			}
		}
	}
}

// locked runs fn holding the state.
func (b *Broker) locked(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fn()
}

func (b *Broker) handle(ev event) {
	switch ev.kind {
	case evMsg: // from tests: the sockets' messages come through onMessage
		b.handleMsg(ev, nil)
	case evConn:
		b.st.connUp(ev.id, ev.addr, ev.hb)
	case evGone:
		b.st.connDown(ev.id, ev.addr)
	case evCut:
		b.st.cut(ev.id, ev.err)
	case evUp:
		b.st.upState(ev.src, true)
	case evDown:
		b.st.upState(ev.src, false)
	}
}

func (b *Broker) logStats() {
	now := time.Now()
	st := b.st.snapshot()
	secs := now.Sub(b.lastStatsAt).Seconds()
	rate := func(n, was uint64) float64 {
		if secs <= 0 {
			return 0
		}
		return math.Round(float64(n-was)/secs*10) / 10
	}
	b.log.Info("broker: stats",
		"clients", st.Clients, "brokers", st.Brokers, "routes", st.Routes, "upstreams", st.Upstreams,
		"in_per_sec", rate(st.Received, b.lastStats.Received), "out_per_sec", rate(st.Sent, b.lastStats.Sent),
		"received", st.Received, "sent", st.Sent, "errors", st.Errors, "dropped", st.Dropped,
		"rate_limited", st.RateLimited, "expired", st.Expired, "forwarded", st.Forwarded,
		"names_refused", st.NamesRefused, "federation_refused", st.FederationRefused, "taken_over", st.TakenOver)
	b.lastStats, b.lastStatsAt = st, now
}

// handleMsg handles a message event; pre is its request if preparse
// parsed it, or nil.
func (b *Broker) handleMsg(ev event, pre *request) {
	switch {
	case ev.src < 0 && ev.size > 0:
		b.st.tooLarge(ev.id, ev.user, ev.frames, ev.size)
	case ev.src < 0:
		t0 := b.st.now() // the request's time too: one clock read fewer
		b.st.handlePeerAt(ev.id, ev.user, ev.frames, pre, t0)
		b.ops.latency.observe(time.Since(t0))
	default:
		b.st.handleUp(ev.src, ev.frames)
	}
}

// onMessage handles a message from socket src (-1: the ROUTER), on the
// goroutine of the connection that read it; its replies go out when it
// returns (zmq.WithHandler).
func (b *Broker) onMessage(m zmq.Msg, src int) {
	<-b.ready
	ev := msgEvent(m, src)
	// Parsing needs no state: done before taking the lock, it keeps the
	// lock's hold short, and the other connections' handlers wait less.
	var req request
	pre := &req
	if src >= 0 || ev.size != 0 || !preparse(ev.frames, pre) {
		pre = nil
	}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.handleMsg(ev, pre)
	dirty := b.st.dirty && len(b.st.ups) > 0
	b.mu.Unlock()
	if dirty {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func socketType(m zmq.Msg) string {
	typ, _ := m.Property("Socket-Type")
	return typ
}

// msgEvent is the event of a message from socket src.
func msgEvent(m zmq.Msg, src int) event {
	ev := event{kind: evMsg, src: src, frames: m.Frames, size: m.Truncated}
	if src < 0 { // a ROUTER message has a routing id and at least one frame
		ev.id, ev.frames, ev.user = m.Frames[0], m.Frames[1:], m.UserID()
		if m.Truncated > 0 && socketType(m) == "REQ" {
			ev.frames = [][]byte{{}} // its delimiter went with the body: a REQ needs one on the reply
		}
	}
	return ev
}

// watch turns a socket's events into the loop's: a closed connection of a
// client (whose generated routing id no other connection can have), an
// upstream connection up or down.
func (b *Broker) watch(events <-chan zmq.Event, src int) {
	defer b.wg.Done()
	for e := range events {
		if src < 0 {
			b.ops.connection(e)
		}
		var ev event
		switch {
		case src < 0 && e.Type == zmq.EventHandshakeSucceeded:
			ev = event{kind: evConn, src: src, id: e.RoutingID, addr: e.PeerAddr, hb: e.Heartbeats}
		case src < 0 && e.Type == zmq.EventDisconnected && len(e.RoutingID) > 0:
			if errors.Is(e.Err, zmq.ErrMsgTooLarge) {
				select { // counted and logged first, then gone
				case b.in <- event{kind: evCut, src: src, id: e.RoutingID, err: e.Err}:
				case <-b.quit:
				}
			}
			ev = event{kind: evGone, src: src, id: e.RoutingID, addr: e.PeerAddr}
		case src >= 0 && e.Type == zmq.EventHandshakeSucceeded:
			ev = event{kind: evUp, src: src}
		case src >= 0 && e.Type == zmq.EventDisconnected:
			ev = event{kind: evDown, src: src}
		default:
			continue
		}
		select {
		case b.in <- ev:
		case <-b.quit:
		}
	}
}

// generatedID reports whether a ROUTER generated id (a zero byte and
// four more): unique to one connection, unlike an id a peer chose, which
// a new connection may take over before the old one's end is reported.
func generatedID(id []byte) bool { return len(id) == 5 && id[0] == 0 }

// sendPeer implements sink with the ROUTER.
func (b *Broker) sendPeer(id []byte, delim bool, body []byte) error {
	frames := [][]byte{id, body}
	if delim {
		frames = [][]byte{id, {}, body}
	}
	return sockErr(b.router.TrySend(zmq.Msg{Frames: frames}))
}

// sendUp implements sink with the upstream DEALERs.
func (b *Broker) sendUp(i int, body []byte) error {
	return sockErr(b.ups[i].TrySend(zmq.NewMsg(body)))
}

func sockErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zmq.ErrWouldBlock):
		return errQueueFull
	case errors.Is(err, zmq.ErrHostUnreachable):
		return errGone
	}
	return err
}
