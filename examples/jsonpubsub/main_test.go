package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, nil); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	want := `order 1: 2 x widget at 9.99 = 19.98
order 2: 1 x gadget at 24.50 = 24.50
malformed order "{not json"
order 3: 12 x sprocket at 0.75 = 9.00
orders: 3 received, 1 malformed
ticks: 20 received, 0 missing, 0 out of order, 0 malformed
latency: `
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got\n%s\nwant a prefix\n%s", got, want)
	}
}

func TestTickStats(t *testing.T) {
	var s TickStats
	now := unixSeconds(time.Now())
	for _, seq := range []int{1, 2, 5, 4, 6} {
		b, _ := json.Marshal(Tick{Seq: seq, Timestamp: now})
		s.Handle(b, []byte(TicksTag))
	}
	s.Handle([]byte("garbage"), []byte(TicksTag))
	if got := s.Summary(); got != "ticks: 5 received, 2 missing, 1 out of order, 1 malformed" {
		t.Fatal(got)
	}
	if s.MinLatency < 0 || s.MaxLatency < s.MinLatency {
		t.Fatalf("latencies %v %v", s.MinLatency, s.MaxLatency)
	}
	if d := fromUnixSeconds(1.5); !d.Equal(time.Unix(1, 5e8)) {
		t.Fatal(d)
	}
}

func TestRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct{ pub, sub, want string }{
		{"json-pub", "json-sub", "order "},
		{"ts-pub", "ts-sub", "ticks: 5 received"},
	} {
		t.Run(c.pub, func(t *testing.T) {
			pubCtx, stop := context.WithCancel(ctx)
			lines := make(ztest.ChanWriter, 1)
			pubErr := make(chan error, 1)
			go func() {
				pubErr <- run(pubCtx, lines, []string{"-role", c.pub, "-bind", "tcp://127.0.0.1:0", "-interval", "10ms"})
			}()
			var addr string
			select {
			case l := <-lines:
				addr = strings.TrimSpace(l[strings.LastIndex(l, " ")+1:])
			case <-ctx.Done():
				t.Fatal("publisher did not start")
			}
			var out bytes.Buffer
			err := run(ctx, &out, []string{"-role", c.sub, "-connect", addr, "-count", "5"})
			stop()
			if err != nil {
				t.Fatal(err)
			}
			if err := <-pubErr; err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), c.want) {
				t.Fatalf("%s printed %q", c.sub, out.String())
			}
		})
	}
}
