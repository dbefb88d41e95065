package zmq_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/ztest"
)

// A peer announces a 1 GiB frame and sends 300 MiB of it, then goes. The
// receiver's memory grows with what arrives, not with what was announced
// (peak RSS at most 1.3× the bytes received plus a small constant), and
// goes back to the operating system once the connection is gone. The
// receiver runs in a child process so that its RSS is its own. Under the
// race detector, whose shadow memory swamps the RSS, the same bounds apply
// to the Go heap the child obtained from the system (100 MiB are sent:
// instrumented copies are slow).
func TestLargeFrameMemory(t *testing.T) {
	const (
		announced = 1 << 30
		slack     = 16 * mib
	)
	sent := int64(300 * mib)
	if raceEnabled() {
		sent = 100 * mib
	}
	c := startMemChild(t, "TestLargeFrameMemoryChild", "large-pull")
	ep := c.next("READY")
	heap0, _, _ := c.goMem()
	base, err := vmStat(c.pid(), "VmHWM:")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Handshake("PUSH", nil); err != nil {
		t.Fatal(err)
	}
	var hdr [9]byte
	hdr[0] = 0x02 // long frame, last
	binary.BigEndian.PutUint64(hdr[1:], announced)
	if err := p.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, mib)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	start := time.Now()
	for range sent / mib {
		if err := p.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	c.next("DROPPED")
	took := time.Since(start).Round(time.Millisecond)
	heapPeak, _, _ := c.goMem()
	peak, _ := vmStat(c.pid(), "VmHWM:")
	t.Logf("sent %d MiB of an announced %d MiB in %v; receiver RSS: baseline %d MiB, peak %d MiB (%.2f× the bytes received); Go heap from the system: %d MiB before, %d MiB after (%.2f×); race detector: %v",
		sent/mib, announced/mib, took, base/mib, peak/mib, float64(peak-base)/float64(sent),
		heap0/mib, heapPeak/mib, float64(heapPeak-heap0)/float64(sent), raceEnabled())
	if raceEnabled() {
		peak, base = heapPeak, heap0
	}
	if bound := base + sent*13/10 + slack; peak > bound {
		t.Errorf("receiver peak %d MiB > bound %d MiB", peak/mib, bound/mib)
	}
	// Given back once the connection is gone.
	var held int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if raceEnabled() {
			_, held, _ = c.goMem()
		} else {
			held, _ = vmStat(c.pid(), "VmRSS:")
		}
		if held < base+64*mib {
			t.Logf("back to %d MiB", held/mib)
			return
		}
	}
	t.Errorf("receiver still holds %d MiB 10 s after the peer went (baseline %d MiB)", held/mib, base/mib)
}

// TestLargeFrameMemoryChild is TestLargeFrameMemory's receiver, run in a
// child process; on its own it skips. It prints "READY <endpoint>", then
// "DROPPED <err>" when the peer's connection ends, answers "mem" (see
// serveMemQueries) and exits when stdin closes.
func TestLargeFrameMemoryChild(t *testing.T) {
	if os.Getenv(childEnv) != "large-pull" {
		t.Skip("the receiver of TestLargeFrameMemory, run in a child process")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pull, err := zmq.NewSocket(zmq.Pull, zmq.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	ev := pull.Monitor(ctx)
	if err := pull.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY", pull.LastEndpoint())
	go func() {
		for e := range ev {
			if e.Type == zmq.EventDisconnected {
				fmt.Println("DROPPED", e.Err)
			}
		}
	}()
	serveMemQueries()
}

// vmStat reads a field of /proc/PID/status, in bytes.
func vmStat(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			if f := strings.Fields(v); len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no %s", field)
}
