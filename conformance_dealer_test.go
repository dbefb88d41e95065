package zmq_test

// Conformance: DEALER round robin and fair queueing (RFC 28).

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// --------------------------------------------------------------- DEALER

// distribute checks round-robin: once every receiver has taken a probe,
// n messages split evenly.
func distribute(t *testing.T, sender *zmq.Socket, receivers []*zmq.Socket, prefix []string) {
	in := collect(t, receivers...)
	seen := map[int]bool{}
	for len(seen) < len(receivers) {
		mustSend(t, sender, append(prefix, "probe")...)
		seen[next(t, in).from] = true
	}
	n := 100 * len(receivers)
	for i := 0; i < n; i++ {
		mustSend(t, sender, append(prefix, "data")...)
	}
	counts := make([]int, len(receivers))
	for i := 0; i < n; i++ {
		tm := next(t, in)
		if string(tm.m.Frames[len(tm.m.Frames)-1]) != "data" {
			t.Fatalf("unexpected %q", frames(tm.m))
		}
		counts[tm.from]++
	}
	for i, c := range counts {
		if c != n/len(receivers) {
			t.Fatalf("counts %v: receiver %d got %d of %d, want an even split", counts, i, c, n)
		}
	}
}

func TestDEALERRoundRobin(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			dealer := newSock(t, zmq.Dealer)
			var routers []*zmq.Socket
			for i := 0; i < 3; i++ {
				r := newSock(t, zmq.Router)
				link(t, dealer, r, dir.aBinds)
				routers = append(routers, r)
			}
			distribute(t, dealer, routers, nil)
		})
	}
}

// fairQueue checks that a receiver with two loaded senders takes from both
// in turn rather than draining one first.
func fairQueue(t *testing.T, recvType, sendType zmq.Type) {
	const N = 2000
	// Each pipe may hold many received messages (as in libzmq); the receiver
	// must still take them in turn.
	r := newSock(t, recvType)
	ep := bindTCP(t, r)
	senders := []*zmq.Socket{newSock(t, sendType), newSock(t, sendType)}
	for i, s := range senders {
		connectTo(t, s, ep)
		mustSend(t, s, "hello", fmt.Sprint(i))
	}
	for range senders {
		if m := mustRecv(t, r); string(m.Frames[0]) != "hello" {
			t.Fatalf("got %q, want hello", frames(m))
		}
	}
	// Both load up at once; r reads only once both are done sending.
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx := timeout(t, long)
			for k := 0; k < N; k++ {
				if err := s.Send(ctx, zmq.NewMsgString(fmt.Sprint(i), fmt.Sprint(k))); err != nil {
					t.Errorf("sender %d: %v", i, err)
					return
				}
			}
		}()
	}
	close(start)
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		// Senders may block on flow control; reading will free them.
	}
	// While both have plenty queued (the first N of 2N messages), both must
	// be served: a receiver that drains one peer first would take all N from
	// it. Exact alternation is not required (scheduling skews the ratio).
	var nextSeq [2]int
	var firstHalf [2]int
	for i := 0; i < 2*N; i++ {
		m := mustRecv(t, r)
		from := int(m.Frames[0][0] - '0')
		if seq := string(m.Frames[1]); seq != fmt.Sprint(nextSeq[from]) {
			t.Fatalf("from sender %d: got #%s, want #%d (order broken)", from, seq, nextSeq[from])
		}
		nextSeq[from]++
		if i < N {
			firstHalf[from]++
		}
	}
	<-sent
	t.Logf("first %d messages: %d from sender 0, %d from sender 1", N, firstHalf[0], firstHalf[1])
	// The split itself is not asserted: a peer whose bytes are still in the
	// kernel (its reader not yet woken by Go's netpoller) has nothing queued
	// to take turns with. TestFairQueuePolicy checks the turn-taking itself.
}

func TestDEALERFairQueue(t *testing.T) { fairQueue(t, zmq.Dealer, zmq.Dealer) }
func TestPULLFairQueue(t *testing.T)   { fairQueue(t, zmq.Pull, zmq.Push) }
