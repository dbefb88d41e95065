package zmq_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// What connections cost: a ROUTER (in a child process, so that its RSS is
// its own) serves 500 DEALERs connected at once, each exchanging a message,
// three rounds of connecting and disconnecting. Its peak RSS must stay
// under 60 MiB (issue 16: 184 MB for 500 connections before). Skipped
// under the race detector, whose shadow memory swamps the figures.
func TestManyConnectionsMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/status")
	}
	if raceEnabled() {
		t.Skip("RSS under the race detector says little about the socket")
	}
	if testing.Short() {
		t.Skip("opens 500 connections")
	}
	const (
		conns  = 500
		rounds = 3
		bound  = 60 * mib
	)
	cmd := exec.Command(os.Args[0], "-test.run=^TestManyConnectionsMemoryChild$", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), childEnv+"=router-echo")
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
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("child printed nothing")
	}
	ep, ok := strings.CutPrefix(sc.Text(), "READY ")
	if !ok {
		t.Fatalf("child said %q", sc.Text())
	}
	go func() { // keep the pipe drained
		for sc.Scan() {
		}
	}()
	pid := cmd.Process.Pid
	base, _ := vmStat(pid, "VmRSS:")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	var held int64
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
		if rss, _ := vmStat(pid, "VmRSS:"); rss > held {
			held = rss
		}
		for _, s := range socks {
			s.Close()
		}
	}
	peak, _ := vmStat(pid, "VmHWM:")
	t.Logf("ROUTER with %d DEALERs connected at once, %d rounds in %v: RSS %d MiB before, %d MiB with them connected, peak %d MiB (%.1f KiB per connection); bound %d MiB",
		conns, rounds, time.Since(start).Round(time.Millisecond), base/mib, held/mib, peak/mib, float64(peak-base)/conns/1024, bound/mib)
	if peak > bound {
		t.Errorf("peak RSS %d MiB > %d MiB", peak/mib, bound/mib)
	}
}

// TestManyConnectionsMemoryChild is TestManyConnectionsMemory's ROUTER,
// run in a child process; on its own it skips. It echoes every message,
// prints "READY <endpoint>" and exits when stdin closes.
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
	go func() {
		bufio.NewReader(os.Stdin).ReadString(0)
		cancel()
	}()
	for {
		m, err := r.Recv(ctx)
		if err != nil {
			return
		}
		r.Send(ctx, m)
	}
}
