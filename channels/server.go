package channels

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq"
)

// ErrClosed is returned by a closed Server or Layer; errors.Is(ErrClosed,
// net.ErrClosed) holds.
var ErrClosed = zmq.ErrClosed

// DefaultBind is where DMB's layer looks for its server by default.
const DefaultBind = "tcp://127.0.0.1:5556"

// Config configures a Server. The zero value serves DMB's defaults on
// DefaultBind.
type Config struct {
	// Bind is tcp://HOST:PORT for the data port; signalling is PORT+1.
	// HOST may be an IP (v4, or v6 in brackets), a hostname or "*".
	// PORT 0 picks a free pair of adjacent ports.
	Bind string
	// Capacity is how many messages a channel holds for its receivers
	// (default 100, as DMB's layer and channels_redis); ChannelCapacity
	// overrides it for the channels matching a pattern, the first rule
	// that matches winning.
	Capacity        int
	ChannelCapacity []CapacityRule
	// Expiry is a message's time to live when the request has no "ttl"
	// (default 60 s).
	Expiry time.Duration
	// GroupExpiry is how long a channel stays in a group after its last
	// GROUPADD that gives no "ttl" (default 86400 s, as channels).
	GroupExpiry time.Duration
	// SubscriberExpiry is how long a subscription lasts after its last
	// SUBCHANX (default 86400 s, as DMB). A subscriber whose connection
	// closes, or stops answering heartbeats, goes at once.
	SubscriberExpiry time.Duration
	// Heartbeat is the ZMTP heartbeat interval on both sockets (default
	// 5 s); a peer that does not answer for 3 intervals is disconnected
	// and its subscriptions dropped. Negative disables heartbeats.
	Heartbeat time.Duration
	// SendHWM is the per-peer send queue (default 1000). A subscriber
	// whose queue is full is skipped; its channel's messages wait.
	SendHWM int
	// Logger receives the server's logs; nil is silent.
	Logger *slog.Logger

	// Redis, when set, holds channels, groups and queued messages in
	// channels_redis 4.0's layout (see redis.go), shared with every node
	// and every channels_redis layer on the same Redis and RedisPrefix.
	// The caller owns the client. One Redis or Sentinel: not a Cluster.
	// In Redis mode a message lives Expiry (a request's "ttl" is not
	// kept, as channels_redis has none) and a membership GroupExpiry.
	Redis redis.UniversalClient
	// RedisPrefix is channels_redis's key prefix ("asgi" if empty).
	RedisPrefix string
	// RedisLease is how long a node's claims on process channels outlive
	// it (default 15 s); they are renewed every third of it.
	RedisLease time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Bind == "" {
		c.Bind = DefaultBind
	}
	if c.Capacity == 0 {
		c.Capacity = 100
	}
	if c.Expiry == 0 {
		c.Expiry = 60 * time.Second
	}
	if c.GroupExpiry == 0 {
		c.GroupExpiry = 86400 * time.Second
	}
	if c.SubscriberExpiry == 0 {
		c.SubscriberExpiry = 86400 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 5 * time.Second
	}
	if c.SendHWM == 0 {
		c.SendHWM = 1000
	}
	if c.RedisLease == 0 {
		c.RedisLease = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Capacity < 0:
		return c, errors.New("channels: capacity must be positive")
	case c.Expiry < 0 || c.GroupExpiry < 0 || c.SubscriberExpiry < 0:
		return c, errors.New("channels: expiries must be positive")
	case c.RedisLease < 30*time.Millisecond:
		return c, errors.New("channels: RedisLease must be at least 30ms")
	case c.SendHWM < 0:
		return c, errors.New("channels: SendHWM must be positive")
	}
	for _, r := range c.ChannelCapacity {
		if err := r.check(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// SplitBind parses tcp://HOST:PORT into host and port.
func SplitBind(ep string) (host string, port int, err error) {
	addr, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return "", 0, fmt.Errorf("channels: bind %q: want tcp://HOST:PORT", ep)
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("channels: bind %q: %w", ep, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65534 {
		return "", 0, fmt.Errorf("channels: bind %q: port must be 0..65534 (signalling takes PORT+1)", ep)
	}
	if h == "" {
		return "", 0, fmt.Errorf("channels: bind %q: no host (use * for every interface)", ep)
	}
	return h, n, nil
}

func joinBind(host string, port int) string {
	if host == "*" {
		return "tcp://*:" + strconv.Itoa(port)
	}
	return "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// Server is a django-message-broker compatible channel-layer server: a
// data ROUTER and a signalling ROUTER, and one goroutine, the loop, that
// owns every queue, subscription and group.
type Server struct {
	cfg     Config
	log     *slog.Logger
	data    *zmq.Socket
	sig     *zmq.Socket
	addrs   [2]string
	st      *state
	in      chan event
	calls   chan func()
	results chan func() // from the Redis store's goroutines
	rs      *redisStore
	quit    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	final   Stats
	started time.Time
}

type event struct {
	sig    bool // from the signalling socket
	gone   bool // the peer's connection closed
	env    [][]byte
	frames [][]byte
}

// NewServer binds the two ports and serves until Close.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	host, port, err := SplitBind(cfg.Bind)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, in: make(chan event, 4096), calls: make(chan func()), results: make(chan func(), 1024),
		quit: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
	opts := []zmq.Option{
		zmq.WithRouterMandatory(true), // a full or gone subscriber is an error: skipped, never waited for
		zmq.WithSendHWM(cfg.SendHWM),
		zmq.WithMaxMsgSize(2 * MaxBodySize),
		zmq.WithLinger(time.Second),
		zmq.WithLogger(cfg.Logger),
	}
	if cfg.Heartbeat > 0 {
		opts = append(opts, zmq.WithHeartbeatInterval(cfg.Heartbeat), zmq.WithHeartbeatTimeout(3*cfg.Heartbeat))
	}
	// Port 0 asks for any free data port whose successor is free too.
	tries := 1
	if port == 0 {
		tries = 20
	}
	for i := 0; ; i++ {
		err = s.bind(opts, host, port)
		if err == nil {
			break
		}
		if i+1 >= tries {
			return nil, err
		}
	}
	dataEvents := s.data.Monitor(context.Background())
	sigEvents := s.sig.Monitor(context.Background())
	s.st = newState(&s.cfg, s)
	if cfg.Redis != nil {
		if s.rs, err = newRedisStore(s); err != nil {
			s.data.Close()
			s.sig.Close()
			return nil, err
		}
		s.st.rs = s.rs
	}
	s.wg.Add(4)
	go s.read(s.data, false)
	go s.read(s.sig, true)
	go s.watch(dataEvents, false)
	go s.watch(sigEvents, true)
	go s.loop()
	s.log.Info("channels: started", "data", s.addrs[0], "signalling", s.addrs[1],
		"capacity", cfg.Capacity, "expiry", cfg.Expiry, "group_expiry", cfg.GroupExpiry, "redis", cfg.Redis != nil)
	return s, nil
}

func (s *Server) bind(opts []zmq.Option, host string, port int) error {
	data, err := zmq.NewSocket(zmq.Router, opts...)
	if err != nil {
		return fmt.Errorf("channels: %w", err)
	}
	sig, err := zmq.NewSocket(zmq.Router, opts...)
	if err != nil {
		data.Close()
		return fmt.Errorf("channels: %w", err)
	}
	fail := func(err error) error {
		data.Close()
		sig.Close()
		return err
	}
	if err := data.Bind(joinBind(host, port)); err != nil {
		return fail(fmt.Errorf("channels: bind data port %s: %w", joinBind(host, port), err))
	}
	dataEP := data.LastEndpoint()
	_, p, err := SplitBind(dataEP)
	if err != nil {
		return fail(err)
	}
	if err := sig.Bind(joinBind(host, p+1)); err != nil {
		return fail(fmt.Errorf("channels: bind signalling port %s: %w", joinBind(host, p+1), err))
	}
	s.data, s.sig = data, sig
	s.addrs = [2]string{dataEP, sig.LastEndpoint()}
	return nil
}

// Addr returns the data endpoint as bound (port chosen); the signalling
// port is the next one.
func (s *Server) Addr() string { return s.addrs[0] }

// SignalAddr returns the signalling endpoint as bound.
func (s *Server) SignalAddr() string { return s.addrs[1] }

// Stats returns the server's counters and counts; after Close, the final
// ones.
func (s *Server) Stats() Stats {
	var st Stats
	if !s.do(func() { st = s.st.stats() }) {
		return s.final
	}
	return st
}

// GroupChannels lists the channels of group, sorted (nil after Close).
func (s *Server) GroupChannels(group string) []string {
	if s.rs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := s.rs.layer.GroupChannels(ctx, group)
		if err != nil {
			return nil
		}
		if l == nil {
			l = []string{}
		}
		sort.Strings(l)
		return l
	}
	var l []string
	s.do(func() { l = s.st.members(group) })
	return l
}

// ChannelInfo describes channel: subscribers, queued messages, groups.
func (s *Server) ChannelInfo(channel string) ChannelInfo {
	var ci ChannelInfo
	s.do(func() { ci = s.st.channelInfo(channel) })
	return ci
}

// waitChannel waits until cond holds for channel's info, checking each
// time a subscription comes or goes.
func (s *Server) waitChannel(ctx context.Context, channel string, cond func(ChannelInfo) bool) error {
	for {
		var ok bool
		var changed chan struct{}
		if !s.do(func() { ok, changed = cond(s.st.channelInfo(channel)), s.st.changed }) {
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

// Close stops the server: what was received is handled, then both
// sockets close. Later calls do nothing.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.quit)
		<-s.done
		if s.rs != nil {
			s.rs.stop()
		}
		s.data.Close()
		s.sig.Close()
		s.wg.Wait()
		s.log.Info("channels: stopped", "received", s.final.Received, "delivered", s.final.Delivered)
	})
	return nil
}

func (s *Server) do(fn func()) bool {
	ch := make(chan struct{})
	select {
	case s.calls <- func() { fn(); close(ch) }:
		<-ch
		return true
	case <-s.done:
		return false
	}
}

func (s *Server) loop() {
	defer close(s.done)
	st := s.st
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	// The retry timer runs only while some channel waits for a full
	// subscriber, so an idle server does not wake.
	retry := time.NewTimer(retryInterval)
	retry.Stop()
	defer retry.Stop()
	armed := false
	defer func() { s.final = st.stats() }()
	for {
		if !armed && len(st.block) > 0 {
			retry.Reset(retryInterval)
			armed = true
		}
		select {
		case ev := <-s.in:
			s.handle(ev)
		case fn := <-s.calls:
			fn()
		case fn := <-s.results:
			fn()
		case <-sweep.C:
			st.sweep(time.Now())
		case <-retry.C:
			armed = false
			st.retryBlocked()
		case <-s.quit:
			for {
				select {
				case ev := <-s.in:
					s.handle(ev)
				default:
					return
				}
			}
		}
	}
}

// sweepInterval is how often expired messages, subscriptions and group
// members go, as DMB's 1 s message sweep.
const sweepInterval = time.Second

// retryInterval is how soon a channel whose subscribers were all full is
// tried again.
const retryInterval = 5 * time.Millisecond

func (s *Server) handle(ev event) {
	switch {
	case ev.gone:
		s.st.gone(ev.sig, string(ev.env[0]))
	case ev.sig:
		s.st.onSignal(ev.env, ev.frames)
	default:
		s.st.onData(ev.env, ev.frames)
	}
}

func (s *Server) read(sock *zmq.Socket, sig bool) {
	defer s.wg.Done()
	for {
		m, err := sock.Recv(context.Background())
		if err != nil {
			if !errors.Is(err, zmq.ErrClosed) {
				s.log.Error("channels: receive failed; no more messages from this socket", "err", err)
			}
			return
		}
		env, rest, err := splitEnvelope(m.Frames)
		ev := event{sig: sig, env: env, frames: rest}
		if err != nil || len(env) == 0 {
			// No delimiter: not DMB's framing. Nothing to answer by id.
			s.st.badFrames.Add(1)
			s.log.Debug("channels: dropped a message without a delimiter", "signalling", sig, "frames", len(m.Frames))
			continue
		}
		select {
		case s.in <- ev:
		case <-s.quit:
			return
		}
	}
}

// watch turns closed connections into the loop's gone events.
func (s *Server) watch(events <-chan zmq.Event, sig bool) {
	defer s.wg.Done()
	for e := range events {
		if e.Type != zmq.EventDisconnected || len(e.RoutingID) == 0 {
			continue
		}
		select {
		case s.in <- event{sig: sig, gone: true, env: [][]byte{e.RoutingID}}:
		case <-s.quit:
		}
	}
}

// send implements sink with the two ROUTERs; errors as sockErr.
func (s *Server) send(sig bool, msg [][]byte) error {
	sock := s.data
	if sig {
		sock = s.sig
	}
	return sockErr(sock.TrySend(zmq.Msg{Frames: msg}))
}

var (
	errPeerFull = errors.New("channels: peer's send queue is full")
	errPeerGone = errors.New("channels: peer is gone")
)

func sockErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zmq.ErrWouldBlock):
		return errPeerFull
	case errors.Is(err, zmq.ErrHostUnreachable):
		return errPeerGone
	}
	return err
}
