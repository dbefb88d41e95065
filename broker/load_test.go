package broker_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/zmqgo/zmq/broker/loadtest"
)

// The load test, small enough for every run; `zmqgo broker-load` runs it
// at any size.
func TestLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := loadtest.Run(ctx, loadtest.Config{Clients: 10, Messages: 200, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 2000 || r.Delivered != 2000 || r.Failed != 0 || r.P99 <= 0 || r.Rate <= 0 {
		t.Fatalf("result %+v", r)
	}
	t.Logf("\n%s", r)
}

// With 1,000 clients connected, a broadcast reaches every one.
func TestBroadcastThousand(t *testing.T) {
	const n = 1000
	if err := loadtest.EnsureFiles(2*n + 256); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := loadtest.Run(ctx, loadtest.Config{Broadcast: n})
	if err != nil {
		t.Fatal(err)
	}
	if r.BroadcastReached != n-1 || r.BroadcastConfirmed != n-1 {
		t.Fatalf("result %+v", r)
	}
	t.Logf("\n%s", r)
}

// BenchmarkBroker reports msgs/s and the p99 delivery latency of b.N
// direct messages from 10 clients.
func BenchmarkBroker(b *testing.B) {
	const clients = 10
	// A bound, should the last reply of a sender be dropped (a receiver's
	// queue full at the broker): nothing would show it otherwise.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := loadtest.Run(ctx, loadtest.Config{Clients: clients, Messages: max(b.N/clients, 1), Size: 100})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.Rate, "msgs/s")
	b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op")
}
