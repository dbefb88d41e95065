package zmq_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// What connections cost: a ROUTER (in a child process, so that its RSS is
// its own) serves 500 DEALERs connected at once, each exchanging a message,
// three rounds of connecting and disconnecting. Its peak RSS must stay
// under 60 MiB (issue 16: 184 MB for 500 connections before). Under the
// race detector, whose shadow memory swamps the RSS, the bound applies to
// the Go heap and stacks the child obtained from the system.
func TestManyConnectionsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 500 connections")
	}
	const (
		conns  = 500
		rounds = 3
		bound  = 60 * mib
	)
	c := startMemChild(t, "TestManyConnectionsMemoryChild", "router-echo")
	ep := c.next("READY")
	base, _ := vmStat(c.pid(), "VmRSS:")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	var held, goHeld int64
	for round := range rounds {
		socks := make([]*zmq.Socket, conns)
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for i := range socks {
			s, err := zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0))
			if err != nil {
				t.Fatal(err)
			}
			socks[i] = s
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Connect(ep); err != nil {
					errs <- err
					return
				}
				if err := s.Send(ctx, zmq.NewMsgString(strings.Repeat("x", 100))); err != nil {
					errs <- err
					return
				}
				if _, err := s.Recv(ctx); err != nil {
					errs <- fmt.Errorf("round %d: %w", round, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if rss, _ := vmStat(c.pid(), "VmRSS:"); rss > held {
			held = rss
		}
		if _, heap, stack := c.goMem(); heap+stack > goHeld {
			goHeld = heap + stack
		}
		for _, s := range socks {
			s.Close()
		}
	}
	peak, _ := vmStat(c.pid(), "VmHWM:")
	heapSys, _, stackSys := c.goMem()
	t.Logf("ROUTER with %d DEALERs connected at once, %d rounds in %v: RSS %d MiB before, %d MiB with them connected, peak %d MiB (%.1f KiB per connection); Go heap+stacks held %d MiB, obtained %d MiB; bound %d MiB; race detector: %v",
		conns, rounds, time.Since(start).Round(time.Millisecond), base/mib, held/mib, peak/mib, float64(peak-base)/conns/1024,
		goHeld/mib, (heapSys+stackSys)/mib, bound/mib, raceEnabled())
	if raceEnabled() {
		peak = heapSys + stackSys
	}
	if peak > bound {
		t.Errorf("peak %d MiB > %d MiB", peak/mib, bound/mib)
	}
}

// TestManyConnectionsMemoryChild is TestManyConnectionsMemory's ROUTER,
// run in a child process; on its own it skips. It echoes every message,
// prints "READY <endpoint>", answers "mem" (see serveMemQueries) and exits
// when stdin closes.
func TestManyConnectionsMemoryChild(t *testing.T) {
	if os.Getenv(childEnv) != "router-echo" {
		t.Skip("the server of TestManyConnectionsMemory, run in a child process")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := zmq.NewSocket(zmq.Router, zmq.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY", r.LastEndpoint())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.Recv(ctx)
			if err != nil {
				return
			}
			r.Send(ctx, m)
		}
	}()
	serveMemQueries()
	cancel()
	<-done
}
