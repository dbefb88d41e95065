package zmq_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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
// receiver runs in a child process so that its RSS is its own; under the
// race detector (whose shadow memory swamps the figures) the test skips.
func TestLargeFrameMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/status")
	}
	if raceEnabled() {
		t.Skip("RSS under the race detector says little about the socket")
	}
	const (
		announced = 1 << 30
		sent      = 300 * mib
		slack     = 16 * mib
	)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLargeFrameMemoryChild$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), childEnv+"=large-pull")
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	defer func() {
		stdin.Close()
		for range lines {
		}
		if err := <-exited; err != nil {
			t.Errorf("child: %v", err)
		}
	}()
	next := func(prefix string) string {
		t.Helper()
		timer := time.NewTimer(30 * time.Second)
		defer timer.Stop()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child ended before %s", prefix)
				}
				if rest, ok := strings.CutPrefix(l, prefix+" "); ok {
					return rest
				}
			case <-timer.C:
				t.Fatalf("child printed no %s within 30s", prefix)
			}
		}
	}
	ep := next("READY")
	pid := cmd.Process.Pid
	base, err := vmStat(pid, "VmHWM:")
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
	next("DROPPED")
	peak, _ := vmStat(pid, "VmHWM:")
	bound := base + sent*13/10 + slack
	t.Logf("sent %d MiB of an announced %d MiB in %v; receiver RSS: baseline peak %d MiB, peak %d MiB (%.2f× the bytes received), bound %d MiB",
		sent/mib, announced/mib, time.Since(start).Round(time.Millisecond), base/mib, peak/mib, float64(peak-base)/sent, bound/mib)
	if peak > bound {
		t.Errorf("receiver peak RSS %d MiB > bound %d MiB", peak/mib, bound/mib)
	}
	// Given back once the connection is gone.
	var rss int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if rss, _ = vmStat(pid, "VmRSS:"); rss < base+64*mib {
			t.Logf("RSS back to %d MiB", rss/mib)
			return
		}
	}
	t.Errorf("receiver RSS still %d MiB 10 s after the peer went (baseline %d MiB)", rss/mib, base/mib)
}

// TestLargeFrameMemoryChild is TestLargeFrameMemory's receiver, run in a
// child process; on its own it skips. It prints "READY <endpoint>", then
// "DROPPED <err>" when the peer's connection ends, and exits when stdin
// closes.
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
	bufio.NewReader(os.Stdin).ReadString(0) // until stdin closes
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
