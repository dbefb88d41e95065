// Package harness builds the peers of the comparison and runs them as
// processes: bench/cmd/compare and bench/cmd/slowconsumer use it.
package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Impls are the implementations, in the order runs interleave them.
var Impls = []string{"zmqgo", "libzmq", "zmq4"}

// Dir finds the bench module's directory: dir itself, or its "bench"
// subdirectory (so the tools run from the repository root too).
func Dir(dir string) (string, error) {
	for _, d := range []string{dir, filepath.Join(dir, "bench")} {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/zmqgo/zmq/bench\n")) {
			return filepath.Abs(d)
		}
	}
	return "", fmt.Errorf("%s is not the bench directory (run from bench/ or the repository root)", dir)
}

// Bin is the path of impl's peer binary.
func Bin(dir, impl string) string { return filepath.Join(dir, "bin", "peer-"+impl) }

// Baseline splits an implementation spelled "zmqgo@REV" (zmqgo built from
// git revision REV) into "zmqgo" and REV; ok is false for other names.
func Baseline(impl string) (base, rev string, ok bool) {
	base, rev, ok = strings.Cut(impl, "@")
	if !ok || base != "zmqgo" || rev == "" {
		return impl, "", false
	}
	return base, rev, true
}

// ResolveRev names git revision rev of the repository that dir lives in by
// its short commit hash, so that "main" or "HEAD~2" gives a stable label
// ("zmqgo@f960dfe") and binary name.
func ResolveRev(dir, rev string) (string, error) {
	out, err := git(dir, "rev-parse", "--short", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("baseline %q: %v", rev, err)
	}
	return strings.TrimSpace(out), nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// BuildAt builds zmqgo's peer as of git revision rev into Bin(dir,
// "zmqgo@"+rev): it checks rev out into a temporary detached worktree of the
// repository that dir lives in, builds that tree's bench/peers/zmqgo (whose
// go.mod uses that tree's root package), and removes the worktree again.
func BuildAt(dir, rev string, log io.Writer) (err error) {
	root, err := git(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	root = strings.TrimSpace(root)
	tmp, err := os.MkdirTemp("", "zmqbench-baseline-")
	if err != nil {
		return err
	}
	src := filepath.Join(tmp, "src")
	defer func() {
		if _, e := git(root, "worktree", "remove", "--force", src); e != nil && err == nil {
			err = e
		}
		os.RemoveAll(tmp)
		git(root, "worktree", "prune")
	}()
	fmt.Fprintf(log, "build: git worktree add --detach %s %s\n", src, rev)
	if _, err := git(root, "worktree", "add", "--detach", src, rev); err != nil {
		return err
	}
	bin, err := filepath.Abs(Bin(dir, "zmqgo@"+rev))
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", bin, "./peers/zmqgo")
	cmd.Dir = filepath.Join(src, "bench")
	fmt.Fprintf(log, "build (zmqgo@%s): %s\n", rev, strings.Join(cmd.Args, " "))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building zmqgo@%s: %v\n%s", rev, err, out)
	}
	return nil
}

// Build builds the peers of impls into dir/bin; "zmqgo@REV" builds zmqgo as
// of git revision REV (see BuildAt).
func Build(dir string, impls []string, log io.Writer) error {
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}
	for _, impl := range impls {
		if _, rev, ok := Baseline(impl); ok {
			if err := BuildAt(dir, rev, log); err != nil {
				return err
			}
			continue
		}
		var cmd *exec.Cmd
		switch impl {
		case "zmqgo", "zmq4":
			cmd = exec.Command("go", "build", "-o", Bin(dir, impl), "./peers/"+impl)
		case "libzmq":
			cmd = exec.Command("gcc", "-O2", "-Wall", "-pthread", "-o", Bin(dir, impl), "c/peer.c", "-lzmq")
		default:
			return fmt.Errorf("unknown implementation %q", impl)
		}
		cmd.Dir = dir
		fmt.Fprintf(log, "build: %s\n", strings.Join(cmd.Args, " "))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", impl, err, out)
		}
	}
	return nil
}

// Endpoints hands out fresh endpoints per transport.
type Endpoints struct {
	mu     sync.Mutex
	ipcDir string
	n      int
}

// Next returns a fresh endpoint for transport (tcp, ipc or inproc).
func (e *Endpoints) Next(transport string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	switch transport {
	case "tcp":
		// A port the kernel just gave out and took back: not in use, and
		// not soon handed out again.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return "tcp://127.0.0.1:" + strconv.Itoa(port), nil
	case "ipc":
		if e.ipcDir == "" {
			d, err := os.MkdirTemp("", "zmqbench-")
			if err != nil {
				return "", err
			}
			e.ipcDir = d
		}
		return "ipc://" + filepath.Join(e.ipcDir, strconv.Itoa(e.n)+".sock"), nil
	case "inproc":
		return "inproc://bench-" + strconv.Itoa(e.n), nil
	}
	return "", fmt.Errorf("unknown transport %q", transport)
}

// Close removes the ipc directory.
func (e *Endpoints) Close() {
	if e.ipcDir != "" {
		os.RemoveAll(e.ipcDir)
	}
}

// Proc is a running peer.
type Proc struct {
	Name   string
	Cmd    *exec.Cmd
	Lines  chan string // stdout, line by line; closed at EOF
	stdin  io.WriteCloser
	stderr *bytes.Buffer
	done   chan struct{}
	err    error
}

// SenderEnv is added to the environment of senders (and of inproc
// processes), such as GOGC or GOMEMLIMIT for slowconsumer.
var SenderEnv []string

// Start starts bin with args.
func Start(name, bin string, args ...string) (*Proc, error) {
	p := &Proc{Name: name, Cmd: exec.Command(bin, args...), Lines: make(chan string, 64),
		stderr: &bytes.Buffer{}, done: make(chan struct{})}
	// Peers die with the driver (Ctrl-C), instead of running on.
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if args[0] != "recv" && len(SenderEnv) > 0 {
		p.Cmd.Env = append(os.Environ(), SenderEnv...)
	}
	p.Cmd.Stderr = &lockedBuffer{b: p.stderr}
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = p.Cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.Lines <- sc.Text()
		}
		close(p.Lines)
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

var errEOF = errors.New("exited")

// Expect waits for a stdout line starting with prefix and returns it.
func (p *Proc) Expect(prefix string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-p.Lines:
			if !ok {
				<-p.done
				return "", fmt.Errorf("%s %w before %q (%v): %s", p.Name, errEOF, prefix, p.err, p.Stderr())
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-t.C:
			return "", fmt.Errorf("%s: no %q within %v: %s", p.Name, prefix, timeout, p.Stderr())
		}
	}
}

// Say writes a line to the peer's stdin.
func (p *Proc) Say(line string) error {
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// CloseStdin ends the peer's stdin.
func (p *Proc) CloseStdin() { p.stdin.Close() }

// Wait waits for the peer to exit, killing it after timeout.
func (p *Proc) Wait(timeout time.Duration) error {
	p.stdin.Close()
	go func() {
		for range p.Lines { // keep draining
		}
	}()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %v (killed): %s", p.Name, timeout, p.Stderr())
	}
	if p.err != nil {
		return fmt.Errorf("%s: %v: %s", p.Name, p.err, p.Stderr())
	}
	return nil
}

// Pid is the peer's process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the peer has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Kill kills the peer.
func (p *Proc) Kill() {
	if p.Cmd.Process != nil {
		p.Cmd.Process.Kill()
	}
}

// Stderr is what the peer wrote on stderr so far, trimmed.
func (p *Proc) Stderr() string {
	s := strings.TrimSpace(p.stderr.String())
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return s
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Fields parses "RESULT k=v k=v" into numbers.
func Fields(line string) map[string]float64 {
	m := map[string]float64{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if x, err := strconv.ParseFloat(v, 64); err == nil {
			m[k] = x
		}
	}
	return m
}

// Case is one measurement: a pattern over a transport at a message size.
type Case struct {
	Pattern, Transport string
	Size               int
	NoDrop             bool // pubsub: the publisher waits at the HWM (ZMQ_XPUB_NODROP)
}

func (c Case) String() string {
	p := c.Pattern
	if c.NoDrop {
		p += "-nodrop"
	}
	return fmt.Sprintf("%s %s %dB", p, c.Transport, c.Size)
}

// Run runs one case with impl's peers for secs seconds of sending at high-water
// mark hwm, with extra options for the peers, and returns the RESULT fields:
// the receiver's for throughput (rate, msgs, sent, lost, ...), the
// requester's for round trips (avg_us, p50_us, p99_us, ...). onStart, if not
// nil, is called with the sender once it runs (slowconsumer samples it).
func Run(dir, impl string, c Case, ep string, secs float64, hwm int, extra []string, onStart func(sender *Proc)) (map[string]float64, error) {
	bin := Bin(dir, impl)
	common := []string{c.Pattern, ep, strconv.Itoa(c.Size), strconv.FormatFloat(secs, 'f', -1, 64), strconv.Itoa(hwm)}
	common = append(common, extra...)
	if c.NoDrop {
		common = append(common, "nodrop=1")
	}
	timeout := time.Duration(secs*float64(time.Second))*10 + 30*time.Second
	want := "RESULT rate="
	if c.Pattern == "reqrep" {
		want = "RESULT n="
	}
	if c.Transport == "inproc" {
		p, err := Start(impl, bin, append([]string{"both"}, common...)...)
		if err != nil {
			return nil, err
		}
		if onStart != nil {
			onStart(p)
		}
		l, err := p.Expect(want, timeout)
		if err != nil {
			p.Kill()
			p.Wait(time.Second)
			return nil, err
		}
		if err := p.Wait(10 * time.Second); err != nil {
			return nil, err
		}
		return Fields(l), nil
	}
	recv, err := Start(impl+" recv", bin, append([]string{"recv"}, common...)...)
	if err != nil {
		return nil, err
	}
	fail := func(err error, ps ...*Proc) (map[string]float64, error) {
		for _, p := range ps {
			p.Kill()
			p.Wait(time.Second)
		}
		return nil, err
	}
	ready, err := recv.Expect("READY ", 10*time.Second)
	if err != nil {
		return fail(err, recv)
	}
	ep = strings.TrimPrefix(ready, "READY ")
	common[1] = ep
	send, err := Start(impl+" send", bin, append([]string{"send"}, common...)...)
	if err != nil {
		return fail(err, recv)
	}
	if onStart != nil {
		onStart(send)
	}
	if c.Pattern == "pubsub" {
		if _, err := recv.Expect("SUBSCRIBED", 10*time.Second); err != nil {
			return fail(err, recv, send)
		}
		send.Say("GO")
	}
	resultOf := recv
	if c.Pattern == "reqrep" {
		resultOf = send
	}
	l, err := resultOf.Expect(want, timeout)
	if err != nil {
		return fail(err, recv, send)
	}
	send.CloseStdin()
	errS := send.Wait(10 * time.Second)
	errR := recv.Wait(10 * time.Second)
	if err := errors.Join(errS, errR); err != nil {
		return nil, err
	}
	return Fields(l), nil
}
