package loadtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, Config{Clients: 2, Messages: 20, Window: 3, Size: 10, Broadcast: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.Delivered != 40 || r.Sent != 40 || r.BroadcastReached != 4 || r.BroadcastConfirmed != 4 {
		t.Fatalf("%+v", r)
	}
	s := r.String()
	for _, want := range []string{"2 clients x 20 messages of 10 bytes, window 3", "delivered 40 of 40", "msgs/s", "p99", "reached 4 of 4"} {
		if !strings.Contains(s, want) {
			t.Fatalf("report lacks %q:\n%s", want, s)
		}
	}
}

// TestRunBrokerCPU: with BrokerPID (here this process, whose broker is
// in-process), the report gives the broker's CPU over the direct messages.
func TestRunBrokerCPU(t *testing.T) {
	if _, err := ProcessCPU(os.Getpid()); err != nil {
		t.Skipf("no per-thread CPU times here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, Config{Clients: 2, Messages: 200, BrokerPID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if r.BrokerCPU <= 0 || !strings.Contains(r.String(), "µs per direct message") {
		t.Fatalf("BrokerCPU %v; report:\n%s", r.BrokerCPU, r)
	}
	if _, err := Run(ctx, Config{Clients: 1, Messages: 1, BrokerPID: 1 << 30}); err == nil || !strings.Contains(err.Error(), "broker CPU") {
		t.Fatalf("a process that does not exist: %v", err)
	}
}

// ProcessCPU grows as the process works.
func TestProcessCPU(t *testing.T) {
	a, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Skipf("no per-thread CPU times here: %v", err)
	}
	for {
		b, err := ProcessCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if b > a {
			break
		}
	}
}

func TestSentAt(t *testing.T) {
	if d, ok := sentAt([]byte(`"12345|xx"`)); !ok || d != 12345 {
		t.Fatal(d, ok)
	}
	for _, bad := range []string{``, `12`, `"12"`, `"x|"`, `"|1"`, `"-1|x"`, `"1 2|x"`, `"99999999999999999999|x"`} {
		if _, ok := sentAt([]byte(bad)); ok {
			t.Fatalf("%q accepted", bad)
		}
	}
	if _, err := Run(context.Background(), Config{Clients: -1}); err == nil {
		t.Fatal("negative count accepted")
	}
}
