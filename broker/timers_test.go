package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The timer logic (expiry, rate limits, stats, announcements) runs in the
// broker's loop on fake time (testing/synctest), with a fakeSink in place
// of the sockets.

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startFake runs a broker's loop without sockets. Call stopFake before the
// bubble ends.
func startFake(t *testing.T, cfg Config, upstreams int) (*Broker, *fakeSink, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	for range upstreams {
		cfg.Upstream = append(cfg.Upstream, "tcp://upstream")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{cfg: cfg, log: cfg.Logger, in: make(chan event, inbox), calls: make(chan func()),
		quit: make(chan struct{}), loopDone: make(chan struct{}), lastStatsAt: time.Now()}
	sink := newFakeSink(upstreams)
	b.st = newState(&b.cfg, sink, upstreams)
	b.ops.init()
	go b.loop()
	return b, sink, logs
}

func (b *Broker) stopFake() {
	close(b.quit)
	<-b.loopDone
}

func (b *Broker) msg(id, body string) {
	b.in <- event{kind: evMsg, src: -1, id: []byte(id), frames: [][]byte{[]byte(body)}}
}

func clientNames(b *Broker) string {
	var names []string
	for _, c := range b.Clients() {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// Silent peers expire after Expire; any message, a ping too, keeps one alive.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sink, _ := startFake(t, Config{Expire: time.Minute}, 0)
		defer b.stopFake()
		b.msg("A", `{"type":"register","name":"alice"}`)
		b.msg("B", `{"type":"register","name":"bob"}`)
		b.msg("C", `{"type":"ping"}`) // never registers
		time.Sleep(45 * time.Second)
		b.msg("A", `{"type":"ping"}`)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if got := clientNames(b); got != "alice" {
			t.Fatalf("after 65 s: clients %q, want alice", got)
		}
		if st := b.Stats(); st.Expired != 2 || st.Peers != 1 {
			t.Fatalf("stats %+v", st)
		}
		// bob's name is free again.
		b.msg("D", `{"type":"register","name":"bob"}`)
		time.Sleep(50 * time.Second)
		synctest.Wait()
		if got := clientNames(b); got != "bob" {
			t.Fatalf("after 115 s: clients %q, want bob", got)
		}
		if n := len(sink.take("D")); n != 1 {
			t.Fatalf("D got %d replies", n)
		}
	})
}

// No expiry with a negative Expire.
func TestNoExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _, _ := startFake(t, Config{Expire: -1}, 0)
		defer b.stopFake()
		b.msg("A", `{"type":"register","name":"alice"}`)
		time.Sleep(24 * time.Hour)
		if got := clientNames(b); got != "alice" {
			t.Fatalf("clients %q", got)
		}
	})
}

// A flood is cut at the burst; the bucket refills at the rate; other
// clients are not affected.
func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sink, _ := startFake(t, Config{Rate: 10, Burst: 5}, 0)
		defer b.stopFake()
		count := func(id string) (pongs, errs int) {
			for _, m := range sink.take(id) {
				switch {
				case bytes.Contains(m, []byte(`"type":"pong"`)):
					pongs++
				case bytes.Contains(m, []byte(`rate limit exceeded`)):
					errs++
				default:
					t.Fatalf("%s got %s", id, m)
				}
			}
			return
		}
		for range 50 {
			b.msg("F", `{"type":"ping"}`)
		}
		b.msg("G", `{"type":"ping"}`)
		synctest.Wait()
		if p, e := count("F"); p != 5 || e != 45 {
			t.Fatalf("flood: %d pongs, %d errors", p, e)
		}
		if p, e := count("G"); p != 1 || e != 0 {
			t.Fatalf("bystander: %d pongs, %d errors", p, e)
		}
		time.Sleep(300 * time.Millisecond) // 3 tokens
		for range 4 {
			b.msg("F", `{"type":"ping"}`)
		}
		synctest.Wait()
		if p, e := count("F"); p != 3 || e != 1 {
			t.Fatalf("after 300 ms: %d pongs, %d errors", p, e)
		}
		if st := b.Stats(); st.RateLimited != 46 || st.Errors != 46 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// --stats-interval logs throughput and counts.
func TestStatsLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _, logs := startFake(t, Config{StatsInterval: 10 * time.Second}, 0)
		defer b.stopFake()
		b.msg("A", `{"type":"register","name":"alice"}`)
		b.msg("B", `{"type":"register","name":"bob"}`)
		for range 18 {
			b.msg("A", `{"type":"direct_message","target":"bob","content":"x"}`)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		l := logs.String()
		for _, want := range []string{"msg=\"broker: stats\"", "clients=2", "in_per_sec=2 ", "out_per_sec=3.8 ", "received=20", "sent=38"} {
			if !strings.Contains(l, want) {
				t.Fatalf("stats log lacks %q:\n%s", want, l)
			}
		}
	})
}

// A federated broker announces its names upstream: at once, then changes
// gathered for announceDelay, and every AnnounceInterval.
func TestAnnounceTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sink, _ := startFake(t, Config{Name: "east", Expire: 30 * time.Second}, 1)
		defer b.stopFake()
		synctest.Wait()
		if got := sink.takeUp(0); len(got) != 1 || string(got[0]) != `{"type":"register","node":"east"}` {
			t.Fatalf("first announcement %q", got)
		}
		b.msg("A", `{"type":"register","name":"alice"}`)
		b.msg("B", `{"type":"register","name":"bob"}`)
		synctest.Wait()
		if got := sink.takeUp(0); len(got) != 0 {
			t.Fatalf("announced before the delay: %q", got)
		}
		time.Sleep(announceDelay)
		synctest.Wait()
		if got := sink.takeUp(0); len(got) != 1 || string(got[0]) != `{"type":"register","node":"east","routes":["alice","bob"]}` {
			t.Fatalf("announcement %q", got)
		}
		time.Sleep(10*time.Second - announceDelay)
		synctest.Wait()
		if got := sink.takeUp(0); len(got) != 1 {
			t.Fatalf("periodic announcement %q", got)
		}
		// A new upstream connection gets it at once.
		b.in <- event{kind: evUp, src: 0}
		synctest.Wait()
		if got := sink.takeUp(0); len(got) != 1 {
			t.Fatalf("announcement on connect %q", got)
		}
		if st := b.Stats(); st.Upstreams != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}
