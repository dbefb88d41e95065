package zmq_test

// Allocation benchmarks per path (issue 6: "0 allocations per message on the
// send path and at most 1 on the receive path in steady state").
//
// Over tcp each path is measured alone: the other end is a raw ZMTP peer
// that allocates nothing per message (a sink that reads into one buffer, or
// a source that writes one pre-encoded chunk again and again), so allocs/op
// is what zmqgo spends per message on that path, its goroutines included.
// Over inproc both ends are zmqgo sockets in this process, so allocs/op
// counts sending and receiving together.
//
//	go test -run '^$' -bench 'Path|PubSub' -benchmem .

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

var pathSizes = []int{16, 256, 4096, 65536}

// BenchmarkPath measures one path per sub-benchmark:
//
//	send/tcp/push   PUSH.Send to a raw sink
//	send/tcp/pub    PUB.Send (waiting at the HWM: NODROP) to a raw subscribed sink
//	recv/tcp/pull   PULL.Recv from a raw source
//	recv/tcp/sub    SUB.Recv from a raw source
//	both/inproc/pushpull, both/inproc/pubsub   both ends, one goroutine each
func BenchmarkPath(b *testing.B) {
	for _, size := range pathSizes {
		b.Run(fmt.Sprintf("send/tcp/push/%dB", size), func(b *testing.B) { benchSendPath(b, zmq.Push, size) })
	}
	for _, size := range pathSizes {
		b.Run(fmt.Sprintf("send/tcp/pub/%dB", size), func(b *testing.B) { benchSendPath(b, zmq.Pub, size) })
	}
	for _, size := range pathSizes {
		b.Run(fmt.Sprintf("recv/tcp/pull/%dB", size), func(b *testing.B) { benchRecvPath(b, zmq.Pull, size) })
	}
	for _, size := range pathSizes {
		b.Run(fmt.Sprintf("recv/tcp/sub/%dB", size), func(b *testing.B) { benchRecvPath(b, zmq.Sub, size) })
	}
	for _, size := range pathSizes {
		b.Run(fmt.Sprintf("both/inproc/pushpull/%dB", size), func(b *testing.B) {
			benchBothEnds(b, "inproc://bench2-pushpull", zmq.Pull, zmq.Push, size)
		})
	}
	for _, size := range pathSizes {
		b.Run(fmt.Sprintf("both/inproc/pubsub/%dB", size), func(b *testing.B) {
			benchBothEnds(b, "inproc://bench2-pubsub", zmq.Sub, zmq.Pub, size)
		})
	}
}

// BenchmarkPubSub is PUB/SUB throughput between two zmqgo sockets (the
// publisher waits at the HWM, so every message arrives).
func BenchmarkPubSub(b *testing.B) {
	for _, tr := range []string{"tcp://127.0.0.1:0", "inproc://bench2-pubsub-thr"} {
		for _, size := range pathSizes {
			name := "tcp"
			if tr[0] == 'i' {
				name = "inproc"
			}
			b.Run(fmt.Sprintf("%s/%dB", name, size), func(b *testing.B) {
				benchBothEnds(b, tr, zmq.Sub, zmq.Pub, size)
			})
		}
	}
}

// benchSendPath: a zmqgo socket of type t connects to a raw peer that
// discards everything.
func benchSendPath(b *testing.B, t zmq.Type, size int) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s, err := zmq.NewSocket(t, zmq.WithLinger(0), zmq.WithXPubNoDrop(true))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Connect("tcp://" + ln.Addr().String()); err != nil {
		b.Fatal(err)
	}
	nc, err := ln.Accept()
	ln.Close()
	if err != nil {
		b.Fatal(err)
	}
	p := &ztest.Peer{Conn: nc, R: zmtp.NewReader(nc, 0, nil)}
	peerType := "PULL"
	if t == zmq.Pub {
		peerType = "SUB"
	}
	if err := p.Handshake(peerType, nil); err != nil {
		b.Fatal(err)
	}
	if t == zmq.Pub {
		if err := p.Write(zmtp.AppendSubscribe(nil, nil)); err != nil {
			b.Fatal(err)
		}
	}
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 256<<10)
		for {
			n, err := nc.Read(buf)
			got.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() {
		s.Close()
		nc.Close()
		<-done
	})
	msg := zmq.NewMsg(make([]byte, size))
	// Warm up: until bytes flow (PUB: the subscription is in place) and the
	// queues and buffers have reached their steady size.
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() == 0 {
		if time.Now().After(deadline) {
			b.Fatal("nothing arrived at the sink")
		}
		if err := s.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 5000; i++ {
		if err := s.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	c := startCount(b)
	for i := 0; i < b.N; i++ {
		if err := s.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	c.stop()
}

// benchRecvPath: a zmqgo socket of type t binds; a raw peer connects and
// writes the same pre-encoded chunk of messages again and again.
func benchRecvPath(b *testing.B, t zmq.Type, size int) {
	ctx := context.Background()
	s, err := zmq.NewSocket(t, zmq.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	if t == zmq.Sub {
		if err := s.Subscribe(nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	p, err := ztest.Dial(s.LastEndpoint())
	if err != nil {
		b.Fatal(err)
	}
	peerType := "PUSH"
	if t == zmq.Sub {
		peerType = "PUB"
	}
	if err := p.Handshake(peerType, nil); err != nil {
		b.Fatal(err)
	}
	one := ztest.Msg(make([]byte, size))
	var chunk []byte
	for len(chunk) < 64<<10 {
		chunk = append(chunk, one...)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := p.Conn.Write(chunk); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() {
		s.Close()
		p.Conn.Close()
		<-done
	})
	for i := 0; i < 5000; i++ {
		if _, err := s.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	c := startCount(b)
	for i := 0; i < b.N; i++ {
		m, err := s.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Frames[0]) != size {
			b.Fatalf("got %d bytes", len(m.Frames[0]))
		}
		m.Release()
	}
	c.stop()
}

// benchBothEnds: receiver of type rt binds ep, sender of type st connects;
// a goroutine sends b.N messages and the benchmark receives them. A PUB
// waits at the HWM (NODROP), so every message arrives.
func benchBothEnds(b *testing.B, ep string, rt, st zmq.Type, size int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := zmq.NewSocket(rt, zmq.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	if rt == zmq.Sub {
		if err := r.Subscribe(nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Bind(ep); err != nil {
		b.Fatal(err)
	}
	s, err := zmq.NewSocket(st, zmq.WithLinger(0), zmq.WithXPubNoDrop(true))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Connect(r.LastEndpoint()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(); r.Close() })
	msg := zmq.NewMsg(make([]byte, size))
	// Warm up until a message gets through (SUB: subscribed), then some more.
	for {
		if err := s.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if _, err := r.TryRecv(); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for {
		if _, err := r.TryRecv(); err != nil {
			break
		}
	}
	const warm = 5000
	b.SetBytes(int64(size))
	b.ReportAllocs()
	done := make(chan error, 1)
	start := make(chan struct{})
	go func() {
		for i := 0; i < warm; i++ {
			if err := s.Send(ctx, msg); err != nil {
				done <- err
				return
			}
		}
		<-start
		for i := 0; i < b.N; i++ {
			if err := s.Send(ctx, msg); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < warm; i++ {
		if _, err := r.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	c := startCount(b)
	close(start)
	for i := 0; i < b.N; i++ {
		if _, err := r.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	c.stop()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// allocCount reports exact allocations per message (allocs/op is rounded
// down to an integer) and messages per second.
type allocCount struct {
	b     *testing.B
	start runtime.MemStats
}

func startCount(b *testing.B) *allocCount {
	c := &allocCount{b: b}
	runtime.ReadMemStats(&c.start)
	b.ResetTimer()
	return c
}

func (c *allocCount) stop() {
	c.b.StopTimer()
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	n := float64(c.b.N)
	c.b.ReportMetric(float64(end.Mallocs-c.start.Mallocs)/n, "allocs/msg")
	c.b.ReportMetric(float64(end.TotalAlloc-c.start.TotalAlloc)/n, "B/msg")
	c.b.ReportMetric(n/c.b.Elapsed().Seconds(), "msgs/s")
}
