package redislayer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq/internal/ztest"
)

// The behaviours of channels_redis 4.0's tests/test_core.py, through the Go
// layer. The fixture there is capacity=3, channel_capacity={"tiny": 1}.
func suiteLayer(t *testing.T) (*Layer, *ztest.Redis) {
	srv, rdb := newRedis(t)
	return newLayer(t, rdb, Config{Capacity: 3, ChannelCapacity: []ChannelCapacity{{"tiny", 1}}}), srv
}

func TestSendReceive(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 5*time.Second)
	if err := l.Send(ctx, "test-channel-1", map[string]any{"type": "test.message", "text": "Ahoy-hoy!"}); err != nil {
		t.Fatal(err)
	}
	m := mustReceive(t, l, "test-channel-1")
	if m["type"] != "test.message" || m["text"] != "Ahoy-hoy!" || len(m) != 2 {
		t.Fatalf("got %v", m)
	}
}

func TestSendCapacity(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 5*time.Second)
	for range 3 {
		if err := l.Send(ctx, "test-channel-1", map[string]any{"type": "test.message"}); err != nil {
			t.Fatal(err)
		}
	}
	err := l.Send(ctx, "test-channel-1", map[string]any{"type": "test.message"})
	if !errors.Is(err, ErrChannelFull) || !strings.Contains(err.Error(), "test-channel-1") {
		t.Fatalf("4th send: %v", err)
	}
	// tiny holds 1; "tinyx" does not match the whole-name pattern.
	if err := l.Send(ctx, "tiny", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, "tiny", map[string]any{}); !errors.Is(err, ErrChannelFull) {
		t.Fatalf("tiny: %v", err)
	}
	for range 3 {
		if err := l.Send(ctx, "tinyx", map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSendSpecificCapacity(t *testing.T) {
	_, rdb := newRedis(t)
	l := newLayer(t, rdb, Config{Capacity: 3, ChannelCapacity: []ChannelCapacity{{"one", 1}}})
	ctx := ctxT(t, 5*time.Second)
	if err := l.Send(ctx, "one", map[string]any{"type": "test.message"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, "one", map[string]any{"type": "test.message"}); !errors.Is(err, ErrChannelFull) {
		t.Fatalf("second send: %v", err)
	}
}

func TestProcessLocalSendReceive(t *testing.T) {
	l, _ := suiteLayer(t)
	c := l.NewChannel("")
	if !regexp.MustCompile(`^specific\.[0-9a-f]{32}![0-9a-f]{32}$`).MatchString(c) {
		t.Fatalf("NewChannel = %q", c)
	}
	if err := l.Send(ctxT(t, 5*time.Second), c, map[string]any{"type": "test.message", "text": "Local only please"}); err != nil {
		t.Fatal(err)
	}
	if m := mustReceive(t, l, c); m["text"] != "Local only please" || len(m) != 2 {
		t.Fatalf("got %v", m)
	}
}

func TestMultiSendReceive(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 5*time.Second)
	for i := 1; i <= 3; i++ {
		if err := l.Send(ctx, "test-channel-3", map[string]any{"type": fmt.Sprintf("message.%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		if m := mustReceive(t, l, "test-channel-3"); typ(m) != fmt.Sprintf("message.%d", i) {
			t.Fatalf("got %v, want message.%d", m, i)
		}
	}
}

func TestRejectBadNames(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 5*time.Second)
	if err := l.Send(ctx, "=+135!", map[string]any{}); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("send: %v", err)
	}
	if _, err := l.Receive(ctx, "=+135!"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("receive: %v", err)
	}
	long := strings.Repeat("a", 100)
	for _, bad := range []string{"", long, "a b", "a!b!c", "a\n", "é"} {
		if err := l.Send(ctx, bad, map[string]any{}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("send to %q: %v", bad, err)
		}
	}
	for _, bad := range []string{"", long, "a!b", "a b"} {
		if err := l.GroupAdd(ctx, bad, "ok"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("group %q: %v", bad, err)
		}
		if err := l.GroupSend(ctx, bad, map[string]any{}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("group send %q: %v", bad, err)
		}
	}
	for _, good := range []string{long[:99], "a-b_c.D9", "x!", "x!y_é٣", "٣"} {
		if err := checkChannel(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	if err := l.Send(ctx, "ok", map[string]any{channelField: "x"}); !errors.Is(err, ErrReservedKey) {
		t.Fatalf("reserved key: %v", err)
	}
	if err := l.GroupSend(ctx, "g", map[string]any{channelField: "x"}); !errors.Is(err, ErrReservedKey) {
		t.Fatalf("reserved key in group send: %v", err)
	}
}

func TestRejectBadClientPrefix(t *testing.T) {
	l, _ := suiteLayer(t)
	if _, err := l.Receive(ctxT(t, 5*time.Second), "not-client-prefix!local_part"); !errors.Is(err, ErrNotMine) {
		t.Fatalf("got %v", err)
	}
}

func TestGroupsBasic(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 10*time.Second)
	c1, c2, c3 := l.NewChannel("test-gr-chan-1"), l.NewChannel("test-gr-chan-2"), l.NewChannel("test-gr-chan-3")
	for _, c := range []string{c1, c2, c3} {
		if err := l.GroupAdd(ctx, "test-group", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.GroupDiscard(ctx, "test-group", c2); err != nil {
		t.Fatal(err)
	}
	if err := l.GroupDiscard(ctx, "test-group", "never-a-member"); err != nil {
		t.Fatal(err)
	}
	if err := l.GroupSend(ctx, "test-group", map[string]any{"type": "message.1"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{c1, c3} {
		if m := mustReceive(t, l, c); typ(m) != "message.1" {
			t.Fatalf("got %v", m)
		}
	}
	expectNothing(t, l, c2, 300*time.Millisecond)
	if got, _ := l.GroupChannels(ctx, "test-group"); len(got) != 2 {
		t.Fatalf("members %v", got)
	}
}

func TestGroupsChannelFull(t *testing.T) {
	_, rdb := newRedis(t)
	l := newLayer(t, rdb, Config{Capacity: 3})
	ctx := ctxT(t, 10*time.Second)
	l.GroupAdd(ctx, "test-group", "test-gr-chan-1")
	for range 5 {
		if err := l.GroupSend(ctx, "test-group", map[string]any{"type": "message.1"}); err != nil {
			t.Fatal(err)
		}
	}
	if s := l.Stats(); s.GroupFull != 2 || s.Sent != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGroupsSamePrefix(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 10*time.Second)
	var cs []string
	for range 3 {
		c := l.NewChannel("test-gr-chan")
		cs = append(cs, c)
		l.GroupAdd(ctx, "test-group", c)
	}
	if err := l.GroupSend(ctx, "test-group", map[string]any{"type": "message.1"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if m := mustReceive(t, l, c); typ(m) != "message.1" {
			t.Fatalf("got %v", m)
		}
	}
}

func TestGroupSendCapacity(t *testing.T) {
	srv, rdb := newRedis(t)
	_ = srv
	rec := ztest.NewLogRecorder()
	l := newLayer(t, rdb, Config{Capacity: 3, Logger: rec.Logger()})
	ctx := ctxT(t, 10*time.Second)
	c := l.NewChannel("")
	l.GroupAdd(ctx, "test-group", c)
	for i := 1; i <= 4; i++ {
		if err := l.GroupSend(ctx, "test-group", map[string]any{"type": fmt.Sprintf("message.%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		if m := mustReceive(t, l, c); typ(m) != fmt.Sprintf("message.%d", i) {
			t.Fatalf("got %v", m)
		}
	}
	expectNothing(t, l, c, 300*time.Millisecond)
	if _, ok := rec.Find(0, slog.LevelInfo, "1 of 1 channels over capacity in group test-group"); !ok {
		t.Fatalf("log: %v", rec.Records())
	}
}

func TestGroupSendCapacityMultipleChannels(t *testing.T) {
	_, rdb := newRedis(t)
	rec := ztest.NewLogRecorder()
	l := newLayer(t, rdb, Config{Capacity: 3, Logger: rec.Logger()})
	ctx := ctxT(t, 10*time.Second)
	c1, c2 := l.NewChannel(""), l.NewChannel("channel_2")
	l.GroupAdd(ctx, "test-group", c1)
	l.GroupAdd(ctx, "test-group", c2)
	if err := l.Send(ctx, c2, map[string]any{"type": "message.0"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		l.GroupSend(ctx, "test-group", map[string]any{"type": fmt.Sprintf("message.%d", i)})
	}
	for _, want := range []string{"message.1", "message.2", "message.3"} {
		if m := mustReceive(t, l, c1); typ(m) != want {
			t.Fatalf("c1 got %v want %s", m, want)
		}
	}
	for _, want := range []string{"message.0", "message.1", "message.2"} {
		if m := mustReceive(t, l, c2); typ(m) != want {
			t.Fatalf("c2 got %v want %s", m, want)
		}
	}
	expectNothing(t, l, c2, 300*time.Millisecond)
	if _, ok := rec.Find(0, slog.LevelInfo, "1 of 2 channels over capacity in group test-group"); !ok {
		t.Fatalf("log: %v", rec.Records())
	}
}

// Cancelled receives lose nothing: the next receive gets every message.
func TestReceiveCancel(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 20*time.Second)
	c := l.NewChannel("")
	for range 5 {
		if err := l.Send(ctx, c, map[string]any{"type": "x"}); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Receive(rctx, c); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled receive: %v", err)
		}
		if m := mustReceive(t, l, c); typ(m) != "x" {
			t.Fatalf("got %v", m)
		}
	}
	// A receive that times out while popping leaves the role to the next.
	expectNothing(t, l, c, 50*time.Millisecond)
	l.Send(ctx, c, map[string]any{"type": "y"})
	if m := mustReceive(t, l, c); typ(m) != "y" {
		t.Fatalf("got %v", m)
	}
}

func TestMessageExpiryGroupSendOneChannel(t *testing.T) {
	_, rdb := newRedis(t)
	l := newLayer(t, rdb, Config{Expiry: 3 * time.Second})
	ctx := ctxT(t, 10*time.Second)
	c1, c2 := l.NewChannel(""), l.NewChannel("channel_2")
	l.GroupAdd(ctx, "test-group", c1)
	l.GroupAdd(ctx, "test-group", c2)
	l.Send(ctx, c1, map[string]any{"type": "test.message", "text": "Zero!"})
	// Age Zero! past the expiry instead of sleeping.
	key := l.ChannelKey(c1)
	z := rdb.ZRangeWithScores(ctx, key, 0, -1).Val()[0]
	rdb.ZAddXX(ctx, key, redisZ(z.Score-4, z.Member))
	for _, text := range []string{"First!", "Second!", "Third!"} {
		l.GroupSend(ctx, "test-group", map[string]any{"type": "test.message", "text": text})
	}
	for _, c := range []string{c1, c2} {
		for _, want := range []string{"First!", "Second!", "Third!"} {
			if m := mustReceive(t, l, c); m["text"] != want {
				t.Fatalf("%s got %v, want %s", c, m, want)
			}
		}
	}
	expectNothing(t, l, c1, 300*time.Millisecond)
}

func TestGroupKeyFormat(t *testing.T) {
	_, rdb := newRedis(t)
	if k := newLayer(t, rdb, Config{}).GroupKey("test_group"); k != "asgi:group:test_group" {
		t.Fatal(k)
	}
	if k := newLayer(t, rdb, Config{Prefix: "test_prefix"}).GroupKey("test_group"); k != "test_prefix:group:test_group" {
		t.Fatal(k)
	}
}

func TestReceiveBufferRespectsCapacity(t *testing.T) {
	l, err := New(offline(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	for i := range 10000 {
		l.bufferLocked("specific.x!y", "specific.x!", map[string]any{"i": i})
	}
	q := l.buffers["specific.x!y"].q
	l.mu.Unlock()
	if len(q) != 100 || q[0].msg["i"] != 9900 || q[99].msg["i"] != 9999 {
		t.Fatalf("buffer holds %d, first %v", len(q), q[0].msg)
	}
	if l.Stats().Overflowed != 9900 {
		t.Fatalf("overflowed %d", l.Stats().Overflowed)
	}
}

// Buffered messages nobody receives are swept after the expiry.
func TestReceiveBufferSweep(t *testing.T) {
	l, _ := New(offline(t), Config{Expiry: 10 * time.Second})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bufferLocked("specific.x!old", "specific.x!", map[string]any{})
	l.buffers["specific.x!old"].q[0].at = time.Now().Add(-11 * time.Second)
	l.lastSweep = time.Now().Add(-6 * time.Second)
	l.bufferLocked([]any{"specific.x!a", "specific.x!b"}, "specific.x!", map[string]any{})
	if _, ok := l.buffers["specific.x!old"]; ok || len(l.buffers) != 2 {
		t.Fatalf("buffers after sweep: %v", l.buffers)
	}
}

// Many goroutines receive on many process channels of one layer at once;
// each gets exactly its own messages, in order. (The layer's process
// channels share one key, hence one capacity: 100 here, as by default.)
func TestConcurrentProcessReceivers(t *testing.T) {
	_, rdb := newRedis(t)
	l := newLayer(t, rdb, Config{})
	ctx := ctxT(t, 30*time.Second)
	const chans, per = 20, 3
	var cs []string
	for range chans {
		cs = append(cs, l.NewChannel(""))
	}
	var wg sync.WaitGroup
	errs := make(chan error, chans)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				m, err := l.Receive(ctx, c)
				if err != nil {
					errs <- err
					return
				}
				if m["c"] != c || m["i"] != int64(i) {
					errs <- fmt.Errorf("%s got %v, want i=%d", c, m, i)
					return
				}
			}
		}()
	}
	for i := range per {
		for _, c := range cs {
			if err := l.Send(ctx, c, map[string]any{"c": c, "i": i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseEndsReceive(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 10*time.Second)
	errs := make(chan error, 2)
	for _, c := range []string{"plain", l.NewChannel("")} {
		go func() { _, err := l.Receive(ctx, c); errs <- err }()
	}
	l.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("receive after Close: %v", err)
		}
	}
}

func TestFlush(t *testing.T) {
	_, rdb := newRedis(t)
	l := newLayer(t, rdb, Config{})
	ctx := ctxT(t, 10*time.Second)
	for i := range 2500 {
		l.Send(ctx, fmt.Sprintf("c%d", i), map[string]any{})
	}
	l.GroupAdd(ctx, "g", "c1")
	rdb.Set(ctx, "other", "1", 0)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := rdb.Keys(ctx, "*").Val(); len(keys) != 1 || keys[0] != "other" {
		t.Fatalf("keys after flush: %d %v", len(keys), keys[:min(5, len(keys))])
	}
}

// Redis restarted (everything lost, nothing persisted): a blocked receive
// returns an error instead of hanging, and the layer works again after.
func TestRedisRestart(t *testing.T) {
	l, srv := suiteLayer(t)
	ctx := ctxT(t, 30*time.Second)
	errs := make(chan error, 1)
	go func() { _, err := l.Receive(ctx, "waiting"); errs <- err }()
	l.Send(ctx, "warm", map[string]any{})
	srv.Restart()
	// The blocked BZPOPMIN sees its connection closed; go-redis may retry it
	// on a fresh connection, so the receive may also just keep waiting.
	if err := l.Send(ctx, "waiting", map[string]any{"type": "after"}); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	if err := <-errs; err != nil {
		if m := mustReceive(t, l, "waiting"); typ(m) != "after" {
			t.Fatalf("got %v", m)
		}
	}
	srv.Kill()
	if err := l.Send(ctx, "x", map[string]any{}); err == nil {
		t.Fatal("send with Redis down succeeded")
	}
	srv.Start()
	if err := l.Send(ctx, "x", map[string]any{}); err != nil {
		t.Fatalf("send after Redis came back: %v", err)
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"tiny", "tiny", true}, {"tiny", "tinyx", false}, {"http.*", "http.request", true},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"[ab]x", "bx", true}, {"[!ab]x", "bx", false},
		{"[!ab]x", "cx", true}, {"a[", "a[", true}, {"a.b", "axb", false}, {"*!*", "x.y!z", true},
		{"[]]", "]", true}, {"[a-c]", "b", true},
	} {
		re, err := globRegexp(c.pat)
		if err != nil {
			t.Fatalf("%q: %v", c.pat, err)
		}
		if got := re.MatchString(c.name); got != c.want {
			t.Errorf("%q matches %q = %v", c.pat, c.name, got)
		}
	}
}

func TestConsistentHashVectors(t *testing.T) {
	for _, c := range []struct {
		v    string
		ring int
		want int
	}{{"key_one", 1, 0}, {"key_two", 1, 0}, {"key_one", 2, 1}, {"key_two", 2, 0}, {"key_one", 10, 6}, {"key_two", 10, 4}} {
		if got := consistentHash(c.v, c.ring); got != c.want {
			t.Errorf("consistentHash(%q, %d) = %d, want %d", c.v, c.ring, got, c.want)
		}
	}
}

// stored adds __asgi_channel__ by extending the map header, across the
// fixmap -> map16 -> map32 boundaries.
func TestStoredSplicesField(t *testing.T) {
	for _, n := range []int{0, 1, 14, 15, 16, 65534, 65535, 65536} {
		m := make(map[string]any, n)
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = i
		}
		body, err := appendMap(nil, m, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := stored(body, []string{"a!x", "a!y"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(b)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(got) != n+1 || fmt.Sprint(got[channelField]) != "[a!x a!y]" || (n > 0 && got["k0"] != int64(0)) {
			t.Fatalf("n=%d: %d entries, field %v", n, len(got), got[channelField])
		}
	}
	if _, err := stored([]byte{0x90}, "x"); !errors.Is(err, ErrDecode) {
		t.Fatalf("array body: %v", err)
	}
}

func TestSendMsgpackChecksBody(t *testing.T) {
	l, _ := suiteLayer(t)
	ctx := ctxT(t, 5*time.Second)
	for name, body := range map[string][]byte{
		`DMB's b"{}"`: []byte("{}"),
		"array":       {0x90},
		"truncated":   {0x81, 0xa1},
		"int keys":    {0x81, 0x01, 0xc0},
	} {
		if err := l.SendMsgpack(ctx, "c", body); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: %v", name, err)
		}
		if err := l.GroupSendMsgpack(ctx, "g", body); !errors.Is(err, ErrDecode) {
			t.Errorf("group %s: %v", name, err)
		}
	}
	reserved, _ := appendMap(nil, map[string]any{channelField: "x"}, 0)
	if err := l.SendMsgpack(ctx, "c", reserved); !errors.Is(err, ErrReservedKey) {
		t.Fatalf("reserved: %v", err)
	}
	if err := l.SendMsgpack(ctx, "bad name", []byte{0x80}); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
}

// A message a cancelled channels_redis receiver parked in $inflight is
// moved back and received, oldest first.
func TestReceiveRestoresParked(t *testing.T) {
	_, rdb := newRedis(t)
	l := newLayer(t, rdb, Config{})
	ctx := ctxT(t, 5*time.Second)
	if err := l.Send(ctx, "park", map[string]any{"type": "queued"}); err != nil {
		t.Fatal(err)
	}
	parked, _ := encode(map[string]any{"type": "parked"})
	rdb.ZAdd(ctx, "asgipark$inflight", redisZ(1, parked))
	for _, want := range []string{"parked", "queued"} {
		if m := mustReceive(t, l, "park"); typ(m) != want {
			t.Fatalf("got %v, want %s", m, want)
		}
	}
	if n := rdb.Exists(ctx, "asgipark$inflight").Val(); n != 0 {
		t.Fatal("park not deleted")
	}
}

// offline is a client for tests that never reach Redis.
func offline(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNewRejectsNil(t *testing.T) {
	if _, err := New(nil, Config{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	if _, err := New(offline(t), Config{ChannelCapacity: []ChannelCapacity{{"[", 1}}}); err != nil {
		t.Fatalf("unclosed [ is a literal, as in fnmatch: %v", err)
	}
}
