package broker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pyProc is a txZMQ client process (testdata/txzmq_client.py) the test may
// kill or stop.
type pyProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startPyProc(t *testing.T, addr string, args ...string) *pyProc {
	t.Helper()
	needTxZMQ(t)
	p := &pyProc{lines: make(chan string, 100)}
	p.cmd = exec.Command(python, append([]string{"testdata/txzmq_client.py", "--connect", addr}, args...)...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		p.cmd.Wait()
		for range p.lines {
		}
	})
	select {
	case l := <-p.lines:
		if l != `"ready"` {
			t.Fatalf("txZMQ client: %q", l)
		}
	case <-time.After(waitTimeout):
		t.Fatal("txZMQ client did not start")
	}
	return p
}

// register registers the client as name and waits for the broker to know it.
func (p *pyProc) register(t *testing.T, b *Broker, name string) {
	t.Helper()
	fmt.Fprintf(p.stdin, "register %s\n", name)
	if err := b.waitState(testCtx(t), func(s *state) bool { return s.names[name] != nil }); err != nil {
		t.Fatal(err)
	}
	<-p.lines // the registration_ack
}

// A txZMQ client that registers and then only listens keeps its name for
// three times --expire: its connection answers the broker's PINGs.
func TestListenerDoesNotExpire(t *testing.T) {
	const expire = 400 * time.Millisecond
	ctx := testCtx(t)
	b := startBroker(t, Config{Expire: expire, Heartbeat: 50 * time.Millisecond, HeartbeatTimeout: time.Second})
	listener := startPyProc(t, b.Addr())
	listener.register(t, b, "listener")
	named := startPyProc(t, b.Addr(), "--identity", "named-listener")
	named.register(t, b, "named")
	client(t, b.Addr(), "go-listener") // a Go client that only listens too
	<-time.After(3 * expire)           // the point of the test: time passes with no message from them
	st := b.Stats()
	if st.Clients != 3 || st.Expired != 0 {
		t.Fatalf("after 3 x expire: %+v", st)
	}
	sender, _ := client(t, b.Addr(), "sender")
	for _, to := range []string{"listener", "named"} {
		if status, err := sender.Send(ctx, to, "still there?"); err != nil || status != StatusDelivered {
			t.Fatalf("send to %s: %s %v", to, status, err)
		}
	}
	for _, p := range []*pyProc{listener, named} {
		select {
		case l := <-p.lines:
			if want := `"still there?"`; !strings.Contains(l, want) {
				t.Fatalf("listener got %s", l)
			}
		case <-ctx.Done():
			t.Fatal("the listener got nothing")
		}
	}
}

// A client whose process is killed (its connection closes) or stopped
// (its traffic stops: no close, no answer to PINGs) is forgotten within
// the heartbeat interval and timeout (plus the grace for a chosen routing
// id), although --expire is off.
func TestDeadClientsForgotten(t *testing.T) {
	const hb, timeout = 100 * time.Millisecond, 400 * time.Millisecond
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		args  []string
		bound time.Duration
	}{
		{"SIGKILL", syscall.SIGKILL, nil, time.Second},
		{"SIGKILL with an identity", syscall.SIGKILL, []string{"--identity", "killed-id"}, hb + timeout + time.Second},
		{"SIGSTOP", syscall.SIGSTOP, nil, hb + timeout + time.Second},
		{"SIGSTOP with an identity", syscall.SIGSTOP, []string{"--identity", "stopped-id"}, 2*(hb+timeout) + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{Expire: -1, Heartbeat: hb, HeartbeatTimeout: timeout})
			p := startPyProc(t, b.Addr(), tc.args...)
			p.register(t, b, "doomed")
			start := time.Now()
			p.cmd.Process.Signal(tc.sig)
			ctx, cancel := context.WithTimeout(context.Background(), 10*tc.bound)
			defer cancel()
			if err := b.waitState(ctx, func(s *state) bool { return s.names["doomed"] == nil }); err != nil {
				t.Fatalf("still registered after %v: %v", time.Since(start), err)
			}
			if d := time.Since(start); d > tc.bound {
				t.Fatalf("forgotten after %v, want within %v", d, tc.bound)
			} else {
				t.Logf("forgotten after %v", d.Round(time.Millisecond))
			}
			if st := b.Stats(); st.Expired != 0 || st.Clients != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}
