package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// waitTimeout bounds every wait for an event in the tests.
const waitTimeout = 20 * time.Second

// Every test must leave no goroutine behind, in-process runs included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
		os.Exit(code)
	}))
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// zmqgoBinary builds the command once per test binary, on first use.
func zmqgoBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	binOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "zmqgo-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "zmqgo")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{err: err, out: string(out)}
		}
	})
	if binErr != nil {
		t.Fatalf("building zmqgo: %v", binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// output collects what a command writes and lets a test wait for lines.
// It is safe for concurrent use.
type output struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{} // closed and replaced on every write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// lines returns the complete lines written so far.
func (o *output) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return completeLines(o.buf.String())
}

func completeLines(s string) []string {
	i := strings.LastIndexByte(s, '\n')
	if i < 0 {
		return nil
	}
	return strings.Split(s[:i], "\n")
}

// waitLine waits for a complete line for which match is true and returns it.
func (o *output) waitLine(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		ls, changed := completeLines(o.buf.String()), o.changed
		o.mu.Unlock()
		for _, l := range ls {
			if match(l) {
				return l
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %s after %v; got:\n%s", what, waitTimeout, strings.Join(ls, "\n"))
		}
	}
}

// proc is one in-process run of the command.
type proc struct {
	args           []string
	stdout, stderr *output
	stdin          *io.PipeWriter // for start with nil stdin
	cancel         context.CancelFunc
	done           chan struct{}
	code           int // valid once done is closed
}

// start runs zmqgo args in a goroutine. With a nil stdin the command reads
// a pipe that the test writes with p.write and ends with p.closeStdin.
// Cleanup cancels the run (as SIGINT would) and waits for it to end.
func start(t *testing.T, stdin io.Reader, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{args: args, stdout: newOutput(), stderr: newOutput(), cancel: cancel, done: make(chan struct{})}
	var pr *io.PipeReader
	if stdin == nil {
		pr, p.stdin = io.Pipe()
		stdin = pr
	}
	go func() {
		defer close(p.done)
		p.code = run(ctx, args, stdin, p.stdout, p.stderr)
		if pr != nil {
			// As when a process exits: writers fail, and the command's
			// stdin reader, if it is blocked, returns.
			pr.CloseWithError(io.ErrClosedPipe)
		}
	}()
	t.Cleanup(func() {
		cancel()
		if p.stdin != nil {
			p.stdin.Close()
		}
		select {
		case <-p.done:
		case <-time.After(waitTimeout):
			t.Errorf("zmqgo %s did not end after cancel", strings.Join(args, " "))
		}
	})
	return p
}

// wait waits for the run to end and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(waitTimeout):
		t.Fatalf("zmqgo %s still running after %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(p.args, " "), waitTimeout, p.stdout, p.stderr)
		return -1
	}
}

// expectExit waits for the run to end with the given code.
func (p *proc) expectExit(t *testing.T, want int) {
	t.Helper()
	if got := p.wait(t); got != want {
		t.Fatalf("zmqgo %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(p.args, " "), got, want, p.stdout, p.stderr)
	}
}

// endpoint waits for the "zmqgo: bound ENDPOINT" line and returns ENDPOINT.
func (p *proc) endpoint(t *testing.T) string {
	t.Helper()
	l := p.stderr.waitLine(t, "bound endpoint on stderr", func(l string) bool {
		return strings.HasPrefix(l, "zmqgo: bound ")
	})
	return strings.TrimPrefix(l, "zmqgo: bound ")
}

// write writes lines to the command's stdin.
func (p *proc) write(t *testing.T, lines ...string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatalf("writing stdin of zmqgo %s: %v", strings.Join(p.args, " "), err)
	}
}

func (p *proc) closeStdin() { p.stdin.Close() }

// runSync runs zmqgo to completion with an empty stdin. A run still going
// after waitTimeout is cancelled, and the code is then -1.
func runSync(args ...string) (code int, stdout, stderr string) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var out, errb strings.Builder
	code = run(ctx, args, strings.NewReader(""), &out, &errb)
	if ctx.Err() != nil {
		code = -1
	}
	return code, out.String(), errb.String()
}
