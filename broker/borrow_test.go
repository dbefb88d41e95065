package broker

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// The ROUTER hands requests to the broker in its read buffer
// (zmq.WithBorrowedFrames): anything that outlives the handler must be a
// copy. The cluster path keeps a request's content and request_id until
// Redis answers, and the Redis worker encodes them later: many requests
// in flight from several clients (many per read, each read overwriting the
// last) must each arrive with its own content, and each confirmation pair
// with its request (the client matches them by request_id).
func TestRedisBorrowedRequests(t *testing.T) {
	ctx := testCtx(t)
	_, n := startNodes(t, 2, RedisConfig{})
	_, bobIn := client(t, n[1].Addr(), "bob")
	const senders, per, inFlight = 3, 200, 32
	content := func(k, i int) string {
		// Distinct, of varying length: a view into a reused buffer shows.
		return fmt.Sprintf("s%d-m%d-%s", k, i, strings.Repeat(string(rune('a'+(i+k)%26)), (i*37+k)%300))
	}
	var wg sync.WaitGroup
	errs := make(chan error, senders*per)
	for k := range senders {
		c, _ := client(t, n[0].Addr(), fmt.Sprintf("sender%d", k))
		sem := make(chan struct{}, inFlight)
		for i := range per {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if st, err := c.Send(ctx, "bob", content(k, i)); err != nil || st != StatusDelivered {
					errs <- fmt.Errorf("sender %d message %d: %q, %v", k, i, st, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	want := map[string]bool{}
	for k := range senders {
		for i := range per {
			want[content(k, i)] = true
		}
	}
	for range senders * per {
		m := bobIn.next(t, TypeDirectMessage)
		if !want[m.Text()] {
			t.Fatalf("bob got %.60q from %s: not sent, or twice", m.Text(), m.From)
		}
		delete(want, m.Text())
	}
}
