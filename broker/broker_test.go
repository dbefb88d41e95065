package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// waitTimeout bounds every wait in the tests.
const waitTimeout = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func startBroker(t *testing.T, cfg Config) *Broker {
	t.Helper()
	if cfg.Bind == nil {
		cfg.Bind = []string{"tcp://127.0.0.1:0"}
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// recorder is a client's handler that hands the test each message.
type recorder chan Message

func (r recorder) handler(ctx context.Context, m Message) {
	select {
	case r <- m:
	case <-ctx.Done():
	}
}

func (r recorder) next(t *testing.T, typ string) Message {
	t.Helper()
	select {
	case m := <-r:
		if m.Type != typ {
			t.Fatalf("got %s %s, want a %s", m.Type, m.Raw, typ)
		}
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("no %s after %v", typ, waitTimeout)
		return Message{}
	}
}

// client connects a client to b and registers it as name (unless "").
func client(t *testing.T, addr, name string, opts ...ClientOption) (*Client, recorder) {
	t.Helper()
	rec := make(recorder, 10000)
	c, err := NewClient(addr, append([]ClientOption{WithHandler(rec.handler)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if name != "" {
		if _, err := c.Register(testCtx(t), name); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
	}
	return c, rec
}

// silentClient registers name over a raw DEALER that then reads nothing
// more (a receive high-water mark of 1): its queue at the broker fills.
func silentClient(t *testing.T, addr, name string) {
	t.Helper()
	ctx := testCtx(t)
	s, err := zmq.NewSocket(zmq.Dealer, zmq.WithRecvHWM(1), zmq.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Connect(addr)
	s.Send(ctx, zmq.NewMsgString(`{"type":"register","name":"`+name+`"}`))
	if m, err := s.Recv(ctx); err != nil || !strings.Contains(m.String(), "registration_ack") {
		t.Fatalf("%s: %v %v", name, m, err)
	}
}

func TestClientRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{})
	alice, aliceIn := client(t, b.Addr(), "")
	reg, err := alice.Register(ctx, "alice")
	if err != nil || reg.Status != "success" || reg.Message != "Welcome, alice!" || len(reg.ClientID) != 10 || alice.Name() != "alice" {
		t.Fatalf("register: %+v, %v", reg, err)
	}
	bob, bobIn := client(t, b.Addr(), "bob")
	if st, err := alice.Send(ctx, "bob", "hi Bob"); err != nil || st != StatusDelivered {
		t.Fatalf("send: %q, %v", st, err)
	}
	m := bobIn.next(t, TypeDirectMessage)
	if m.From != "alice" || m.Text() != "hi Bob" || time.Since(m.Time) > time.Minute || len(m.RoutePath) != 0 {
		t.Fatalf("bob got %+v", m)
	}
	if n, err := bob.Broadcast(ctx, map[string]int{"n": 1}); err != nil || n != 1 {
		t.Fatalf("broadcast: %d, %v", n, err)
	}
	if m := aliceIn.next(t, TypeBroadcast); m.From != "bob" || string(m.Content) != `{"n":1}` {
		t.Fatalf("alice got %+v", m)
	}
	list, err := alice.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[0].MessageCount != 3 || list[1].Name != "bob" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	p, err := bob.Ping(ctx)
	if err != nil || p.Stats.Received != 6 || time.Since(p.Time) > time.Minute {
		t.Fatalf("ping: %+v, %v", p, err)
	}
	var e *Error
	if _, err := alice.Send(ctx, "carol", "x"); !errors.As(err, &e) || e.Message != `client "carol" is not registered` {
		t.Fatalf("send to nobody: %v", err)
	}
	if _, err := bob.Register(ctx, "alice"); !errors.As(err, &e) || e.Message != `name "alice" is taken` {
		t.Fatalf("register a taken name: %v", err)
	}
	if _, err := alice.Send(ctx, "bob", func() {}); err == nil {
		t.Fatal("unencodable content accepted")
	}
	alice.Close()
	if _, err := alice.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("ping after close: %v", err)
	}
}

// Requests from many goroutines at once each get their own reply.
func TestConcurrentRequests(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{Rate: -1})
	a, _ := client(t, b.Addr(), "a")
	_, bIn := client(t, b.Addr(), "b")
	var wg sync.WaitGroup
	var failed atomic.Int32
	const workers, each = 8, 100
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if w%2 == 0 {
					if _, err := a.Ping(ctx); err != nil {
						failed.Add(1)
					}
				} else if st, err := a.Send(ctx, "b", i); err != nil || st != StatusDelivered {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d requests failed", n)
	}
	for range workers / 2 * each {
		bIn.next(t, TypeDirectMessage)
	}
}

// A request given up (its context ended) keeps its place: the replies
// after it still pair up.
func TestAbandonedRequest(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{})
	a, _ := client(t, b.Addr(), "a")
	gone, cancel := context.WithCancel(ctx)
	cancel()
	// The message may or may not have been queued; if it was, its
	// reply must not be taken for the next request's.
	a.List(gone)
	for range 3 {
		if _, err := a.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	list, err := a.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v, %v", list, err)
	}
}

// Replies pair with requests in order; a lost reply fails its request.
func TestResolve(t *testing.T) {
	c := &Client{}
	mk := func(want string) *call {
		cl := &call{want: want, done: make(chan result, 1)}
		c.pending = append(c.pending, cl)
		return cl
	}
	ping, list, send := mk(TypePong), mk(TypeClientList), mk(TypeDeliveryConfirmation)
	if !c.resolve(&wire{Message: Message{Type: TypeClientList}}) { // the pong was lost
		t.Fatal("not resolved")
	}
	if r := <-ping.done; !errors.Is(r.err, ErrNoReply) {
		t.Fatalf("ping: %+v", r)
	}
	if r := <-list.done; r.w == nil || r.w.Type != TypeClientList {
		t.Fatalf("list: %+v", r)
	}
	c.resolve(&wire{Message: Message{Type: TypeError}, Text: "no"}) // an error answers whatever is first
	if r := <-send.done; r.w.Type != TypeError {
		t.Fatalf("send: %+v", r)
	}
	if c.resolve(&wire{Message: Message{Type: TypePong}}) {
		t.Fatal("resolved with nothing pending")
	}
}

// A client whose connection closes vanishes from the list at once.
func TestVanishedClient(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{})
	x, _ := client(t, b.Addr(), "x")
	y, _ := client(t, b.Addr(), "y")
	y.Close()
	if err := b.waitState(ctx, func(s *state) bool { return s.names["y"] == nil }); err != nil {
		t.Fatal(err)
	}
	list, err := x.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "x" {
		t.Fatalf("list %+v, %v", list, err)
	}
	// y's name is free.
	client(t, b.Addr(), "y")
}

// A client that stops reading loses messages, counted; everyone else gets
// all of theirs and the broker keeps answering. (Over inproc, whose queues
// fill without megabytes of kernel buffers first; the broker's sending is
// the same.)
func TestSlowClient(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{QueueSize: 50, Rate: -1, Bind: []string{"inproc://slow-client-test"}})
	silentClient(t, b.Addr(), "slow")
	sender, _ := client(t, b.Addr(), "sender")
	fast, fastIn := client(t, b.Addr(), "")
	if _, err := fast.Register(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	content := strings.Repeat("x", 1000)
	// Lockstep: fast takes each broadcast before the next is sent, so its
	// queue never holds more than one and only slow's can fill, whatever
	// the scheduler does. Each broadcast reaches fast, and slow until its
	// queue is full; the confirmation's count says which.
	broadcast := func(i int) int {
		t.Helper()
		n, err := sender.Broadcast(ctx, content)
		if err != nil || n != 2 && n != 1 {
			t.Fatalf("broadcast %d: %d, %v", i, n, err)
		}
		fastIn.next(t, TypeBroadcast)
		return n
	}
	sent := 0
	for ; ; sent++ {
		if sent == 20000 {
			t.Fatal("nothing dropped after 20000 broadcasts")
		}
		if broadcast(sent) == 1 {
			break
		}
	}
	if d := b.Stats().Dropped; d != 1 {
		t.Fatalf("dropped %d at the first broadcast slow missed, want 1", d)
	}
	for i := range 100 {
		if n := broadcast(sent + 1 + i); n != 1 {
			t.Fatalf("broadcast to a full client reached %d", n)
		}
	}
	st := b.Stats()
	if st.Dropped != 101 || st.Clients != 3 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d broadcasts in %v, %d dropped for the slow client", sent+101, time.Since(start), st.Dropped)
}

// Raw sockets: bad input, a flood, an oversized message, a REQ client.
func TestRawPeers(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{Rate: 10, Burst: 100, MaxMsgSize: 4096})
	bystander, bIn := client(t, b.Addr(), "bystander")
	raw, err := zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Connect(b.Addr())
	recv := func() map[string]any {
		t.Helper()
		m, err := raw.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(m.Frames[len(m.Frames)-1], &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, bad := range []string{"garbage", "[]", `{"type":1}`, `{"type":"direct_message","target":"bystander"}`, strings.Repeat("x", 5000)} {
		raw.Send(ctx, zmq.NewMsgString(bad))
		if v := recv(); v["type"] != TypeError {
			t.Fatalf("%.20q: %v", bad, v)
		}
	}
	// A multipart message is refused, saying why.
	raw.Send(ctx, zmq.NewMsgString("extra", `{"type":"register","name":"raw"}`))
	if v := recv(); v["type"] != TypeError || v["message"] != "invalid message: expected one frame, got 2" {
		t.Fatal(v)
	}
	raw.Send(ctx, zmq.NewMsgString(`{"type":"register","name":"raw"}`))
	if v := recv(); v["type"] != TypeRegistrationAck {
		t.Fatal(v)
	}
	// A flood: the first Burst pass, the rest are refused.
	for range 300 {
		raw.Send(ctx, zmq.NewMsgString(`{"type":"direct_message","target":"bystander","content":"flood"}`))
	}
	limited := 0
	for range 300 {
		v := recv()
		if v["type"] == TypeError && strings.Contains(v["message"].(string), "rate limit") {
			limited++
		}
	}
	if limited < 150 {
		t.Fatalf("only %d of 300 flood messages refused", limited)
	}
	for range 300 - limited {
		bIn.next(t, TypeDirectMessage)
	}
	if _, err := bystander.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// Over the hard cap (16 × 4096): the socket cuts the connection (the
	// raw socket reconnects, under a new routing id, unregistered), and
	// the broker counts it.
	raw.Send(ctx, zmq.NewMsg(make([]byte, HardCapFactor*4096+5000)))
	if err := b.waitState(ctx, func(s *state) bool { return s.names["raw"] == nil && s.stats.Cut == 1 }); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.RateLimited < 150 || st.Errors != st.RateLimited+7 || st.ErrorsByReason["too_large_cut"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A REQ client gets its replies behind the delimiter it sent.
	req, err := zmq.NewSocket(zmq.Req, zmq.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	req.Connect(b.Addr())
	req.Send(ctx, zmq.NewMsgString(`{"type":"register","name":"req"}`))
	if m, err := req.Recv(ctx); err != nil || !strings.Contains(m.String(), `"registration_ack"`) {
		t.Fatalf("REQ: %v, %v", m, err)
	}
	if _, err := bystander.Send(ctx, "req", "hello REQ"); err != nil {
		t.Fatal(err)
	}
}

// Close hands on what was received and flushes what is queued.
func TestGracefulClose(t *testing.T) {
	ctx := testCtx(t)
	b, err := New(Config{Bind: []string{"tcp://127.0.0.1:0"}, Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var got atomic.Int64
	done := make(chan struct{})
	var clients []*Client
	for i := range n {
		c, err := NewClient(b.Addr(), WithHandler(func(ctx context.Context, m Message) {
			if got.Add(1) == n-1 {
				close(done)
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Register(ctx, fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	if _, err := clients[0].Broadcast(ctx, strings.Repeat("y", 1<<16)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("%d of %d clients got the broadcast", got.Load(), n-1)
	}
	if st := b.Stats(); st.Received != n+1 || st.Sent != 2*n {
		t.Fatalf("final stats %+v", st)
	}
	if b.Clients() != nil {
		t.Fatal("clients after close")
	}
	b.Close()
}
