package zmq_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/zmqgo/zmq"
)

func benchPair(b *testing.B, bindT, connT zmq.Type) (*zmq.Socket, *zmq.Socket) {
	b.Helper()
	bs, err := zmq.NewSocket(bindT, zmq.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	if err := bs.Bind("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	cs, err := zmq.NewSocket(connT, zmq.WithLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	if err := cs.Connect(bs.LastEndpoint()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close(); bs.Close() })
	return bs, cs
}

// BenchmarkPushPull measures one-way throughput over tcp loopback: a sender
// goroutine and the benchmark's receiver, one frame per message.
func BenchmarkPushPull(b *testing.B) {
	for _, size := range []int{16, 256, 4096, 65536} {
		b.Run(fmt.Sprintf("tcp/%dB", size), func(b *testing.B) {
			pull, push := benchPair(b, zmq.Pull, zmq.Push)
			ctx := context.Background()
			body := make([]byte, size)
			msg := zmq.NewMsg(body)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			done := make(chan error, 1)
			go func() {
				for i := 0; i < b.N; i++ {
					if err := push.Send(ctx, msg); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			for i := 0; i < b.N; i++ {
				if _, err := pull.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkReqRep measures the round trip of one request and its reply.
func BenchmarkReqRep(b *testing.B) {
	for _, size := range []int{16, 65536} {
		b.Run(fmt.Sprintf("tcp/%dB", size), func(b *testing.B) {
			rep, req := benchPair(b, zmq.Rep, zmq.Req)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				for {
					m, err := rep.Recv(ctx)
					if err != nil {
						return
					}
					if rep.Send(ctx, m) != nil {
						return
					}
				}
			}()
			msg := zmq.NewMsg(make([]byte, size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := req.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
				if _, err := req.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
