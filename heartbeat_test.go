package zmq_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
)

// waitEvent reads monitor events until one of type want arrives.
func waitEvent(t *testing.T, ctx context.Context, ch <-chan zmq.Event, want zmq.EventType) zmq.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("monitor closed before %v", want)
			}
			if ev.Type == want {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %v event: %v", want, ctx.Err())
		}
	}
}

// A peer that completes the handshake and then sends nothing is dropped
// within interval + timeout, and our PINGs carry the configured TTL.
func TestHeartbeatDropsSilentPeer(t *testing.T) {
	const ivl, timeout = 100 * time.Millisecond, 200 * time.Millisecond
	ctx := ctxT(t)
	s := sock(t, zmq.Pair, zmq.WithHeartbeatInterval(ivl), zmq.WithHeartbeatTimeout(timeout), zmq.WithHeartbeatTTL(time.Second))
	events := s.Monitor(ctx)
	if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	p := dialRaw(t, s.LastEndpoint(), 1, zmtp.TypePair)
	up := waitEvent(t, ctx, events, zmq.EventHandshakeSucceeded)
	flags, body := p.frame()
	name, data, _ := zmtp.ParseCommand(body)
	ttl, _, err := zmtp.ParsePing(data)
	if flags&zmtp.FlagCommand == 0 || string(name) != zmtp.CmdPing || err != nil || ttl != 10 {
		t.Fatalf("want PING with TTL 10 (1 s), got flags %x %q ttl %d %v", flags, name, ttl, err)
	}
	down := waitEvent(t, ctx, events, zmq.EventDisconnected)
	took := down.Time.Sub(up.Time)
	if down.Err == nil || !strings.Contains(down.Err.Error(), "heartbeat timeout") {
		t.Fatalf("disconnected for %v, want a heartbeat timeout", down.Err)
	}
	// The first PING goes out after one interval; the timeout runs from it.
	if took < ivl+timeout || took > ivl+timeout+500*time.Millisecond {
		t.Fatalf("silent peer dropped after %v, want about %v", took, ivl+timeout)
	}
	t.Logf("silent peer dropped after %v (interval %v + timeout %v)", took, ivl, timeout)
}

// A peer that answers keeps the connection, however long it lasts.
func TestHeartbeatKeepsAnsweringPeer(t *testing.T) {
	ctx := ctxT(t)
	a := sock(t, zmq.Pair, zmq.WithHeartbeatInterval(20*time.Millisecond), zmq.WithHeartbeatTimeout(60*time.Millisecond))
	b := sock(t, zmq.Pair, zmq.WithHeartbeatInterval(20*time.Millisecond), zmq.WithHeartbeatTimeout(60*time.Millisecond))
	ev := a.Monitor(ctx)
	a.Bind("tcp://127.0.0.1:0")
	b.Connect(a.LastEndpoint())
	waitEvent(t, ctx, ev, zmq.EventHandshakeSucceeded)
	// 25 timeouts' worth of idle time, with heartbeats the only traffic.
	idle := time.NewTimer(1500 * time.Millisecond)
	defer idle.Stop()
	for {
		select {
		case e := <-ev:
			if e.Type == zmq.EventDisconnected {
				t.Fatalf("answering peer dropped: %v", e.Err)
			}
			continue
		case <-idle.C:
		}
		break
	}
	b.Send(ctx, zmq.NewMsgString("still here"))
	if m, err := a.Recv(ctx); err != nil || m.String() != "still here" {
		t.Fatal(m, err)
	}
}

// A peer's PING with a TTL makes us drop it if it then goes silent that
// long, even with our own heartbeats off.
func TestHeartbeatPeerTTL(t *testing.T) {
	ctx := ctxT(t)
	s := sock(t, zmq.Pair)
	events := s.Monitor(ctx)
	s.Bind("tcp://127.0.0.1:0")
	p := dialRaw(t, s.LastEndpoint(), 1, zmtp.TypePair)
	waitEvent(t, ctx, events, zmq.EventHandshakeSucceeded)
	start := time.Now()
	p.nc.Write(zmtp.AppendPing(nil, 3, []byte("ctx"))) // 300 ms
	flags, body := p.frame()
	if name, data, _ := zmtp.ParseCommand(body); flags&zmtp.FlagCommand == 0 || string(name) != zmtp.CmdPong || string(data) != "ctx" {
		t.Fatalf("want PONG ctx, got %q", body)
	}
	down := waitEvent(t, ctx, events, zmq.EventDisconnected)
	took := time.Since(start)
	if down.Err == nil || !strings.Contains(down.Err.Error(), "TTL") {
		t.Fatalf("disconnected for %v, want the TTL", down.Err)
	}
	if took < 300*time.Millisecond || took > 900*time.Millisecond {
		t.Fatalf("dropped after %v, want about 300ms", took)
	}
}

// pyHB runs testdata/pyzmq_hb.py: a libzmq PAIR with heartbeats that echoes.
type pyHB struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	ep     string
	events chan string
}

func startPyHB(t *testing.T, mode, ep string, ivl, timeout, ttl time.Duration, secs int) *pyHB {
	t.Helper()
	requirePyzmq(t)
	cmd := exec.Command(pythonPath, "testdata/pyzmq_hb.py", mode, ep,
		strconv.FormatInt(ivl.Milliseconds(), 10), strconv.FormatInt(timeout.Milliseconds(), 10), strconv.FormatInt(ttl.Milliseconds(), 10), strconv.Itoa(secs))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pyHB{cmd: cmd, stdin: stdin, events: make(chan string, 100)}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "READY":
				ready <- f[1]
			case len(f) == 2 && f[0] == "EVENT":
				p.events <- f[1]
			}
		}
		close(p.events)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	select {
	case p.ep = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("pyzmq heartbeat peer did not start")
	}
	return p
}

func (p *pyHB) waitEvent(t *testing.T, want string, within time.Duration) time.Time {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				t.Fatalf("pyzmq peer exited before %s", want)
			}
			if ev == want {
				return time.Now()
			}
		case <-deadline:
			t.Fatalf("pyzmq peer: no %s within %v", want, within)
		}
	}
}

// zmqgo drops a libzmq peer that stops (SIGSTOP) within interval + timeout,
// whichever side binds.
func TestHeartbeatInteropStoppedLibzmqPeer(t *testing.T) {
	const ivl, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	for _, zmqgoBinds := range []bool{true, false} {
		name := map[bool]string{true: "zmqgo-binds", false: "pyzmq-binds"}[zmqgoBinds]
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			s := sock(t, zmq.Pair, zmq.WithHeartbeatInterval(ivl), zmq.WithHeartbeatTimeout(timeout), zmq.WithReconnectInterval(-1))
			events := s.Monitor(ctx)
			var py *pyHB
			if zmqgoBinds {
				s.Bind("tcp://127.0.0.1:0")
				py = startPyHB(t, "connect", s.LastEndpoint(), 0, 0, 0, 30)
			} else {
				py = startPyHB(t, "bind", "tcp://127.0.0.1:*", 0, 0, 0, 30)
				s.Connect(py.ep)
			}
			waitEvent(t, ctx, events, zmq.EventHandshakeSucceeded)
			s.Send(ctx, zmq.NewMsgString("ping"))
			if m, err := s.Recv(ctx); err != nil || m.String() != "ping" {
				t.Fatalf("echo: %v %v", m, err)
			}
			py.cmd.Process.Signal(syscall.SIGSTOP)
			stopped := time.Now()
			down := waitEvent(t, ctx, events, zmq.EventDisconnected)
			took := down.Time.Sub(stopped)
			if took > ivl+timeout+700*time.Millisecond {
				t.Fatalf("stopped libzmq peer dropped after %v, want within about %v", took, ivl+timeout)
			}
			t.Logf("stopped libzmq peer dropped after %v: %v", took, down.Err)
		})
	}
}

// freezer relays bytes between two tcp connections until frozen; then it
// forwards nothing more, as a peer whose machine hangs.
type freezer struct {
	ln     net.Listener
	frozen chan struct{}
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, frozen: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", strings.TrimPrefix(target, "tcp://"))
			if err != nil {
				a.Close()
				return
			}
			t.Cleanup(func() { a.Close(); b.Close() })
			go f.pump(a, b)
			go f.pump(b, a)
		}
	}()
	return f
}

func (f *freezer) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-f.frozen:
			// Keep reading, forward nothing: the far side sees silence, not EOF.
			if err != nil {
				return
			}
			continue
		default:
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// libzmq with heartbeats drops zmqgo when the path to it freezes, whichever
// side binds: our PONGs and traffic are what keep libzmq content.
func TestHeartbeatInteropLibzmqDropsFrozenZmqgo(t *testing.T) {
	const ivl, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	for _, zmqgoBinds := range []bool{true, false} {
		name := map[bool]string{true: "zmqgo-binds", false: "pyzmq-binds"}[zmqgoBinds]
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			s := sock(t, zmq.Pair, zmq.WithReconnectInterval(-1))
			events := s.Monitor(ctx)
			var py *pyHB
			var fr *freezer
			if zmqgoBinds {
				s.Bind("tcp://127.0.0.1:0")
				fr = newFreezer(t, s.LastEndpoint())
				py = startPyHB(t, "connect", "tcp://"+fr.ln.Addr().String(), ivl, timeout, 0, 30)
			} else {
				py = startPyHB(t, "bind", "tcp://127.0.0.1:*", ivl, timeout, 0, 30)
				fr = newFreezer(t, py.ep)
				s.Connect("tcp://" + fr.ln.Addr().String())
			}
			waitEvent(t, ctx, events, zmq.EventHandshakeSucceeded)
			s.Send(ctx, zmq.NewMsgString("ping"))
			if m, err := s.Recv(ctx); err != nil || m.String() != "ping" {
				t.Fatalf("echo: %v %v", m, err)
			}
			close(fr.frozen)
			frozen := time.Now()
			at := py.waitEvent(t, "DISCONNECTED", 5*time.Second)
			took := at.Sub(frozen)
			if took > ivl+timeout+700*time.Millisecond {
				t.Fatalf("libzmq dropped the frozen path after %v, want within about %v", took, ivl+timeout)
			}
			t.Logf("libzmq dropped the frozen zmqgo after %v", took)
		})
	}
}

// A libzmq peer with heartbeats on stays connected to ours, with heartbeats
// on both sides, for minutes (2 in CI; set ZMQGO_LONG=1 elsewhere for as
// much, else 10 s), and messages keep flowing.
func TestHeartbeatInteropLongLived(t *testing.T) {
	t.Parallel()
	secs := 10
	if os.Getenv("CI") == "true" || os.Getenv("ZMQGO_LONG") == "1" {
		secs = 120
	}
	const ivl, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+30)*time.Second)
	defer cancel()
	s := sock(t, zmq.Pair, zmq.WithHeartbeatInterval(ivl), zmq.WithHeartbeatTimeout(timeout), zmq.WithHeartbeatTTL(time.Second))
	events := s.Monitor(ctx)
	s.Bind("tcp://127.0.0.1:0")
	py := startPyHB(t, "connect", s.LastEndpoint(), ivl, timeout, time.Second, secs+20)
	waitEvent(t, ctx, events, zmq.EventHandshakeSucceeded)
	end := time.Now().Add(time.Duration(secs) * time.Second)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	n := 0
	for time.Now().Before(end) {
		select {
		case e := <-events:
			if e.Type == zmq.EventDisconnected {
				t.Fatalf("disconnected after %d s: %v", n, e.Err)
			}
		case ev := <-py.events:
			if ev == "DISCONNECTED" {
				t.Fatalf("libzmq disconnected after %d s", n)
			}
		case <-tick.C:
			n++
			s.Send(ctx, zmq.NewMsgString("tick"))
			if m, err := s.Recv(ctx); err != nil || m.String() != "tick" {
				t.Fatalf("echo after %d s: %v %v", n, m, err)
			}
		}
	}
	t.Logf("connected with heartbeats both ways for %d s", secs)
}
