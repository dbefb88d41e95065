package channels

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/channels/redislayer"
	"github.com/zmqgo/zmq/internal/ztest"
)

// newRedis starts a private redis-server and returns it with a client
// factory (each node gets its own client, as separate processes would).
func newRedis(t *testing.T) *ztest.Redis {
	t.Helper()
	return ztest.StartRedis(t)
}

func redisClient(t testing.TB, srv *ztest.Redis) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.DialTimeout, opt.MaxRetries = time.Second, 1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// startRedisNode starts a server storing in srv.
func startRedisNode(t *testing.T, srv *ztest.Redis, cfg Config) *Server {
	t.Helper()
	cfg.Redis = redisClient(t, srv)
	return startServer(t, cfg)
}

func TestRedisStoreGoLayer(t *testing.T) {
	srv := newRedis(t)
	s := startRedisNode(t, srv, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 20*time.Second)
	for i := range 3 {
		if err := l.Send(ctx, "r.chan", Message{"type": "m", "i": i}); err != nil {
			t.Fatal(err)
		}
	}
	rdb := redisClient(t, srv)
	if n := rdb.ZCard(ctx, "asgir.chan").Val(); n != 3 {
		t.Fatalf("asgir.chan holds %d messages, want 3 (channels_redis layout)", n)
	}
	for i := range 3 {
		m, err := l.Receive(ctx, "r.chan")
		if err != nil || fmt.Sprint(m["i"]) != fmt.Sprint(i) {
			t.Fatalf("receive %d: %v %v", i, m, err)
		}
	}
	// Groups live in Redis.
	pc := l.NewChannel("")
	for _, ch := range []string{"r.g1", pc} {
		if err := l.GroupAdd(ctx, "r.group", ch); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := l.GroupChannels(ctx, "r.group"); err != nil || len(got) != 2 {
		t.Fatalf("GROUPLST: %v %v", got, err)
	}
	if n := rdb.ZCard(ctx, "asgi:group:r.group").Val(); n != 2 {
		t.Fatalf("group key holds %d", n)
	}
	if err := l.GroupSend(ctx, "r.group", Message{"type": "to.group"}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"r.g1", pc} {
		if m, err := l.Receive(ctx, ch); err != nil || m["type"] != "to.group" {
			t.Fatalf("%s: %v %v", ch, m, err)
		}
	}
	// Process channel: sent through this node, delivered locally.
	if err := l.Send(ctx, pc, Message{"type": "direct"}); err != nil {
		t.Fatal(err)
	}
	if m, err := l.Receive(ctx, pc); err != nil || m["type"] != "direct" {
		t.Fatalf("%v %v", m, err)
	}
	// Capacity is channels_redis's, in Redis.
	for i := range 100 {
		if err := l.Send(ctx, "r.full", Message{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Send(ctx, "r.full", Message{"i": 100}); !errors.Is(err, ErrChannelFull) {
		t.Fatalf("101st send: %v, want ErrChannelFull", err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, "asgir.full", "asgi:group:r.group").Val(); n != 0 {
		t.Fatalf("%d keys left after flush", n)
	}
	if st := s.Stats(); st.Store != "redis" || !st.StoreUp {
		t.Fatalf("%+v", st)
	}
}

// Two nodes on one Redis share channels and groups; process channels are
// delivered by the node their receiver is attached to, whoever sends.
func TestRedisTwoNodes(t *testing.T) {
	needPython(t)
	srv := newRedis(t)
	a := startRedisNode(t, srv, Config{})
	b := startRedisNode(t, srv, Config{})
	la, lb := dial(t, a), dial(t, b)
	ctx := ctxT(t, 60*time.Second)

	// DMB clients, one per node, process channels in the shared key.
	onA, onB := "specific.zmq_id_00!onA", "specific.zmq_id_00!onB"
	gotA, gotB := dmbRecv(ctx, a.Addr(), onA), dmbRecv(ctx, b.Addr(), onB)
	waitSubscribers(t, a, onA, 1, 20*time.Second)
	waitSubscribers(t, b, onB, 1, 20*time.Second)
	waitClaim(t, srv, onA)
	waitClaim(t, srv, onB)
	// A process channel is one node's: B's subscriber is refused.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if _, err := lb.Receive(rctx, onA); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second receiver of %s on another node: %v, want a refusal", onA, err)
	}
	cancel()

	pcB := lb.NewChannel("")
	for _, ch := range []string{"a.member", "b.member", onA, onB, pcB} {
		if err := la.GroupAdd(ctx, "room", ch); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.GroupChannels("room"); len(got) != 5 {
		t.Fatalf("node B sees %v", got)
	}
	if err := lb.GroupSend(ctx, "room", Message{"type": "to.room"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		l  *Layer
		ch string
	}{{la, "a.member"}, {lb, "b.member"}, {lb, pcB}} {
		if m, err := c.l.Receive(ctx, c.ch); err != nil || m["type"] != "to.room" {
			t.Fatalf("%s: %v %v", c.ch, m, err)
		}
	}
	for _, got := range []<-chan string{gotA, gotB} {
		if out := <-got; out != `{"type": "to.room"}` {
			t.Fatal(out)
		}
	}
	// Node A sends to B's process channel: forwarded to B's inbox.
	before := a.Stats().Forwarded
	if err := la.Send(ctx, pcB, Message{"type": "a.to.b"}); err != nil {
		t.Fatal(err)
	}
	if m, err := lb.Receive(ctx, pcB); err != nil || m["type"] != "a.to.b" {
		t.Fatalf("%v %v", m, err)
	}
	if a.Stats().Forwarded != before+1 {
		t.Fatalf("forwarded %d, want %d", a.Stats().Forwarded, before+1)
	}

	// Receivers of one channel on both nodes: each message once.
	const n = 20
	for i := range n {
		if err := la.Send(ctx, "both", Message{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(chan int, 2*n)
	var wg sync.WaitGroup
	rctx, cancel = context.WithCancel(ctx)
	for _, l := range []*Layer{la, lb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := l.Receive(rctx, "both")
				if err != nil {
					return
				}
				seen <- int(m["i"].(int64))
			}
		}()
	}
	got := map[int]bool{}
	for len(got) < n {
		select {
		case i := <-seen:
			if got[i] {
				t.Fatalf("message %d twice", i)
			}
			got[i] = true
		case <-ctx.Done():
			t.Fatalf("got %d of %d", len(got), n)
		}
	}
	cancel()
	wg.Wait()
}

// waitClaim waits until a node's claim on process channel ch is in Redis
// (claims are written after the subscription is taken locally; Redis
// offers no event to wait on, so this polls).
func waitClaim(t *testing.T, srv *ztest.Redis, ch string) {
	t.Helper()
	rdb := redisClient(t, srv)
	deadline := time.Now().Add(20 * time.Second)
	for rdb.Exists(context.Background(), "zmqgo:{c}:proc:"+ch).Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no claim on %s", ch)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Redis goes away under load and comes back empty: the nodes say so (log,
// Stats, /metrics), keep delivering between their own clients' process
// channels, refuse the rest at once, and resume without a restart.
func TestRedisOutage(t *testing.T) {
	srv := newRedis(t)
	logs := &lockedBuf{}
	a := startRedisNode(t, srv, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	b := startRedisNode(t, srv, Config{})
	la, lb := dial(t, a), dial(t, b)
	ctx := ctxT(t, 60*time.Second)

	pcA := la.NewChannel("")
	if err := la.Send(ctx, pcA, Message{"type": "warm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := la.Receive(ctx, pcA); err != nil {
		t.Fatal(err)
	}
	waitClaim(t, srv, pcA)

	// Load: A sends to a channel B receives, all along.
	var sent, failed, received atomic.Int64
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; lctx.Err() == nil; i++ {
			if err := la.Send(lctx, "load", Message{"i": i}); err != nil {
				failed.Add(1)
				continue
			}
			sent.Add(1)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			if _, err := lb.Receive(lctx, "load"); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	waitFor(t, "traffic before the outage", func() bool { return received.Load() > 100 })

	srv.Kill()
	waitFor(t, "node A to notice", func() bool { return !a.Stats().StoreUp })
	waitFor(t, "sends refused", func() bool { return failed.Load() > 0 })
	if !strings.Contains(logs.String(), "Redis unreachable") {
		t.Fatalf("no outage in the log:\n%s", logs)
	}
	if m := metrics(t, a); !strings.Contains(m, "zmqgo_channels_store_up 0\n") {
		t.Fatalf("metrics during the outage:\n%s", m)
	}
	// Local process channels keep working.
	if err := la.Send(ctx, pcA, Message{"type": "during"}); err != nil {
		t.Fatal(err)
	}
	if m, err := la.Receive(ctx, pcA); err != nil || m["type"] != "during" {
		t.Fatalf("%v %v", m, err)
	}
	err := la.Send(ctx, "elsewhere", Message{"type": "x"})
	if err == nil || !strings.Contains(err.Error(), "StoreUnavailable") {
		t.Fatalf("send during the outage: %v", err)
	}

	srv.Start() // empty, as after a restart without persistence
	waitFor(t, "node A to resume", func() bool { return a.Stats().StoreUp })
	n := received.Load()
	waitFor(t, "traffic after the outage", func() bool { return received.Load() > n+100 })
	stop()
	wg.Wait()
	// Cross-node process channel: A's claim was renewed into the new Redis.
	waitClaim(t, srv, pcA)
	if err := lb.Send(ctx, pcA, Message{"type": "after"}); err != nil {
		t.Fatal(err)
	}
	if m, err := la.Receive(ctx, pcA); err != nil || m["type"] != "after" {
		t.Fatalf("%v %v", m, err)
	}
	if m := metrics(t, a); !strings.Contains(m, "zmqgo_channels_store_up 1\n") || !strings.Contains(m, "zmqgo_channels_store_outages_total 1\n") {
		t.Fatalf("metrics after the outage:\n%s", m)
	}
	t.Logf("sent %d, refused %d during the outage, received %d", sent.Load(), failed.Load(), received.Load())
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition that has no event
	}
}

func metrics(t *testing.T, s *Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// Many normal channels subscribed on one node are popped over one Redis
// connection: more channels than go-redis's pool (20 here) all deliver.
func TestRedisManyChannels(t *testing.T) {
	srv := newRedis(t)
	s := startRedisNode(t, srv, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 60*time.Second)
	const n = 100
	got := make(chan string, n)
	for i := range n {
		ch := fmt.Sprintf("many.%d", i)
		go func() {
			if m, err := l.Receive(ctx, ch); err == nil {
				got <- m["ch"].(string)
			}
		}()
	}
	waitFor(t, "subscriptions", func() bool { return s.Stats().Subscribers == n })
	for i := range n {
		ch := fmt.Sprintf("many.%d", i)
		if err := l.Send(ctx, ch, Message{"ch": ch}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case ch := <-got:
			seen[ch] = true
		case <-ctx.Done():
			t.Fatalf("%d of %d delivered", len(seen), n)
		}
	}
	if st := s.Stats(); !st.StoreUp || st.StoreErrors != 0 {
		t.Fatalf("%+v", st)
	}
}

// A node that died (its claim left behind, never renewed) holds a process
// channel only until its lease runs out; then another node's subscriber
// takes it, and messages for it reach the new owner.
func TestRedisDeadNodeClaimExpires(t *testing.T) {
	srv := newRedis(t)
	rdb := redisClient(t, srv)
	ctx := ctxT(t, 60*time.Second)
	pc := "specific.zmq_id_00!orphan"
	const lease = 500 * time.Millisecond
	if err := rdb.Set(ctx, "zmqgo:{c}:proc:"+pc, "deadnode", lease).Err(); err != nil {
		t.Fatal(err)
	}
	b := startRedisNode(t, srv, Config{RedisLease: lease})
	lb := dial(t, b)
	if _, err := lb.Receive(ctx, pc); err == nil || !strings.Contains(err.Error(), "SubscriptionError") {
		t.Fatalf("while the dead node's claim lasts: %v", err)
	}
	waitFor(t, "the dead claim to expire", func() bool { return rdb.Exists(ctx, "zmqgo:{c}:proc:"+pc).Val() == 0 })
	got := make(chan Message, 1)
	go func() {
		m, err := lb.Receive(ctx, pc)
		if err != nil {
			m = Message{"err": err.Error()}
		}
		got <- m
	}()
	waitClaim(t, srv, pc)
	a := startRedisNode(t, srv, Config{RedisLease: lease})
	if err := dial(t, a).Send(ctx, pc, Message{"type": "to.new.owner"}); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m["type"] != "to.new.owner" {
		t.Fatal(m)
	}
	if v := rdb.Get(ctx, "zmqgo:{c}:proc:"+pc).Val(); v == "deadnode" || v == "" {
		t.Fatalf("claim %q", v)
	}
}

// A subscriber that stops reading: the node holds at most popAhead of its
// channel's messages plus its socket queue; the rest waits in Redis.
func TestRedisSlowSubscriberBounded(t *testing.T) {
	srv := newRedis(t)
	rdb := redisClient(t, srv)
	s := startRedisNode(t, srv, Config{Capacity: 1000, SendHWM: 4})
	ctx := ctxT(t, 60*time.Second)
	d, err := zmq.NewSocket(zmq.Dealer, zmq.WithRecvHWM(1), zmq.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Connect(s.Addr()); err != nil {
		t.Fatal(err)
	}
	sub := DataMessage{Channel: []byte("slow"), Command: CmdSubscribe, ID: newID(), Props: Props{{"subscriber_name", []byte("slow")}}}
	fr, _ := sub.Frames()
	if err := d.Send(ctx, zmq.Msg{Frames: append([][]byte{nil}, fr...)}); err != nil {
		t.Fatal(err)
	}
	waitSubscribers(t, s, "slow", 1, 10*time.Second)
	const n, size = 600, 32 << 10
	body, _ := EncodeMessage(Message{"pad": bytes.Repeat([]byte{'x'}, size)})
	rl, err := redislayer.New(rdb, redislayer.Config{Capacity: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := rl.SendMsgpack(ctx, "slow", body); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the node stops popping (its credit used up), then check
	// where the messages are.
	var last int64 = -1
	waitFor(t, "the node to stop popping", func() bool {
		left := rdb.ZCard(ctx, "asgislow").Val()
		stable := left == last
		last = left
		time.Sleep(100 * time.Millisecond) // popping is continuous while credit lasts
		return stable
	})
	st := s.Stats()
	if st.Queued > popAhead || last < n/2 {
		t.Fatalf("node holds %d, Redis %d of %d", st.Queued, last, n)
	}
	t.Logf("node queue %d, delivered %d, waiting in Redis %d", st.Queued, st.Delivered, last)
}

// redis-server restarted (SIGTERM, back empty on the same port) under
// load: traffic resumes and the node's process-channel claims are back in
// the new Redis within a renewal, without restarting the node.
func TestRedisRestartUnderLoad(t *testing.T) {
	srv := newRedis(t)
	const lease = 600 * time.Millisecond
	a := startRedisNode(t, srv, Config{RedisLease: lease})
	b := startRedisNode(t, srv, Config{RedisLease: lease})
	la, lb := dial(t, a), dial(t, b)
	ctx := ctxT(t, 60*time.Second)
	pcA := la.NewChannel("")
	got := make(chan Message, 1)
	go func() {
		m, _ := la.Receive(ctx, pcA)
		got <- m
	}()
	waitClaim(t, srv, pcA)

	var received atomic.Int64
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; lctx.Err() == nil; i++ {
			la.Send(lctx, "load", Message{"i": i})
		}
	}()
	go func() {
		defer wg.Done()
		for {
			if _, err := lb.Receive(lctx, "load"); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	waitFor(t, "traffic before the restart", func() bool { return received.Load() > 50 })
	srv.Restart()
	n := received.Load()
	waitFor(t, "traffic after the restart", func() bool { return received.Load() > n+50 })
	stop()
	wg.Wait()
	waitClaim(t, srv, pcA)
	if err := lb.Send(ctx, pcA, Message{"type": "after.restart"}); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m["type"] != "after.restart" {
		t.Fatal(m)
	}
	t.Logf("outages seen: node A %d, node B %d", a.Stats().StoreOutages, b.Stats().StoreOutages)
}
