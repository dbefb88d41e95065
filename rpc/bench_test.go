package rpc

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRoundTrip measures readproperty and invokeaction (emit, which
// also publishes an event) through our Client and Server, with 1, 16 and
// 256 requests in flight, over tcp and ipc. Requests carry hololinked's
// default 5 s timeouts, so the server runs both timers for each.
// The side-by-side with a hololinked-style Python server is
// bench/cmd/rpcbench.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc"} {
		for _, op := range []string{OpReadProperty, OpInvokeAction} {
			for _, inflight := range []int{1, 16, 256} {
				b.Run(fmt.Sprintf("%s/%s/inflight=%d", tr, op, inflight), func(b *testing.B) {
					benchRoundTrip(b, tr, op, inflight)
				})
			}
		}
	}
}

func benchRoundTrip(b *testing.B, tr, op string, inflight int) {
	s, err := NewServer("demo")
	if err != nil {
		b.Fatal(err)
	}
	s.AddThing(NewDemoThing("demo"))
	ap := "tcp://127.0.0.1:0"
	if tr == "ipc" {
		ap = "ipc://" + filepath.Join(b.TempDir(), "demo.ipc")
	}
	ep, err := s.Listen(ap)
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(context.Background())
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Dial(ctx, ep, "demo")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	objekt, payload := "count", any(nil)
	if op == OpInvokeAction {
		objekt, payload = "emit", map[string]any{"value": 1}
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if _, err := c.Do(ctx, "demo", objekt, op, payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
	// CPU time of client and server together: steadier than ops/s on a
	// shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N), "cpu-µs/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
