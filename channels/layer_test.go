package channels

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Bind == "" {
		cfg.Bind = "tcp://127.0.0.1:0"
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t testing.TB, s *Server, opts ...LayerOption) *Layer {
	t.Helper()
	l, err := Dial(s.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// waitSubscribers waits until channel has n subscribers.
func waitSubscribers(t testing.TB, s *Server, channel string, n int, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := s.waitChannel(ctx, channel, func(ci ChannelInfo) bool { return ci.Subscribers == n }); err != nil {
		t.Fatalf("%s: %d subscribers never seen: %v (now %d)", channel, n, err, s.ChannelInfo(channel).Subscribers)
	}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// The channel-layer behaviours of channels_redis's test suite, through
// the Go client.

func TestLayerSendReceive(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	if err := l.Send(ctx, "test-channel-1", Message{"type": "test.message", "text": "Ahoy-hoy!"}); err != nil {
		t.Fatal(err)
	}
	m, err := l.Receive(ctx, "test-channel-1")
	if err != nil || m["type"] != "test.message" || m["text"] != "Ahoy-hoy!" {
		t.Fatal(m, err)
	}
}

func TestLayerSendCapacity(t *testing.T) {
	s := startServer(t, Config{Capacity: 3, ChannelCapacity: []CapacityRule{{"one", 1}}})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	for range 3 {
		if err := l.Send(ctx, "test-channel-1", Message{"type": "test.message"}); err != nil {
			t.Fatal(err)
		}
	}
	err := l.Send(ctx, "test-channel-1", Message{"type": "test.message"})
	if !errors.Is(err, ErrChannelFull) {
		t.Fatalf("got %v, want ErrChannelFull", err)
	}
	if err := l.Send(ctx, "one", Message{"type": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, "one", Message{"type": "x"}); !errors.Is(err, ErrChannelFull) {
		t.Fatalf("specific capacity: %v", err)
	}
	// Receiving makes room again.
	for range 3 {
		if _, err := l.Receive(ctx, "test-channel-1"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLayerProcessLocal(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	ch := l.NewChannel("test")
	if err := ValidChannelName(ch); err != nil || !isProcess(ch) {
		t.Fatal(ch, err)
	}
	if err := l.Send(ctx, ch, Message{"type": "test.message", "text": "Local only"}); err != nil {
		t.Fatal(err)
	}
	m, err := l.Receive(ctx, ch)
	if err != nil || m["text"] != "Local only" {
		t.Fatal(m, err)
	}
	// Another layer may not take this process's channel.
	other := dial(t, s)
	if _, err := other.Receive(ctx, ch); err == nil || !errors.As(err, new(*ServerError)) {
		t.Fatalf("second receiver of a process channel: %v", err)
	}
}

func TestLayerMultipleSendsInOrder(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	for i := range 5 {
		if err := l.Send(ctx, "test-channel-3", Message{"type": "test.message", "n": i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		m, err := l.Receive(ctx, "test-channel-3")
		if err != nil || m["n"] != int64(i) {
			t.Fatalf("%d: %v %v", i, m, err)
		}
	}
}

func TestLayerGroups(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	for _, c := range []string{"test-gr-chan-1", "test-gr-chan-2"} {
		if err := l.GroupAdd(ctx, "test-group", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.GroupDiscard(ctx, "test-group", "test-gr-chan-2"); err != nil {
		t.Fatal(err)
	}
	if got, err := l.GroupChannels(ctx, "test-group"); err != nil || fmt.Sprint(got) != "[test-gr-chan-1]" {
		t.Fatal(got, err)
	}
	if err := l.GroupSend(ctx, "test-group", Message{"type": "message.1"}); err != nil {
		t.Fatal(err)
	}
	if m, err := l.Receive(ctx, "test-gr-chan-1"); err != nil || m["type"] != "message.1" {
		t.Fatal(m, err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := l.Receive(short, "test-gr-chan-2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("discarded channel got %v", err)
	}
	ci, err := l.ChannelInfo(ctx, "test-gr-chan-1")
	if err != nil || ci.Subscribers != 1 || fmt.Sprint(ci.Groups) != "[test-group]" || ci.Capacity != 100 {
		t.Fatal(ci, err)
	}
	// Bad names fail locally, clearly.
	if err := l.GroupAdd(ctx, "bad group", "c"); !errors.Is(err, ErrInvalidName) {
		t.Fatal(err)
	}
}

func TestLayerGroupSendToMany(t *testing.T) {
	s := startServer(t, Config{Capacity: 2})
	l := dial(t, s)
	ctx := ctxT(t, 20*time.Second)
	const n = 50
	for i := range n {
		if err := l.GroupAdd(ctx, "many", fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Channel full: group sends go on silently.
	for range 3 {
		if err := l.GroupSend(ctx, "many", Message{"type": "m"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		for range 2 {
			if _, err := l.Receive(ctx, fmt.Sprint("c", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := s.Stats(); st.DroppedFull != n || st.Delivered != 2*n {
		t.Fatalf("%+v", st)
	}
}

func TestLayerFlush(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	other := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	if err := l.GroupAdd(ctx, "g", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, "c2", Message{"type": "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Report(ctx); err != nil { // known to the server: gets FLUSHCXX
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Groups != 0 || st.Queued != 0 {
		t.Fatalf("%+v", st)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := l.Receive(short, "c2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

func TestLayerMessageExpiry(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s, WithExpiry(100*time.Millisecond))
	ctx := ctxT(t, 10*time.Second)
	if err := l.Send(ctx, "expire", Message{"type": "old"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, "expire", Message{"type": "new"}, WithTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the TTL itself is what is tested
	if m, err := l.Receive(ctx, "expire"); err != nil || m["type"] != "new" {
		t.Fatal(m, err)
	}
}

func TestLayerGroupExpiry(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s, WithGroupExpiry(100*time.Millisecond))
	ctx := ctxT(t, 10*time.Second)
	if err := l.GroupAdd(ctx, "gx", "gx-chan"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the expiry itself is what is tested
	if err := l.GroupSend(ctx, "gx", Message{"type": "late"}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := l.Receive(short, "gx-chan"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if got, _ := l.GroupChannels(ctx, "gx"); len(got) != 0 {
		t.Fatal(got)
	}
}

func TestLayerReceiveCancelAndClose(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := l.Receive(ctx, "never"); errc <- err }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	go func() { _, err := l.Receive(context.Background(), "never"); errc <- err }()
	waitSubscribers(t, s, "never", 1, 10*time.Second) // Receive is waiting
	l.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
}

// A layer that goes away stops getting round-robin deliveries at once.
func TestLayerDeadSubscriber(t *testing.T) {
	s := startServer(t, Config{})
	a, b := dial(t, s), dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	var wg sync.WaitGroup
	// Both subscribe (a Receive waits on each).
	for _, l := range []*Layer{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			l.Receive(c, "rr")
		}()
	}
	wg.Wait()
	if ci := s.ChannelInfo("rr"); ci.Subscribers != 2 {
		t.Fatal(ci)
	}
	a.Close()
	waitSubscribers(t, s, "rr", 1, 5*time.Second)
	for i := range 4 {
		if err := b.Send(ctx, "rr", Message{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if m, err := b.Receive(ctx, "rr"); err != nil || m["n"] != int64(i) {
			t.Fatal(m, err)
		}
	}
}

func TestServerBindForms(t *testing.T) {
	for _, ep := range []string{"tcp://localhost:0", "tcp://[::1]:0", "tcp://*:0"} {
		s, err := NewServer(Config{Bind: ep})
		if err != nil {
			if ep == "tcp://[::1]:0" {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			t.Fatal(ep, err)
		}
		_, p, _ := SplitBind(s.Addr())
		_, q, _ := SplitBind(s.SignalAddr())
		s.Close()
		if q != p+1 {
			t.Fatalf("%s: data %s signalling %s", ep, s.Addr(), s.SignalAddr())
		}
	}
	for _, ep := range []string{"ipc:///x", "tcp://:5", "tcp://h:65535", "tcp://h:x"} {
		if _, err := NewServer(Config{Bind: ep}); err == nil {
			t.Fatalf("%s accepted", ep)
		}
	}
}

// A per-message TTL on a group send (channels #1361): a member that does
// not read in time never gets it.
func TestLayerGroupSendTTL(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	if err := l.GroupAdd(ctx, "ttl-group", "ttl-member"); err != nil {
		t.Fatal(err)
	}
	if err := l.GroupSend(ctx, "ttl-group", Message{"type": "stale"}, WithTTL(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := l.GroupSend(ctx, "ttl-group", Message{"type": "fresh"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the TTL itself is what is tested
	if m, err := l.Receive(ctx, "ttl-member"); err != nil || m["type"] != "fresh" {
		t.Fatal(m, err)
	}
}
