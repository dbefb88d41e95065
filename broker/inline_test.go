package broker

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
)

// An inline handler gets every message in order, on the receiving
// goroutine (so one at a time), and may answer with SendAsync from there:
// a ping-pong of 2,000 exchanges between two inline handlers.
func TestInlineHandlerPingPong(t *testing.T) {
	const rounds = 2000
	b := startBroker(t, Config{Rate: -1})
	ctx := testCtx(t)

	var mu sync.Mutex // the test's view of both handlers
	running := map[string]bool{}
	got := map[string][]int{}
	closed := false
	finished := make(chan struct{})
	failed := make(chan error, 4)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	confirmed := make(chan struct{}, rounds) // one per SendAsync's done
	clients := map[string]*Client{}
	handler := func(name, peer string) Handler {
		return func(_ context.Context, m Message) {
			mu.Lock()
			if running[name] {
				fail(errors.New(name + ": handler called while it ran"))
			}
			if closed {
				fail(errors.New(name + ": handler called after Close returned"))
			}
			running[name] = true
			mu.Unlock()
			defer func() {
				mu.Lock()
				running[name] = false
				mu.Unlock()
			}()
			if m.Type != TypeDirectMessage {
				return
			}
			n, err := strconv.Atoi(m.Text())
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			got[name] = append(got[name], n)
			c := clients[name]
			mu.Unlock()
			if n == rounds {
				close(finished)
				return
			}
			// From the handler: SendAsync never waits, so the receiving
			// goroutine is never held up.
			if err := c.SendAsync(peer, strconv.Itoa(n+1), func(_ string, err error) {
				if err != nil {
					fail(err)
				}
				confirmed <- struct{}{}
			}); err != nil {
				fail(err)
			}
		}
	}
	for _, p := range [][2]string{{"ping", "pong"}, {"pong", "ping"}} {
		c, err := NewClient(b.Addr(), WithInlineHandler(handler(p[0], p[1])))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Register(ctx, p[0]); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		clients[p[0]] = c
		mu.Unlock()
	}
	if _, err := clients["ping"].Send(ctx, "pong", "1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-finished:
	case err := <-failed:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatalf("the ping-pong stopped: %v", ctx.Err())
	}
	// Messages 2..rounds were sent with SendAsync: their confirmations
	// come before Close, which would fail those still awaited.
	for range rounds - 1 {
		select {
		case <-confirmed:
		case err := <-failed:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("confirmations missing: %v", ctx.Err())
		}
	}
	for _, c := range clients {
		c.Close()
	}
	mu.Lock()
	closed = true
	for name, ns := range got {
		for i, n := range ns {
			// pong gets the odd numbers, ping the even ones, in order.
			want := 2*i + 1
			if name == "ping" {
				want = 2*i + 2
			}
			if n != want {
				mu.Unlock()
				t.Fatalf("%s: message %d is %d, want %d", name, i, n, want)
			}
		}
	}
	total := len(got["ping"]) + len(got["pong"])
	mu.Unlock()
	if total != rounds {
		t.Fatalf("%d messages handled, want %d", total, rounds)
	}
	select {
	case err := <-failed:
		t.Fatal(err)
	default:
	}
}
