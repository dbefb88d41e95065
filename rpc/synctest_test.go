package rpc

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestTimeoutsFakeClock runs the timeout rules on synctest's fake clock,
// over inproc: exact instants, no waiting.
func TestTimeoutsFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := NewServer("fake")
		if err != nil {
			t.Fatal(err)
		}
		s.AddThing(NewDemoThing("demo"))
		ep, err := s.Listen("inproc://rpc-fake-clock")
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(context.Background())
		defer s.Close()
		ctx := context.Background()
		c, err := Dial(ctx, ep, "fake")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		start := time.Now()
		var te *TimeoutError
		err = c.InvokeAction(ctx, "demo", "sleep_for", map[string]any{"seconds": 3600}, nil, CallTimeouts(time.Minute, 5*time.Second))
		if !errors.As(err, &te) || te.Kind != TimeoutExecution || time.Since(start) != 5*time.Second {
			t.Fatalf("execution timeout: %v after %v", err, time.Since(start))
		}

		start = time.Now()
		busy := c.InvokeActionAsync(ctx, "demo", "sleep_for", map[string]any{"seconds": 10}, CallTimeouts(time.Minute, time.Minute))
		err = c.WriteProperty(ctx, "demo", "count", 5, CallTimeouts(2*time.Second, time.Minute))
		if !errors.As(err, &te) || te.Kind != TimeoutInvokation || time.Since(start) != 2*time.Second {
			t.Fatalf("invocation timeout: %v after %v", err, time.Since(start))
		}
		if err := busy.Result(ctx, nil); err != nil || time.Since(start) != 10*time.Second {
			t.Fatalf("sleep_for(10): %v after %v", err, time.Since(start))
		}
		var n float64
		if err := c.ReadProperty(ctx, "demo", "count", &n); err != nil || n != 1 {
			t.Fatalf("the timed-out write ran: %v %v", n, err)
		}

		// Declared defaults, and a oneway request's TIMEOUT is still sent
		// (and dropped by the client).
		start = time.Now()
		if err := c.InvokeAction(ctx, "demo", "sleep_for", map[string]any{"seconds": 30}, nil, Oneway()); err != nil {
			t.Fatal(err)
		}
		// the oneway job holds the queue for its 5 s execution timeout
		if err := c.InvokeAction(ctx, "demo", "ping", nil, nil, CallTimeouts(time.Minute, time.Minute)); err != nil || time.Since(start) != 5*time.Second {
			t.Fatalf("ping behind a oneway job: %v after %v", err, time.Since(start))
		}
	})
}
