package zmq_test

import (
	"net"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// Reconnection waits the interval plus a random jitter of up to one interval
// (libzmq), doubling the interval after each failure up to the maximum.
func TestReconnectBackoffWithJitter(t *testing.T) {
	ctx := ctxT(t)
	// A port nobody listens on: every attempt fails at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "tcp://" + l.Addr().String()
	l.Close()
	const ivl, max = 10 * time.Millisecond, 80 * time.Millisecond
	s := sock(t, zmq.Push, zmq.WithReconnectInterval(ivl), zmq.WithReconnectIntervalMax(max))
	ev := s.Monitor(ctx)
	s.Connect(dead)
	base := ivl
	for i := 0; i < 7; i++ {
		e := waitEvent(t, ctx, ev, zmq.EventConnectRetried)
		if e.Interval < base || e.Interval >= 2*base {
			t.Fatalf("retry %d waits %v, want interval %v plus jitter below %v", i, e.Interval, base, base)
		}
		base = min(2*base, max)
	}
	// Without a maximum there is no backoff: every wait stays within [ivl, 2·ivl).
	s2 := sock(t, zmq.Push, zmq.WithReconnectInterval(ivl))
	ev2 := s2.Monitor(ctx)
	s2.Connect(dead)
	for i := 0; i < 5; i++ {
		if e := waitEvent(t, ctx, ev2, zmq.EventConnectRetried); e.Interval < ivl || e.Interval >= 2*ivl {
			t.Fatalf("retry %d waits %v without backoff", i, e.Interval)
		}
	}
}
