// Package loadtest measures a message broker (package broker): N clients
// each send M direct messages through it, and it reports the throughput
// and the delivery latency; then one of many connected clients broadcasts,
// and it reports how long the broadcast took to reach them all.
// `zmqgo broker-load` runs it from the command line.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/broker"
)

// Config says what to measure. Zero fields take the defaults.
type Config struct {
	// Addr is the broker to measure. Default: one started in-process on
	// a free port, without rate limit.
	Addr string
	// Addrs, if more than one, are nodes of one broker (a cluster on
	// Redis): client i connects to Addrs[i%len(Addrs)], so each direct
	// message (to the next client) crosses nodes, and the broadcast's
	// clients are spread evenly. It overrides Addr.
	Addrs []string
	// Clients send Messages direct messages each, of Size bytes of
	// content, to the next client (the last to the first), pipelined:
	// Window requests in flight each, the next sent as each confirmation
	// arrives (Client.SendAsync). No Clients: no direct messages.
	// Defaults: 1000 messages, 100 bytes, a window of 16.
	Clients  int
	Messages int
	Size     int
	Window   int
	// Broadcast is how many clients take part in the broadcast test; 0
	// skips it.
	Broadcast int
	// Named gives each client's DEALER its name as routing id, as brokers
	// that print routing ids (the router-dealer example's) need.
	Named bool
	// Logger is the in-process broker's (default: none).
	Logger *slog.Logger
	// BrokerPID, if not 0, is the broker's process (Linux): Run reports its
	// CPU time over the direct messages (Result.BrokerCPU), from its
	// threads' run time in /proc. Only that phase counts: not the
	// connections, registrations, nor anything broker-load does before.
	BrokerPID int
}

// Result is what Run measured.
type Result struct {
	Clients, Messages, Size, Window int

	Sent      int           // direct messages the broker accepted
	Failed    int           // direct messages the broker could not queue (status "failed")
	Lost      int           // replies the broker dropped, the sender's own queue being full (broker.ErrNoReply): the message may have arrived
	Delivered int           // direct messages that arrived
	Elapsed   time.Duration // from the first send to the last arrival
	Rate      float64       // Delivered per second of Elapsed
	P50, P99  time.Duration // delivery latency: send call to the recipient's handler
	Max       time.Duration
	BrokerCPU time.Duration // Config.BrokerPID's CPU time from the first send to the last arrival

	BroadcastClients   int           // clients connected for the broadcast
	BroadcastConnect   time.Duration // to connect and register them all
	BroadcastConfirmed int           // recipients the broker confirmed
	BroadcastReached   int           // clients the broadcast reached
	BroadcastTime      time.Duration // until it had reached them all
}

func (r Result) String() string {
	var b strings.Builder
	if r.Clients > 0 {
		fmt.Fprintf(&b, "direct messages: %d clients x %d messages of %d bytes, window %d\n", r.Clients, r.Messages, r.Size, r.Window)
		lost := ""
		if r.Lost > 0 {
			lost = fmt.Sprintf(", %d replies lost", r.Lost)
		}
		fmt.Fprintf(&b, "  delivered %d of %d in %v (%d failed%s): %.0f msgs/s\n", r.Delivered, r.Sent, r.Elapsed.Round(time.Millisecond), r.Failed, lost, r.Rate)
		fmt.Fprintf(&b, "  latency p50 %v, p99 %v, max %v\n", round(r.P50), round(r.P99), round(r.Max))
		if r.BrokerCPU > 0 && r.Delivered > 0 {
			fmt.Fprintf(&b, "  broker CPU %v: %.2f µs per direct message\n", r.BrokerCPU.Round(time.Millisecond), float64(r.BrokerCPU)/float64(r.Delivered)/1e3)
		}
	}
	if r.BroadcastClients > 0 {
		fmt.Fprintf(&b, "broadcast: %d clients connected and registered in %v\n", r.BroadcastClients, r.BroadcastConnect.Round(time.Millisecond))
		fmt.Fprintf(&b, "  reached %d of %d in %v (broker confirmed %d)\n", r.BroadcastReached, r.BroadcastClients-1, round(r.BroadcastTime), r.BroadcastConfirmed)
	}
	return b.String()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 100*time.Microsecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// addr is the broker client i connects to.
func (cfg *Config) addr(i int) string {
	if len(cfg.Addrs) > 0 {
		return cfg.Addrs[i%len(cfg.Addrs)]
	}
	return cfg.Addr
}

// Run runs the load test.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Messages == 0 {
		cfg.Messages = 1000
	}
	if cfg.Size <= 0 {
		cfg.Size = 100
	}
	if cfg.Window <= 0 {
		cfg.Window = 16
	}
	if cfg.Clients < 0 || cfg.Messages < 0 || cfg.Broadcast < 0 {
		return Result{}, errors.New("loadtest: negative count")
	}
	if err := EnsureFiles(2*(cfg.Clients+cfg.Broadcast) + 256); err != nil {
		return Result{}, err
	}
	if len(cfg.Addrs) > 0 {
		cfg.Addr = cfg.Addrs[0]
	}
	if cfg.Addr == "" {
		b, err := broker.New(broker.Config{Bind: []string{"tcp://127.0.0.1:0"}, Rate: -1, Logger: cfg.Logger})
		if err != nil {
			return Result{}, err
		}
		defer b.Close()
		cfg.Addr = b.Addr()
	}
	r := Result{Clients: cfg.Clients, Messages: cfg.Messages, Size: cfg.Size, Window: cfg.Window}
	// Names unique to this run, should the broker have other clients.
	prefix := fmt.Sprintf("load-%06x-", rand.Uint32()&0xffffff)
	if cfg.Clients > 0 && cfg.Messages > 0 {
		if err := direct(ctx, cfg, prefix, &r); err != nil {
			return r, err
		}
	}
	if cfg.Broadcast > 1 {
		if err := broadcast(ctx, cfg, prefix, &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// receiver counts what reaches one client and when; its handler runs on
// the client's receiving goroutine (broker.WithInlineHandler: it never
// waits), one message at a time.
type receiver struct {
	lat []time.Duration
}

func direct(ctx context.Context, cfg Config, prefix string, r *Result) error {
	base := time.Now()
	var delivered atomic.Int64
	var lastArrival atomic.Int64 // since base
	arrived := make(chan struct{}, 1)
	recv := make([]*receiver, cfg.Clients)
	clients := make([]*broker.Client, cfg.Clients)
	defer closeAll(clients)
	for i := range clients {
		rc := &receiver{}
		recv[i] = rc
		opts := []broker.ClientOption{broker.WithInlineHandler(func(ctx context.Context, m broker.Message) {
			if m.Type != broker.TypeDirectMessage {
				return
			}
			now := time.Since(base)
			if t0, ok := sentAt(m.Content); ok {
				rc.lat = append(rc.lat, now-t0)
			}
			lastArrival.Store(int64(now))
			delivered.Add(1)
			select {
			case arrived <- struct{}{}:
			default:
			}
		})}
		if cfg.Named {
			opts = append(opts, broker.WithSocketOptions(zmq.WithRoutingID(fmt.Appendf(nil, "%sd%d", prefix, i))))
		}
		c, err := broker.NewClient(cfg.addr(i), opts...)
		if err != nil {
			return err
		}
		clients[i] = c
	}
	if err := registerAll(ctx, clients, prefix+"d"); err != nil {
		return err
	}
	pad := strings.Repeat("x", max(cfg.Size-20, 0))
	var sent, failed, lost atomic.Int64
	var cpu0 time.Duration
	if cfg.BrokerPID != 0 {
		var err error
		if cpu0, err = ProcessCPU(cfg.BrokerPID); err != nil {
			return err
		}
	}
	start := time.Since(base)
	// Each client keeps Window requests in flight: it sends Window, then
	// one more as each confirmation comes (Client.SendAsync), from the
	// goroutine that received it, so the requests a read's confirmations
	// release go out in one write, as a pipelining client's would.
	var fail atomic.Pointer[error]
	finished := make(chan struct{}, cfg.Clients)
	for i, c := range clients {
		target := fmt.Sprintf("%sd%d", prefix, (i+1)%len(clients))
		var next, completed int // guarded by mu: started from here, continued from the client's receiver
		var mu sync.Mutex
		// complete counts a message done with; true for the client's last.
		complete := func() bool {
			mu.Lock()
			completed++
			all := completed == cfg.Messages
			mu.Unlock()
			if all {
				finished <- struct{}{}
			}
			return all
		}
		var send func()
		done := func(_ string, err error) {
			switch {
			case errors.Is(err, broker.ErrNotDelivered):
				failed.Add(1)
			case errors.Is(err, broker.ErrNoReply):
				// The broker dropped the confirmation: this client's queue
				// there was full (it receives faster than it reads). A later
				// reply showed it.
				lost.Add(1)
			case err != nil:
				e := fmt.Errorf("loadtest: send: %w", err)
				fail.CompareAndSwap(nil, &e)
			default:
				sent.Add(1)
			}
			if !complete() {
				send()
			}
		}
		send = func() {
			mu.Lock()
			if next == cfg.Messages {
				mu.Unlock()
				return
			}
			next++
			mu.Unlock()
			var sb strings.Builder // one allocation for the content
			sb.Grow(20 + len(pad))
			sb.Write(strconv.AppendInt(make([]byte, 0, 20), int64(time.Since(base)), 10))
			sb.WriteByte('|')
			sb.WriteString(pad)
			if err := c.SendAsync(target, sb.String(), done); err != nil {
				e := fmt.Errorf("loadtest: send: %w", err)
				fail.CompareAndSwap(nil, &e)
				complete()
			}
		}
		for range min(cfg.Window, cfg.Messages) {
			send()
		}
	}
	for range cfg.Clients {
		select {
		case <-finished:
		case <-ctx.Done():
			return fmt.Errorf("loadtest: %d of %d messages confirmed: %w", sent.Load()+failed.Load()+lost.Load(), cfg.Clients*cfg.Messages, ctx.Err())
		}
	}
	if err := fail.Load(); err != nil {
		return *err
	}
	r.Sent, r.Failed, r.Lost = int(sent.Load()), int(failed.Load()), int(lost.Load())
	for delivered.Load() < sent.Load() {
		select {
		case <-arrived:
		case <-ctx.Done():
			r.Delivered = int(delivered.Load())
			return fmt.Errorf("loadtest: %d of %d messages arrived: %w", r.Delivered, r.Sent, ctx.Err())
		}
	}
	r.Delivered = int(delivered.Load())
	if cfg.BrokerPID != 0 {
		cpu1, err := ProcessCPU(cfg.BrokerPID)
		if err != nil {
			return err
		}
		r.BrokerCPU = cpu1 - cpu0
	}
	r.Elapsed = time.Duration(lastArrival.Load()) - start
	if r.Elapsed > 0 {
		r.Rate = float64(r.Delivered) / r.Elapsed.Seconds()
	}
	closeAll(clients) // handlers done: their latencies may be read
	var lat []time.Duration
	for _, rc := range recv {
		lat = append(lat, rc.lat...)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		r.P50 = lat[len(lat)*50/100]
		r.P99 = lat[min(len(lat)*99/100, len(lat)-1)]
		r.Max = lat[len(lat)-1]
	}
	return nil
}

// sentAt reads the send time from content "NANOS|padding" (a JSON string).
func sentAt(content []byte) (time.Duration, bool) {
	if len(content) < 2 || content[0] != '"' {
		return 0, false
	}
	var n int64
	for i, c := range content[1:] {
		switch {
		case c == '|' && i > 0:
			return time.Duration(n), true
		case c < '0' || c > '9' || n > (1<<63-1)/10-1:
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return 0, false
}

func broadcast(ctx context.Context, cfg Config, prefix string, r *Result) error {
	n := cfg.Broadcast
	r.BroadcastClients = n
	marker := prefix + "broadcast"
	var reached atomic.Int64
	var sentAt atomic.Int64 // unix nanos
	var last atomic.Int64
	all := make(chan struct{})
	clients := make([]*broker.Client, n)
	defer closeAll(clients)
	start := time.Now()
	for i := range clients {
		c, err := broker.NewClient(cfg.addr(i), broker.WithHandler(func(ctx context.Context, m broker.Message) {
			if m.Type == broker.TypeBroadcast && m.Text() == marker {
				last.Store(time.Now().UnixNano())
				if reached.Add(1) == int64(n-1) {
					close(all)
				}
			}
		}))
		if err != nil {
			return err
		}
		clients[i] = c
	}
	if err := registerAll(ctx, clients, prefix+"b"); err != nil {
		return err
	}
	r.BroadcastConnect = time.Since(start)
	sentAt.Store(time.Now().UnixNano())
	confirmed, err := clients[0].Broadcast(ctx, marker)
	if err != nil {
		return fmt.Errorf("loadtest: broadcast: %w", err)
	}
	r.BroadcastConfirmed = confirmed
	select {
	case <-all:
	case <-ctx.Done():
		r.BroadcastReached = int(reached.Load())
		return fmt.Errorf("loadtest: the broadcast reached %d of %d clients: %w", r.BroadcastReached, n-1, ctx.Err())
	}
	r.BroadcastReached = int(reached.Load())
	r.BroadcastTime = time.Duration(last.Load() - sentAt.Load())
	return nil
}

// registerAll registers clients[i] as prefix+i, many at a time.
func registerAll(ctx context.Context, clients []*broker.Client, prefix string) error {
	g, gctx := newGroup(ctx)
	sem := make(chan struct{}, 64)
	for i, c := range clients {
		g.run(func() error {
			select {
			case sem <- struct{}{}:
			case <-gctx.Done():
				return gctx.Err()
			}
			defer func() { <-sem }()
			if _, err := c.Register(gctx, fmt.Sprint(prefix, i)); err != nil {
				return fmt.Errorf("loadtest: register %s%d: %w", prefix, i, err)
			}
			return nil
		})
	}
	return g.wait()
}

func closeAll(clients []*broker.Client) {
	var wg sync.WaitGroup
	for _, c := range clients {
		if c != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Close()
			}()
		}
	}
	wg.Wait()
}

// group runs functions and keeps the first error, cancelling the others.
type group struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) (*group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &group{cancel: cancel}, ctx
}

func (g *group) run(fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(); err != nil {
			g.once.Do(func() {
				g.err = err
				g.cancel()
			})
		}
	}()
}

func (g *group) wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
