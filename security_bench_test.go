package zmq_test

import (
	"context"
	"fmt"
	"testing"

	zmq "github.com/zmqgo/zmq"
)

// BenchmarkCurvePushPull is BenchmarkPushPull (bench_test.go) under CURVE:
// one-way throughput over tcp loopback, one frame per message, every
// message encrypted and authenticated. Compare side by side with libzmq's
// CURVE with bench/sidebyside_curve.sh.
func BenchmarkCurvePushPull(b *testing.B) {
	k := testKeys(b)
	for _, size := range []int{16, 65536} {
		b.Run(fmt.Sprintf("tcp/%dB", size), func(b *testing.B) {
			pull, err := zmq.NewSocket(zmq.Pull, zmq.WithLinger(0), zmq.WithCurveServer(k.serverSec))
			if err != nil {
				b.Fatal(err)
			}
			defer pull.Close()
			if err := pull.Bind("tcp://127.0.0.1:0"); err != nil {
				b.Fatal(err)
			}
			push, err := zmq.NewSocket(zmq.Push, zmq.WithLinger(0), zmq.WithCurveClient(k.serverPub, k.clientPub, k.clientSec))
			if err != nil {
				b.Fatal(err)
			}
			defer push.Close()
			if err := push.Connect(pull.LastEndpoint()); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			msg := zmq.NewMsg(make([]byte, size))
			// One message first, so the handshake is not measured.
			if err := push.Send(ctx, msg); err != nil {
				b.Fatal(err)
			}
			if _, err := pull.Recv(ctx); err != nil {
				b.Fatal(err)
			}
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
