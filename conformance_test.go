package zmq_test

// Conformance suite: the behaviour every socket type must show (endpoints,
// Close, contexts, unsupported operations, concurrency), then the semantics
// of each pattern (RFC 28-31 and libzmq 4.3), over tcp loopback. Where it
// matters, each test runs with either side binding. This file holds the
// shared helpers; the tests are in conformance_<subject>_test.go, one file
// per pattern (conformance_reqrep_test.go, conformance_pubsub_test.go, ...).

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// ---------------------------------------------------------------- helpers

// long bounds anything that should happen "soon"; tests fail rather than hang.
const long = 10 * time.Second

var allTypes = []zmq.Type{
	zmq.Pair, zmq.Pub, zmq.Sub, zmq.XPub, zmq.XSub, zmq.Push, zmq.Pull,
	zmq.Req, zmq.Rep, zmq.Dealer, zmq.Router,
}

func canSend(t zmq.Type) bool { return t != zmq.Sub && t != zmq.Pull }
func canRecv(t zmq.Type) bool { return t != zmq.Pub && t != zmq.Push }

// sendBlocksWithoutPeer: types whose Send waits while no peer can take the
// message (libzmq: PUSH, DEALER, PAIR, REQ).
func sendBlocksWithoutPeer(t zmq.Type) bool {
	return t == zmq.Push || t == zmq.Dealer || t == zmq.Pair || t == zmq.Req
}

// validMsg is a message the type accepts for Send.
func validMsg(t zmq.Type) zmq.Msg {
	if t == zmq.Router {
		return zmq.NewMsgString("some-id", "x")
	}
	return zmq.NewMsgString("x")
}

// newSock makes a socket with linger 0 (so Close never waits for a gone
// peer) that the test closes at its end.
func newSock(t testing.TB, typ zmq.Type, opts ...zmq.Option) *zmq.Socket {
	t.Helper()
	s, err := zmq.NewSocket(typ, append([]zmq.Option{zmq.WithLinger(0)}, opts...)...)
	if err != nil {
		t.Fatalf("NewSocket(%v): %v", typ, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func bindTCP(t testing.TB, s *zmq.Socket) string {
	t.Helper()
	if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatalf("%v Bind: %v", s.Type(), err)
	}
	ep := s.LastEndpoint()
	if ep == "" || strings.HasSuffix(ep, ":0") {
		t.Fatalf("LastEndpoint = %q after binding port 0", ep)
	}
	return ep
}

func connectTo(t testing.TB, s *zmq.Socket, ep string) {
	t.Helper()
	if err := s.Connect(ep); err != nil {
		t.Fatalf("%v Connect(%s): %v", s.Type(), ep, err)
	}
}

// link connects a and b, a binding if aBinds.
func link(t testing.TB, a, b *zmq.Socket, aBinds bool) {
	t.Helper()
	if aBinds {
		connectTo(t, b, bindTCP(t, a))
	} else {
		connectTo(t, a, bindTCP(t, b))
	}
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustSend(t testing.TB, s *zmq.Socket, frames ...string) {
	t.Helper()
	if err := s.Send(timeout(t, long), zmq.NewMsgString(frames...)); err != nil {
		t.Fatalf("%v Send %q: %v", s.Type(), frames, err)
	}
}

func mustRecv(t testing.TB, s *zmq.Socket) zmq.Msg {
	t.Helper()
	m, err := s.Recv(timeout(t, long))
	if err != nil {
		t.Fatalf("%v Recv: %v", s.Type(), err)
	}
	return m
}

// frames renders a message as a slice of strings for comparisons.
func frames(m zmq.Msg) []string {
	out := make([]string, len(m.Frames))
	for i, f := range m.Frames {
		out[i] = string(f)
	}
	return out
}

func eqFrames(m zmq.Msg, want ...string) bool {
	got := frames(m)
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func wantFrames(t testing.TB, m zmq.Msg, want ...string) {
	t.Helper()
	if !eqFrames(m, want...) {
		t.Fatalf("got %q, want %q", frames(m), want)
	}
}

// background runs f in a goroutine whose context ends with the test; the
// test waits for it before closing the sockets made earlier.
func background(t testing.TB, f func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

type tagged struct {
	from int
	m    zmq.Msg
}

// collect receives from every socket in the background and hands the
// messages over one channel, tagged with the socket's index.
func collect(t testing.TB, socks ...*zmq.Socket) <-chan tagged {
	ch := make(chan tagged)
	for i, s := range socks {
		background(t, func(ctx context.Context) {
			for {
				m, err := s.Recv(ctx)
				if err != nil {
					return
				}
				select {
				case ch <- tagged{i, m}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	return ch
}

func next(t testing.TB, ch <-chan tagged) tagged {
	t.Helper()
	select {
	case tm := <-ch:
		return tm
	case <-time.After(long):
		t.Fatal("no message within", long)
	}
	panic("unreachable")
}

// serveEcho answers every request on a REP (or ROUTER) with name prepended
// to the body.
func serveEcho(t testing.TB, s *zmq.Socket, name string) {
	background(t, func(ctx context.Context) {
		for {
			m, err := s.Recv(ctx)
			if err != nil {
				return
			}
			var out [][]byte
			if s.Type() == zmq.Router {
				// Keep the envelope up to and including the delimiter.
				i := 0
				for i < len(m.Frames) && len(m.Frames[i]) > 0 {
					i++
				}
				out = append(out, m.Frames[:i+1]...)
				m.Frames = m.Frames[i+1:]
			}
			out = append(out, []byte(name))
			out = append(out, m.Frames...)
			if err := s.Send(ctx, zmq.NewMsg(out...)); err != nil {
				return
			}
		}
	})
}

// syncPubSub publishes [topic, "sync"] until every subscriber has seen one:
// the slow-joiner dance, driven by arrival rather than sleeps.
func syncPubSub(t testing.TB, pub *zmq.Socket, topic string, subs ...*zmq.Socket) {
	t.Helper()
	deadline := time.Now().Add(long)
	for i, sub := range subs {
		for {
			if time.Now().After(deadline) {
				t.Fatalf("subscriber %d never received %q", i, topic)
			}
			if err := pub.Send(timeout(t, long), zmq.NewMsgString(topic, "sync")); err != nil {
				t.Fatalf("publish: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			m, err := sub.Recv(ctx)
			cancel()
			if err == nil && len(m.Frames) == 2 && string(m.Frames[1]) == "sync" {
				break
			}
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("sync recv: %v", err)
			}
		}
	}
}

func isSync(m zmq.Msg) bool { return len(m.Frames) == 2 && string(m.Frames[1]) == "sync" }

// recvNoSync receives the next message that is not a sync pulse.
func recvNoSync(t testing.TB, s *zmq.Socket) zmq.Msg {
	t.Helper()
	for {
		if m := mustRecv(t, s); !isSync(m) {
			return m
		}
	}
}

// routerSend sends through a ROUTER with RouterMandatory, retrying while the
// peer is not known yet.
func routerSend(t testing.TB, r *zmq.Socket, frames ...string) {
	t.Helper()
	deadline := time.Now().Add(long)
	for {
		err := r.Send(timeout(t, long), zmq.NewMsgString(frames...))
		if err == nil {
			return
		}
		if !errors.Is(err, zmq.ErrHostUnreachable) || time.Now().After(deadline) {
			t.Fatalf("ROUTER send to %q: %v", frames[0], err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// noMsg asserts nothing arrives within d.
func noMsg(t testing.TB, s *zmq.Socket, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := s.Recv(ctx)
	if err == nil {
		t.Fatalf("unexpected message %q", frames(m))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv: %v, want DeadlineExceeded", err)
	}
}

var directions = []struct {
	name   string
	aBinds bool
}{{"bind", true}, {"connect", false}}
