package channels

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
