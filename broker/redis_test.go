package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq/internal/ztest"
)

// Tests of a cluster of broker nodes on one Redis (redis.go), each on a
// private redis-server from ztest.StartRedis.

// go-redis logs each failed reconnection on stderr; the nodes report
// outages in their own logs, which the tests check.
func init() { redis.SetLogger(quietRedis{}) }

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// syncLogs is a log destination safe for concurrent use.
type syncLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type testNode struct {
	*Broker
	logs *syncLogs
}

func (n testNode) cluster() *cluster { return n.st.cluster }

// kill stops the node as SIGKILL would for the others: it stops renewing
// and its connections close, but it gives nothing back in Redis.
func (n testNode) kill() {
	n.cluster().abandon.Store(true)
	n.cluster().cancel() // no more Redis traffic, as from a dead process
	n.Close()
}

func startNode(t *testing.T, url string, rc RedisConfig) testNode {
	t.Helper()
	logs := &syncLogs{}
	rc.URL = url
	if rc.Lease == 0 {
		rc.Lease = 3 * time.Second
	}
	if rc.ConfirmTimeout == 0 {
		rc.ConfirmTimeout = 5 * time.Second
	}
	b := startBroker(t, Config{Redis: &rc, Rate: -1, Linger: -1,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	return testNode{b, logs}
}

func startNodes(t *testing.T, n int, rc RedisConfig) (*ztest.Redis, []testNode) {
	t.Helper()
	r := ztest.StartRedis(t)
	var nodes []testNode
	for range n {
		nodes = append(nodes, startNode(t, r.URL(), rc))
	}
	return r, nodes
}

// Three nodes on one Redis are one broker: names unique across them,
// direct messages and their confirmations across nodes, list_clients of
// all, errors as on one node.
func TestRedisCluster(t *testing.T) {
	ctx := testCtx(t)
	_, n := startNodes(t, 3, RedisConfig{})
	alice, aliceIn := client(t, n[0].Addr(), "alice")
	bob, bobIn := client(t, n[1].Addr(), "bob")
	carol, carolIn := client(t, n[2].Addr(), "carol")

	var e *Error
	dup, _ := client(t, n[2].Addr(), "")
	if _, err := dup.Register(ctx, "alice"); !errors.As(err, &e) || e.Message != `name "alice" is taken` {
		t.Fatalf("alice again on another node: %v", err)
	}
	if _, err := dup.Register(ctx, "ALICE"); !errors.As(err, &e) {
		t.Fatalf("a look-alike of alice on another node: %v", err)
	}

	if st, err := alice.Send(ctx, "bob", "hi Bob"); err != nil || st != StatusDelivered {
		t.Fatalf("alice to bob: %q, %v", st, err)
	}
	if m := bobIn.next(t, TypeDirectMessage); m.From != "alice" || m.Text() != "hi Bob" || time.Since(m.Time) > time.Minute {
		t.Fatalf("bob got %+v", m)
	}
	if st, err := carol.Send(ctx, "alice", map[string]int{"n": 1}); err != nil || st != StatusDelivered {
		t.Fatalf("carol to alice: %q, %v", st, err)
	}
	if m := aliceIn.next(t, TypeDirectMessage); m.From != "carol" || string(m.Content) != `{"n":1}` {
		t.Fatalf("alice got %+v", m)
	}
	if _, err := bob.Send(ctx, "nobody", "x"); !errors.As(err, &e) || e.Message != `client "nobody" is not registered` {
		t.Fatalf("to nobody: %v", err)
	}
	for i, c := range []*Client{alice, bob, carol} {
		list, err := c.List(ctx)
		if err != nil || len(list) != 3 || list[0].Name != "alice" || list[1].Name != "bob" || list[2].Name != "carol" {
			t.Fatalf("list on node %d: %+v, %v", i, list, err)
		}
	}

	// Many requests in flight: replies in order (the Go client pairs them
	// by request_id and fails requests skipped), local and remote mixed.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := "bob"
			if i%2 == 0 {
				target = "alice" // itself: local
			}
			if st, err := alice.Send(ctx, target, i); err != nil || st != StatusDelivered {
				errs <- fmt.Errorf("send %d to %s: %q, %v", i, target, st, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range 50 {
		bobIn.next(t, TypeDirectMessage)
		aliceIn.next(t, TypeDirectMessage)
	}
	_ = carolIn
	if st := n[0].Stats().Cluster; !st.Enabled || !st.RedisUp || st.RemoteSent < 51 || st.RemoteAcked < 51 {
		t.Fatalf("node 0 stats: %+v", st)
	}

	// A client gone: its name is free cluster-wide at once.
	bob.Close()
	other, _ := client(t, n[2].Addr(), "")
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := other.Register(ctx, "bob")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's name not free after bob left: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the disconnect is reported asynchronously
	}
}

// A broadcast reaches every client of every node exactly once, and its
// confirmation counts them all.
func TestRedisBroadcast(t *testing.T) {
	ctx := testCtx(t)
	_, n := startNodes(t, 3, RedisConfig{})
	const per = 4
	var clients []*Client
	var ins []recorder
	for i := range 3 * per {
		c, in := client(t, n[i%3].Addr(), fmt.Sprintf("c%02d", i))
		clients, ins = append(clients, c), append(ins, in)
	}
	const rounds = 5
	for r := range rounds {
		for s, c := range clients[:3] { // one sender on each node
			got, err := c.Broadcast(ctx, fmt.Sprintf("r%d-s%d", r, s))
			if err != nil || got != 3*per-1 {
				t.Fatalf("broadcast r%d s%d: %d recipients, %v", r, s, got, err)
			}
		}
	}
	// A fence: every node reads the stream in order, so once the fence
	// arrived everywhere, a repeat of an earlier broadcast would have too.
	if _, err := clients[3].Broadcast(ctx, "fence"); err != nil {
		t.Fatal(err)
	}
	for i, in := range ins {
		seen := map[string]int{}
		want := rounds * 3
		if i < 3 {
			want = rounds * 2 // not its own
		}
		for got := 0; ; got++ {
			if i == 3 && got == want {
				break // the fence's sender: no fence
			}
			m := in.next(t, TypeBroadcast)
			if m.Text() == "fence" {
				break
			}
			seen[m.Text()]++
		}
		if len(seen) != want {
			t.Errorf("client %d got %d distinct broadcasts, want %d: %v", i, len(seen), want, seen)
		}
		for k, v := range seen {
			if v != 1 {
				t.Errorf("client %d got %s %d times", i, k, v)
			}
		}
	}
	select {
	case m := <-ins[3]:
		t.Fatalf("the fence's sender got %s", m.Raw)
	default:
	}
}

// A name is held by a lease: a node that dies without a word (SIGKILL)
// keeps its clients' names for at most one lease, and no confirmed message
// to a live node's client is lost meanwhile.
func TestRedisNodeKilled(t *testing.T) {
	ctx := testCtx(t)
	lease := 1500 * time.Millisecond
	_, n := startNodes(t, 3, RedisConfig{Lease: lease, ConfirmTimeout: 300 * time.Millisecond})
	alice, _ := client(t, n[0].Addr(), "alice")
	_, bobIn := client(t, n[1].Addr(), "bob")
	client(t, n[2].Addr(), "carol")

	// Alice sends to bob throughout.
	stop := make(chan struct{})
	sent := make(chan int, 100000)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if st, err := alice.Send(ctx, "bob", i); err == nil && st == StatusDelivered {
				sent <- i
			}
		}
	}()

	killed := time.Now()
	n[2].kill()
	st, err := alice.Send(ctx, "carol", "still there?")
	if st != StatusFailed {
		t.Fatalf("to a dead node's client: %q, %v", st, err)
	}
	dave, _ := client(t, n[1].Addr(), "")
	var e *Error
	if _, err := dave.Register(ctx, "carol"); !errors.As(err, &e) {
		t.Fatalf("carol's name free at once after a kill: %v", err)
	}
	for {
		_, err := dave.Register(ctx, "carol")
		if err == nil {
			break
		}
		if time.Since(killed) > 2*lease+time.Second {
			t.Fatalf("carol's name not free %v after the kill: %v", time.Since(killed), err)
		}
		time.Sleep(lease / 10) // polls the lease's expiry in Redis
	}
	if d := time.Since(killed); d < lease/2 {
		t.Fatalf("carol's name free after %v, before its lease could expire", d)
	}
	t.Logf("carol's name free %v after the kill (lease %v)", time.Since(killed).Round(time.Millisecond), lease)
	close(stop)
	wg.Wait()
	close(sent)
	got := map[int]bool{}
	confirmed := 0
	for i := range sent {
		confirmed++
		if !got[i] {
			// It may still be in flight to bob's handler: wait for it.
			for !got[i] {
				m := bobIn.next(t, TypeDirectMessage)
				var j int
				fmt.Sscan(string(m.Content), &j)
				got[j] = true
			}
		}
	}
	if confirmed == 0 {
		t.Fatal("no message confirmed during the test")
	}
	t.Logf("%d messages confirmed delivered while a node died, all received", confirmed)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polls state owned by another goroutine
	}
}

// txZMQ clients written for the seed's protocol, on different nodes,
// talk to each other as on one broker.
func TestRedisTxZMQ(t *testing.T) {
	needTxZMQ(t)
	_, n := startNodes(t, 3, RedisConfig{})
	alice := startPy(t, "alice", n[0].Addr())
	bob := startPy(t, "bob", n[1].Addr())
	carol := startPy(t, "carol", n[2].Addr())
	for _, c := range []*pyClient{alice, bob, carol} {
		c.do("register " + c.name)
		if m := c.next("registration_ack", "client_id,message,status,type"); m["message"] != "Welcome, "+c.name+"!" {
			t.Fatal(m)
		}
	}
	carol.do("register alice")
	if m := carol.next("error", "message,timestamp,type"); m["message"] != `name "alice" is taken` {
		t.Fatal(m)
	}
	alice.do("direct bob hello from node 0")
	if m := bob.next("direct_message", "content,from,timestamp,type"); m["from"] != "alice" || m["content"] != "hello from node 0" {
		t.Fatal(m)
	}
	if m := alice.next("delivery_confirmation", "status,target,type"); m["status"] != "delivered" || m["target"] != "bob" {
		t.Fatal(m)
	}
	// A remote confirmation and a local reply after it come in order.
	bob.do("direct carol to node 2")
	bob.do("ping")
	bob.next("delivery_confirmation", "status,target,type")
	bob.next("pong", "stats,timestamp,type")
	carol.next("direct_message", "content,from,timestamp,type")

	carol.do("broadcast hi all")
	for _, c := range []*pyClient{alice, bob} {
		if m := c.next("broadcast", "content,from,timestamp,type"); m["from"] != "carol" || m["content"] != "hi all" {
			t.Fatal(m)
		}
	}
	if m := carol.next("broadcast_confirmation", "recipients,type"); m["recipients"] != 2.0 {
		t.Fatal(m)
	}
	bob.do("list")
	m := bob.next("client_list", "clients,total,type")
	list, _ := m["clients"].([]any)
	if m["total"] != 3.0 || len(list) != 3 || keys(list[0]) != "connected_since,last_activity,message_count,name" {
		t.Fatal(m)
	}
	alice.do("direct nobody anyone?")
	if m := alice.next("error", "message,timestamp,type"); m["message"] != `client "nobody" is not registered` {
		t.Fatal(m)
	}
}

// Redis restarted (its data lost) and then down for a while, under load:
// the nodes serve their local clients throughout, report the outage, and
// resume cross-node traffic by themselves.
func TestRedisOutage(t *testing.T) {
	ctx := testCtx(t)
	r, n := startNodes(t, 2, RedisConfig{Lease: 1500 * time.Millisecond, ConfirmTimeout: 500 * time.Millisecond})
	alice, _ := client(t, n[0].Addr(), "alice")
	_, localIn := client(t, n[0].Addr(), "local")
	_, bobIn := client(t, n[1].Addr(), "bob")
	go func() { // drain
		for {
			select {
			case <-localIn:
			case <-bobIn:
			case <-ctx.Done():
				return
			}
		}
	}()

	type outcome struct {
		at     time.Time // when it was sent
		remote bool
		status string
		err    error
	}
	results := make(chan outcome, 1<<20)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			target := "local"
			if i%2 == 1 {
				target = "bob"
			}
			start := time.Now()
			st, err := alice.Send(ctx, target, i)
			results <- outcome{start, target == "bob", st, err}
		}
	}()
	// remoteOK waits for a cross-node message delivered after t0.
	remoteOK := func(what string, t0 time.Time) {
		t.Helper()
		for {
			select {
			case o := <-results:
				if !o.remote && (o.err != nil || o.status != StatusDelivered) {
					t.Fatalf("a local message failed: %q, %v", o.status, o.err)
				}
				if o.remote && o.at.After(t0) && o.status == StatusDelivered {
					return
				}
			case <-ctx.Done():
				t.Fatalf("%s: no cross-node message delivered", what)
			}
		}
	}
	remoteOK("before", time.Time{})

	// 1. A restart: Redis comes back empty.
	r.Restart()
	restarted := time.Now()
	remoteOK("after the restart", restarted)
	t.Logf("cross-node traffic back %v after Redis restarted", time.Since(restarted).Round(time.Millisecond))
	// bob's name was re-claimed by its node: nobody else gets it.
	other, _ := client(t, n[0].Addr(), "")
	var e *Error
	if _, err := other.Register(ctx, "bob"); !errors.As(err, &e) || !strings.Contains(e.Message, "taken") {
		t.Fatalf("bob's name after the restart: %v", err)
	}

	// 2. Down for a while.
	srv := httptest.NewServer(n[0].HTTPHandler())
	defer srv.Close()
	r.Kill()
	waitFor(t, "node 0 to see the outage", func() bool { return !n[0].Stats().Cluster.RedisUp })
	if m := scrape(t, srv.URL); m["zmqgo_broker_redis_up"] != 0 || m["zmqgo_broker_redis_outages_total"] < 1 {
		t.Fatalf("metrics during the outage: up %v, outages %v", m["zmqgo_broker_redis_up"], m["zmqgo_broker_redis_outages_total"])
	}
	if st := n[0].Status(); st.Stats.Cluster.RedisUp {
		t.Fatal("status page: Redis up during the outage")
	}
	down := time.Now()
	if _, err := other.Register(ctx, "newcomer"); !errors.As(err, &e) || e.Message != ErrStoreUnavailable.Error() {
		t.Fatalf("register while Redis is down: %v", err)
	}
	if st, _ := alice.Send(ctx, "bob", "x"); st != StatusFailed {
		t.Fatalf("cross-node while Redis is down: %q", st)
	}
	if l, err := alice.List(ctx); err != nil || len(l) != 2 || l[0].Name != "alice" || l[1].Name != "local" {
		t.Fatalf("list while Redis is down: %+v, %v", l, err)
	}
	if n, err := alice.Broadcast(ctx, "local only"); err != nil || n != 1 {
		t.Fatalf("broadcast while Redis is down: %d, %v", n, err)
	}
	r.Start()
	remoteOK("after Redis came back", down)
	if _, err := other.Register(ctx, "newcomer"); err != nil {
		t.Fatalf("register after Redis came back: %v", err)
	}
	close(stop)
	wg.Wait()
	close(results)
	for o := range results {
		if !o.remote && (o.err != nil || o.status != StatusDelivered) {
			t.Fatalf("a local message failed: %q, %v", o.status, o.err)
		}
	}
	if m := scrape(t, srv.URL); m["zmqgo_broker_redis_up"] != 1 || m["zmqgo_broker_cluster_remote_delivered_total"] < 1 {
		t.Fatalf("metrics after the outage: up %v", m["zmqgo_broker_redis_up"])
	}
	st := n[0].Stats().Cluster
	if st.Outages < 1 || !st.RedisUp {
		t.Fatalf("stats: %+v", st)
	}
	logs := n[0].logs.String()
	if !strings.Contains(logs, "Redis unreachable") || !strings.Contains(logs, "Redis reachable again") {
		t.Fatalf("logs:\n%s", logs)
	}
	t.Logf("node 0: %d outages reported, %d cross-node requests failed, %d delivered", st.Outages, st.RemoteFail, st.RemoteAcked)
}

// A node that reads nothing (stuck, overloaded) costs the others bounded
// memory: requests for its clients wait at most QueueSize per sender and
// ConfirmTimeout, then fail; its inbox in Redis is bounded too.
func TestRedisSlowNode(t *testing.T) {
	ctx := testCtx(t)
	_, n := startNodes(t, 2, RedisConfig{ConfirmTimeout: 500 * time.Millisecond, StreamLen: 100})
	gate := make(chan struct{})
	n[1].cluster().readerGate.Store(&gate)
	client(t, n[1].Addr(), "bob")
	// The sender: a raw DEALER on node 0 that sends and does not wait.
	raw := dialRaw(t, n[0].Addr())
	raw.call(`{"type":"register","name":"flood"}`, TypeRegistrationAck)
	const sent = 3000
	for i := range sent {
		raw.send(fmt.Sprintf(`{"type":"direct_message","target":"bob","content":%d}`, i))
	}
	maxPending := 0
	waitFor(t, "node 0 to handle the flood", func() bool {
		st := n[0].Stats()
		maxPending = max(maxPending, st.Cluster.Pending)
		return st.Received >= sent+1
	})
	if limit := DefaultQueueSize; maxPending > limit {
		t.Fatalf("%d requests pending for the slow node, more than the queue size %d", maxPending, limit)
	}
	// The reader may have been in one read (up to 512 entries) when it
	// was paused: those are delivered; the rest fail.
	failed := 0
	for i := range min(sent, DefaultQueueSize) {
		m := raw.recv()
		if m["type"] != TypeDeliveryConfirmation || m["status"] != StatusFailed && m["status"] != StatusDelivered {
			t.Fatalf("reply %d: %v", i, m)
		}
		if m["status"] == StatusFailed {
			failed++
		}
	}
	if failed < DefaultQueueSize-512 {
		t.Fatalf("only %d of %d failed", failed, DefaultQueueSize)
	}
	waitFor(t, "no pending requests", func() bool { return n[0].Stats().Cluster.Pending == 0 })
	rc := n[0].cluster().rc
	xlen, err := rc.XLen(ctx, n[0].cluster().key("inbox:", n[1].cluster().id)).Result()
	if err != nil || xlen > 200 {
		t.Fatalf("the slow node's inbox holds %d entries (%v); cap 100 (approximately)", xlen, err)
	}
	st := n[0].Stats()
	t.Logf("%d sent; at most %d pending on node 0; %d failed; %d dropped; slow inbox %d entries", sent, maxPending, failed, st.Dropped, xlen)
	close(gate)
}

func TestParseRedisURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		addrs   string
		master  string
		cluster bool
		tls     bool
		db      int
	}{
		{"redis://127.0.0.1:6379/2", "127.0.0.1:6379", "", false, false, 2},
		{"rediss://user:pw@redis.example:6380/0", "redis.example:6380", "", false, true, 0},
		{"redis://s1:26379?master_name=mymaster&addr=s2:26379", "s1:26379,s2:26379", "mymaster", false, false, 0},
		{"redis+cluster://n1:7000?addr=n2:7000&addr=n3:7000", "n1:7000,n2:7000,n3:7000", "", true, false, 0},
		{"rediss+cluster://n1:7000", "n1:7000", "", true, true, 0},
	} {
		o, err := ParseRedisURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if strings.Join(o.Addrs, ",") != tc.addrs || o.MasterName != tc.master || o.IsClusterMode != tc.cluster ||
			(o.TLSConfig != nil) != tc.tls || o.DB != tc.db {
			t.Errorf("%s: %+v", tc.url, o)
		}
	}
	for _, bad := range []string{"http://x", "redis://x:1/notadb", "redis://x:1?frob=1", ":"} {
		if _, err := ParseRedisURL(bad); err == nil || !strings.HasPrefix(err.Error(), "broker: ") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := New(Config{Bind: []string{"tcp://127.0.0.1:0"}, Redis: &RedisConfig{URL: "redis://x"}, Upstream: []string{"tcp://127.0.0.1:1"}}); err == nil {
		t.Error("a cluster node with an upstream")
	}
	if _, err := New(Config{Bind: []string{"tcp://127.0.0.1:0"}, Redis: &RedisConfig{}}); err == nil {
		t.Error("Redis without URL or Client")
	}
}

// BenchmarkRedisCrossNode: direct messages between clients of two nodes
// on one Redis, 16 in flight.
func BenchmarkRedisCrossNode(b *testing.B) {
	r := ztest.StartRedis(b)
	var nodes []*Broker
	for range 2 {
		n, err := New(Config{Bind: []string{"tcp://127.0.0.1:0"}, Rate: -1, Linger: -1, QueueSize: 100000,
			Redis: &RedisConfig{URL: r.URL()}})
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	ctx := context.Background()
	got := make(chan struct{}, 1<<16)
	recv, err := NewClient(nodes[1].Addr(), WithHandler(func(context.Context, Message) { got <- struct{}{} }))
	if err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	send, err := NewClient(nodes[0].Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer send.Close()
	if _, err := recv.Register(ctx, "recv"); err != nil {
		b.Fatal(err)
	}
	if _, err := send.Register(ctx, "send"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	sem := make(chan struct{}, 16)
	errs := make(chan error, 16)
	for range b.N {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if st, err := send.Send(ctx, "recv", "x"); err != nil || st != StatusDelivered {
				select {
				case errs <- fmt.Errorf("%q, %v", st, err):
				default:
				}
			}
		}()
	}
	for range b.N {
		<-got
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// A node whose Redis is down at start starts anyway, serves its local
// clients, and joins the cluster when Redis comes up.
func TestRedisDownAtStart(t *testing.T) {
	ctx := testCtx(t)
	r := ztest.StartRedis(t)
	r.Kill()
	n0 := startNode(t, r.URL(), RedisConfig{})
	c, _ := client(t, n0.Addr(), "")
	var e *Error
	if _, err := c.Register(ctx, "alice"); !errors.As(err, &e) || e.Message != ErrStoreUnavailable.Error() {
		t.Fatalf("register with Redis down: %v", err)
	}
	r.Start()
	n1 := startNode(t, r.URL(), RedisConfig{})
	_, bobIn := client(t, n1.Addr(), "bob")
	waitFor(t, "node 0 to reach Redis", func() bool { return n0.Stats().Cluster.RedisUp })
	if _, err := c.Register(ctx, "alice"); err != nil {
		t.Fatalf("register once Redis is up: %v", err)
	}
	if st, err := c.Send(ctx, "bob", "hi"); err != nil || st != StatusDelivered {
		t.Fatalf("to bob: %q, %v", st, err)
	}
	bobIn.next(t, TypeDirectMessage)
}
