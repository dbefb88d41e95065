package zmq_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memChild runs this test binary as a child process (one of the memory
// tests' servers) and reads its memory: RSS from /proc, and the Go
// runtime's own figures on request, which are what the tests check under
// the race detector (whose shadow memory swamps the RSS).
type memChild struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan error
}

func startMemChild(t *testing.T, test, role string) *memChild {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/status")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), childEnv+"="+role)
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
	c := &memChild{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 16), exited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		for range c.lines {
		}
		if err := <-c.exited; err != nil {
			t.Errorf("child: %v", err)
		}
	})
	return c
}

// next waits for the child's next line starting with prefix and returns
// the rest.
func (c *memChild) next(prefix string) string {
	c.t.Helper()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("child ended before %s", prefix)
			}
			if rest, ok := strings.CutPrefix(l, prefix+" "); ok {
				return rest
			}
		case <-timer.C:
			c.t.Fatalf("child printed no %s within 60s", prefix)
		}
	}
}

func (c *memChild) pid() int { return c.cmd.Process.Pid }

// goMem asks the child for its Go memory: the heap obtained from the
// system (which does not shrink: a peak), the heap still held (obtained
// and not released), and the goroutine stacks.
func (c *memChild) goMem() (heapSys, heapHeld, stackSys int64) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, "mem\n"); err != nil {
		c.t.Fatal(err)
	}
	f := strings.Fields(c.next("MEM"))
	var v [3]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i], 10, 64)
	}
	return v[0], v[1], v[2]
}

// serveMemQueries answers the parent's "mem" lines with "MEM <HeapSys>
// <HeapSys-HeapReleased> <StackSys>" until stdin closes.
func serveMemQueries() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "mem" {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Println("MEM", ms.HeapSys, ms.HeapSys-ms.HeapReleased, ms.StackSys)
		}
	}
}
