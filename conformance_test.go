package zmq_test

// Conformance suite: the behaviour every socket type must show (endpoints,
// Close, contexts, unsupported operations, concurrency), then the semantics
// of each pattern (RFC 28-31 and libzmq 4.3), over tcp loopback. Where it
// matters, each test runs with either side binding.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
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

// ------------------------------------------------- common to every type

func TestNewSocketInvalidType(t *testing.T) {
	for _, typ := range []zmq.Type{-1, zmq.Router + 1, 99} {
		s, err := zmq.NewSocket(typ)
		if !errors.Is(err, zmq.ErrInvalidType) {
			t.Errorf("NewSocket(%d) = %v, %v; want ErrInvalidType", int(typ), s, err)
		}
	}
	for _, typ := range allTypes {
		if got, ok := zmq.ParseType(typ.String()); !ok || got != typ {
			t.Errorf("ParseType(%q) = %v, %v", typ.String(), got, ok)
		}
	}
}

func TestBadEndpoints(t *testing.T) {
	invalid := []string{
		"", "tcp", "tcp://", "127.0.0.1:5555", "://127.0.0.1:5555", "tcp://127.0.0.1",
		"tcp://127.0.0.1:", "tcp://127.0.0.1:port", "tcp://127.0.0.1:70000",
		"tcp://127.0.0.1:-1", "tcp://:5555", "tcp://[::1:5555",
		"ipc://", "inproc://", "ipc:///tmp/" + strings.Repeat("x", 110), // sun_path holds 107 bytes
	}
	unsupported := []string{
		"udp://127.0.0.1:5555",
		"pgm://eth0;239.192.1.1:5555", "foo://127.0.0.1:5555", "ws://127.0.0.1:5555",
	}
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			s := newSock(t, typ)
			for _, ep := range invalid {
				if err := s.Bind(ep); !errors.Is(err, zmq.ErrInvalidEndpoint) {
					t.Errorf("Bind(%q) = %v, want ErrInvalidEndpoint", ep, err)
				}
				if err := s.Connect(ep); !errors.Is(err, zmq.ErrInvalidEndpoint) {
					t.Errorf("Connect(%q) = %v, want ErrInvalidEndpoint", ep, err)
				}
			}
			// Connect needs a concrete host and port.
			for _, ep := range []string{"tcp://127.0.0.1:0", "tcp://*:5555", "tcp://127.0.0.1:*", "ipc://*"} {
				if err := s.Connect(ep); !errors.Is(err, zmq.ErrInvalidEndpoint) {
					t.Errorf("Connect(%q) = %v, want ErrInvalidEndpoint", ep, err)
				}
			}
			for _, ep := range unsupported {
				if err := s.Bind(ep); !errors.Is(err, zmq.ErrUnsupportedTransport) {
					t.Errorf("Bind(%q) = %v, want ErrUnsupportedTransport", ep, err)
				}
				if err := s.Connect(ep); !errors.Is(err, zmq.ErrUnsupportedTransport) {
					t.Errorf("Connect(%q) = %v, want ErrUnsupportedTransport", ep, err)
				}
			}
			if ep := s.LastEndpoint(); ep != "" {
				t.Errorf("LastEndpoint = %q after failed binds", ep)
			}
			// Binding an endpoint in use fails (not an endpoint syntax error).
			other := newSock(t, typ)
			ep := bindTCP(t, other)
			if err := s.Bind(ep); err == nil {
				t.Errorf("Bind(%s) twice succeeded", ep)
			}
		})
	}
}

// blockedRecv prepares s so that Recv blocks: REQ needs a request in flight.
func blockedRecv(t *testing.T, s *zmq.Socket) {
	t.Helper()
	if s.Type() == zmq.Req {
		ep, err := ztest.FreeTCPEndpoint()
		if err != nil {
			t.Fatal(err)
		}
		connectTo(t, s, ep)
		mustSend(t, s, "request") // queued for the absent peer
	}
}

// blockedSend prepares s so that Send blocks: bound, no peer.
func blockedSend(t *testing.T, s *zmq.Socket) {
	t.Helper()
	bindTCP(t, s)
}

// waitBlocked runs op in a goroutine, checks it is still blocked after a
// short while, then runs unblock and returns op's error and how long after
// unblock it came.
func waitBlocked(t *testing.T, op func() error, unblock func()) (error, time.Duration) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- op() }()
	select {
	case err := <-errc:
		t.Fatalf("operation did not block: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	unblock()
	select {
	case err := <-errc:
		return err, time.Since(start)
	case <-time.After(long):
		t.Fatal("operation still blocked", long, "after unblocking")
	}
	return nil, 0
}

func TestCloseUnblocks(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			if canRecv(typ) {
				t.Run("Recv", func(t *testing.T) {
					s := newSock(t, typ)
					blockedRecv(t, s)
					err, d := waitBlocked(t, func() error {
						_, err := s.Recv(context.Background())
						return err
					}, func() { s.Close() })
					if !errors.Is(err, net.ErrClosed) || !errors.Is(err, zmq.ErrClosed) {
						t.Fatalf("Recv after Close = %v, want net.ErrClosed", err)
					}
					if d > time.Second {
						t.Errorf("Recv took %v to return after Close", d)
					}
				})
			}
			if sendBlocksWithoutPeer(typ) {
				t.Run("Send", func(t *testing.T) {
					s := newSock(t, typ)
					blockedSend(t, s)
					err, d := waitBlocked(t, func() error {
						return s.Send(context.Background(), validMsg(typ))
					}, func() { s.Close() })
					if !errors.Is(err, net.ErrClosed) {
						t.Fatalf("Send after Close = %v, want net.ErrClosed", err)
					}
					if d > time.Second {
						t.Errorf("Send took %v to return after Close", d)
					}
				})
			}
		})
	}
}

func TestAfterClose(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			s := newSock(t, typ)
			ep := bindTCP(t, s)
			free, err := ztest.FreeTCPEndpoint()
			if err != nil {
				t.Fatal(err)
			}
			connectTo(t, s, free)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Close(); err == nil {
				t.Error("second Close returned nil, want an error")
			} else if !errors.Is(err, zmq.ErrClosed) {
				t.Errorf("second Close = %v, want ErrClosed", err)
			}
			ctx := timeout(t, long)
			if canSend(typ) {
				if err := s.Send(ctx, validMsg(typ)); !errors.Is(err, zmq.ErrClosed) {
					t.Errorf("Send after Close = %v, want ErrClosed", err)
				}
			}
			if canRecv(typ) {
				if _, err := s.Recv(ctx); !errors.Is(err, zmq.ErrClosed) {
					t.Errorf("Recv after Close = %v, want ErrClosed", err)
				}
			}
			if err := s.Bind("tcp://127.0.0.1:0"); !errors.Is(err, zmq.ErrClosed) {
				t.Errorf("Bind after Close = %v, want ErrClosed", err)
			}
			if err := s.Connect(ep); !errors.Is(err, zmq.ErrClosed) {
				t.Errorf("Connect after Close = %v, want ErrClosed", err)
			}
			if err := s.Unbind(ep); err == nil {
				t.Errorf("Unbind after Close returned nil")
			}
			if err := s.Disconnect(free); err == nil {
				t.Errorf("Disconnect after Close returned nil")
			}
			if typ == zmq.Sub || typ == zmq.XSub {
				if err := s.Subscribe([]byte("a")); !errors.Is(err, zmq.ErrClosed) {
					t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
				}
			}
		})
	}
}

// A Close racing with blocked and busy callers must neither panic nor leave
// anyone blocked.
func TestCloseRacesCallers(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			s := newSock(t, typ)
			bindTCP(t, s)
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(3)
				go func() {
					defer wg.Done()
					if canRecv(typ) {
						s.Recv(context.Background())
					}
				}()
				go func() {
					defer wg.Done()
					if canSend(typ) {
						s.Send(context.Background(), validMsg(typ))
					}
				}()
				go func() {
					defer wg.Done()
					s.Close()
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(long):
				t.Fatal("callers still blocked after Close")
			}
		})
	}
}

func TestContextEnds(t *testing.T) {
	type op struct {
		name    string
		ok      func(zmq.Type) bool
		prepare func(*testing.T, *zmq.Socket)
		run     func(context.Context, *zmq.Socket) error
	}
	ops := []op{
		{"Recv", canRecv, blockedRecv, func(ctx context.Context, s *zmq.Socket) error {
			_, err := s.Recv(ctx)
			return err
		}},
		{"Send", sendBlocksWithoutPeer, blockedSend, func(ctx context.Context, s *zmq.Socket) error {
			return s.Send(ctx, validMsg(s.Type()))
		}},
	}
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			for _, o := range ops {
				if !o.ok(typ) {
					continue
				}
				t.Run(o.name+"/cancel", func(t *testing.T) {
					s := newSock(t, typ)
					o.prepare(t, s)
					ctx, cancel := context.WithCancel(context.Background())
					err, d := waitBlocked(t, func() error { return o.run(ctx, s) }, cancel)
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("%s = %v, want context.Canceled", o.name, err)
					}
					if d > time.Second {
						t.Errorf("%s took %v to notice the cancel", o.name, d)
					}
				})
				t.Run(o.name+"/deadline", func(t *testing.T) {
					s := newSock(t, typ)
					o.prepare(t, s)
					ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
					defer cancel()
					start := time.Now()
					err := o.run(ctx, s)
					d := time.Since(start)
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("%s = %v, want context.DeadlineExceeded", o.name, err)
					}
					if d < 90*time.Millisecond || d > 2*time.Second {
						t.Errorf("%s returned after %v with a 100ms deadline", o.name, d)
					}
				})
				t.Run(o.name+"/already-done", func(t *testing.T) {
					s := newSock(t, typ)
					o.prepare(t, s)
					ctx, cancel := context.WithCancel(context.Background())
					cancel()
					if err := o.run(ctx, s); !errors.Is(err, context.Canceled) {
						t.Fatalf("%s with a cancelled ctx = %v, want context.Canceled", o.name, err)
					}
				})
			}
		})
	}
}

func TestUnsupportedOperations(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			s := newSock(t, typ)
			ctx := timeout(t, long)
			if err := s.Send(ctx, zmq.Msg{}); !errors.Is(err, zmq.ErrEmptyMsg) {
				t.Errorf("Send(empty) = %v, want ErrEmptyMsg", err)
			}
			if err := s.Send(ctx, zmq.Msg{Frames: [][]byte{}}); !errors.Is(err, zmq.ErrEmptyMsg) {
				t.Errorf("Send(no frames) = %v, want ErrEmptyMsg", err)
			}
			if !canSend(typ) {
				if err := s.Send(ctx, zmq.NewMsgString("x")); !errors.Is(err, zmq.ErrNotSupported) {
					t.Errorf("Send = %v, want ErrNotSupported", err)
				}
			}
			if !canRecv(typ) {
				if _, err := s.Recv(ctx); !errors.Is(err, zmq.ErrNotSupported) {
					t.Errorf("Recv = %v, want ErrNotSupported", err)
				}
			}
			if typ != zmq.Sub && typ != zmq.XSub {
				if err := s.Subscribe([]byte("a")); !errors.Is(err, zmq.ErrNotSupported) {
					t.Errorf("Subscribe = %v, want ErrNotSupported", err)
				}
				if err := s.Unsubscribe([]byte("a")); !errors.Is(err, zmq.ErrNotSupported) {
					t.Errorf("Unsubscribe = %v, want ErrNotSupported", err)
				}
			} else {
				if err := s.Subscribe([]byte("a")); err != nil {
					t.Errorf("Subscribe = %v", err)
				}
				if err := s.Unsubscribe([]byte("a")); err != nil {
					t.Errorf("Unsubscribe = %v", err)
				}
				// Unsubscribing what was never subscribed is harmless.
				if err := s.Unsubscribe([]byte("never")); err != nil {
					t.Errorf("Unsubscribe(never) = %v", err)
				}
			}
			if typ == zmq.Router {
				if err := s.Send(ctx, zmq.NewMsgString("only-id")); err == nil {
					t.Error("ROUTER Send of a lone routing id frame succeeded")
				}
			}
		})
	}
}

func TestEndpointNotFound(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			s := newSock(t, typ)
			if err := s.Unbind("tcp://127.0.0.1:1"); !errors.Is(err, zmq.ErrEndpointNotFound) {
				t.Errorf("Unbind(unknown) = %v, want ErrEndpointNotFound", err)
			}
			if err := s.Disconnect("tcp://127.0.0.1:1"); !errors.Is(err, zmq.ErrEndpointNotFound) {
				t.Errorf("Disconnect(unknown) = %v, want ErrEndpointNotFound", err)
			}
			ep := bindTCP(t, s)
			// A bound endpoint is not a connected one, and vice versa.
			if err := s.Disconnect(ep); !errors.Is(err, zmq.ErrEndpointNotFound) {
				t.Errorf("Disconnect(bound endpoint) = %v, want ErrEndpointNotFound", err)
			}
			if err := s.Unbind(ep); err != nil {
				t.Errorf("Unbind(%s) = %v", ep, err)
			}
			if err := s.Unbind(ep); !errors.Is(err, zmq.ErrEndpointNotFound) {
				t.Errorf("second Unbind = %v, want ErrEndpointNotFound", err)
			}
			free, err := ztest.FreeTCPEndpoint()
			if err != nil {
				t.Fatal(err)
			}
			connectTo(t, s, free)
			if err := s.Unbind(free); !errors.Is(err, zmq.ErrEndpointNotFound) {
				t.Errorf("Unbind(connected endpoint) = %v, want ErrEndpointNotFound", err)
			}
			if err := s.Disconnect(free); err != nil {
				t.Errorf("Disconnect(%s) = %v", free, err)
			}
			if err := s.Disconnect(free); !errors.Is(err, zmq.ErrEndpointNotFound) {
				t.Errorf("second Disconnect = %v, want ErrEndpointNotFound", err)
			}
		})
	}
}

func TestLastEndpoint(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			s := newSock(t, typ)
			if ep := s.LastEndpoint(); ep != "" {
				t.Errorf("LastEndpoint before Bind = %q", ep)
			}
			ep := bindTCP(t, s)
			if !strings.HasPrefix(ep, "tcp://127.0.0.1:") {
				t.Errorf("LastEndpoint = %q", ep)
			}
			// The port is real: a raw connection gets a ZMTP greeting.
			p, err := ztest.Dial(ep)
			if err != nil {
				t.Fatal(err)
			}
			p.Write(ztest.Greeting(zmtp.MechNull))
			if _, err := p.ReadGreeting(long); err != nil {
				t.Errorf("no greeting from %s: %v", ep, err)
			}
			p.Close()

			if err := s.Bind("tcp://*:0"); err != nil {
				t.Fatalf("Bind(tcp://*:0): %v", err)
			}
			wild := s.LastEndpoint()
			if !strings.HasPrefix(wild, "tcp://0.0.0.0:") || strings.HasSuffix(wild, ":0") {
				t.Fatalf("LastEndpoint after tcp://*:0 = %q, want tcp://0.0.0.0:<port>", wild)
			}
			port := wild[strings.LastIndexByte(wild, ':')+1:]
			p, err = ztest.Dial("tcp://127.0.0.1:" + port)
			if err != nil {
				t.Fatalf("dial the wildcard endpoint's port: %v", err)
			}
			p.Close()
			// Unbind accepts both the endpoint as given and as resolved.
			if err := s.Unbind(wild); err != nil {
				t.Errorf("Unbind(%s) = %v", wild, err)
			}
			if err := s.Unbind(ep); err != nil {
				t.Errorf("Unbind(%s) = %v", ep, err)
			}
		})
	}
}

func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func TestIPv6(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback")
	}
	pull := newSock(t, zmq.Pull)
	if err := pull.Bind("tcp://[::1]:0"); err != nil {
		t.Fatal(err)
	}
	ep := pull.LastEndpoint()
	if !strings.HasPrefix(ep, "tcp://[::1]:") || strings.HasSuffix(ep, ":0") {
		t.Fatalf("LastEndpoint = %q", ep)
	}
	push := newSock(t, zmq.Push)
	connectTo(t, push, ep)
	mustSend(t, push, "over", "ipv6")
	wantFrames(t, mustRecv(t, pull), "over", "ipv6")
}

// ------------------------------------------------------------ concurrency

// TestConcurrentUse hammers each socket type from many goroutines at once
// (run with -race); every message must arrive exactly once.
func TestConcurrentUse(t *testing.T) {
	const G, K = 4, 100
	body := func(g, k int) string { return fmt.Sprintf("%d-%d", g, k) }
	// sendAll sends G*K messages from G goroutines on s, built by mk.
	sendAll := func(t *testing.T, s *zmq.Socket, mk func(g, k int) zmq.Msg) {
		var wg sync.WaitGroup
		for g := 0; g < G; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := timeout(t, long)
				for k := 0; k < K; k++ {
					if err := s.Send(ctx, mk(g, k)); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	// recvAll receives n messages on s from G goroutines and checks that each
	// key (as given by key) arrives once.
	recvAll := func(t *testing.T, s *zmq.Socket, n int, key func(zmq.Msg) string, skip func(zmq.Msg) bool) {
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
			wg   sync.WaitGroup
		)
		ctx, cancel := context.WithTimeout(context.Background(), long)
		defer cancel()
		for g := 0; g < G; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					m, err := s.Recv(ctx)
					if err != nil {
						return
					}
					if skip != nil && skip(m) {
						continue
					}
					mu.Lock()
					k := key(m)
					if seen[k] {
						t.Errorf("%q received twice", k)
					}
					seen[k] = true
					if len(seen) == n {
						cancel()
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("received %d distinct messages, want %d", len(seen), n)
		}
	}
	last := func(m zmq.Msg) string { return string(m.Frames[len(m.Frames)-1]) }
	str := func(g, k int) zmq.Msg { return zmq.NewMsgString(body(g, k)) }

	t.Run("PUSH-PULL", func(t *testing.T) {
		push, pull := newSock(t, zmq.Push), newSock(t, zmq.Pull)
		link(t, pull, push, true)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); sendAll(t, push, str) }()
		recvAll(t, pull, G*K, last, nil)
		wg.Wait()
	})
	t.Run("PAIR-PAIR", func(t *testing.T) {
		a, b := newSock(t, zmq.Pair), newSock(t, zmq.Pair)
		link(t, a, b, true)
		var wg sync.WaitGroup
		wg.Add(4)
		go func() { defer wg.Done(); sendAll(t, a, str) }()
		go func() { defer wg.Done(); sendAll(t, b, str) }()
		go func() { defer wg.Done(); recvAll(t, a, G*K, last, nil) }()
		go func() { defer wg.Done(); recvAll(t, b, G*K, last, nil) }()
		wg.Wait()
	})
	t.Run("PUB-SUB", func(t *testing.T) {
		pub := newSock(t, zmq.Pub, zmq.WithSendHWM(0))
		sub := newSock(t, zmq.Sub, zmq.WithRecvHWM(0))
		link(t, pub, sub, true)
		if err := sub.Subscribe(nil); err != nil {
			t.Fatal(err)
		}
		syncPubSub(t, pub, "", sub)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); sendAll(t, pub, str) }()
		// Meanwhile, churn unrelated subscriptions.
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				topic := []byte(fmt.Sprintf("zz%d", i%7))
				sub.Subscribe(topic)
				sub.Unsubscribe(topic)
			}
		}()
		recvAll(t, sub, G*K, last, isSync)
		wg.Wait()
	})
	t.Run("XPUB-XSUB", func(t *testing.T) {
		xpub := newSock(t, zmq.XPub, zmq.WithSendHWM(0))
		xsub := newSock(t, zmq.XSub, zmq.WithRecvHWM(0))
		link(t, xpub, xsub, false)
		mustSend(t, xsub, "\x01")
		// XPUB hands the application the subscription.
		wantFrames(t, mustRecv(t, xpub), "\x01")
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); sendAll(t, xpub, str) }()
		recvAll(t, xsub, G*K, last, nil)
		wg.Wait()
	})
	t.Run("REQ-REP", func(t *testing.T) {
		req, rep := newSock(t, zmq.Req), newSock(t, zmq.Rep)
		link(t, rep, req, true)
		serveEcho(t, rep, "rep")
		// Many goroutines share one REQ: only the one whose Send succeeded
		// receives; the others see ErrState meanwhile.
		var wg sync.WaitGroup
		var rounds atomic.Int64
		ctx := timeout(t, long)
		for g := 0; g < G; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < K/4; {
					err := req.Send(ctx, str(g, k))
					if errors.Is(err, zmq.ErrState) {
						time.Sleep(10 * time.Microsecond)
						continue
					}
					if err != nil {
						t.Errorf("REQ Send: %v", err)
						return
					}
					m, err := req.Recv(ctx)
					if err != nil {
						t.Errorf("REQ Recv: %v", err)
						return
					}
					if !eqFrames(m, "rep", body(g, k)) {
						t.Errorf("reply %q to %q", frames(m), body(g, k))
					}
					rounds.Add(1)
					k++
				}
			}()
		}
		wg.Wait()
		if rounds.Load() != G*(K/4) {
			t.Errorf("%d round trips, want %d", rounds.Load(), G*(K/4))
		}
	})
	t.Run("DEALER-ROUTER", func(t *testing.T) {
		dealer, router := newSock(t, zmq.Dealer), newSock(t, zmq.Router)
		link(t, router, dealer, true)
		serveEcho(t, router, "r")
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendAll(t, dealer, func(g, k int) zmq.Msg { return zmq.NewMsgString("", body(g, k)) })
		}()
		recvAll(t, dealer, G*K, last, nil)
		wg.Wait()
	})
	t.Run("ROUTER-DEALER", func(t *testing.T) {
		router := newSock(t, zmq.Router, zmq.WithRouterMandatory(true))
		dealer := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("d")))
		link(t, router, dealer, false)
		routerSend(t, router, "d", "hello")
		wantFrames(t, mustRecv(t, dealer), "hello")
		// The DEALER echoes everything back.
		background(t, func(ctx context.Context) {
			for {
				m, err := dealer.Recv(ctx)
				if err != nil || dealer.Send(ctx, m) != nil {
					return
				}
			}
		})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendAll(t, router, func(g, k int) zmq.Msg { return zmq.NewMsgString("d", body(g, k)) })
		}()
		recvAll(t, router, G*K, func(m zmq.Msg) string {
			if string(m.Frames[0]) != "d" {
				t.Errorf("routing id %q", m.Frames[0])
			}
			return last(m)
		}, nil)
		wg.Wait()
	})
	t.Run("REP-many-REQ", func(t *testing.T) {
		rep := newSock(t, zmq.Rep)
		ep := bindTCP(t, rep)
		serveEcho(t, rep, "rep")
		var wg sync.WaitGroup
		for g := 0; g < G; g++ {
			req := newSock(t, zmq.Req)
			connectTo(t, req, ep)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := timeout(t, long)
				for k := 0; k < K/4; k++ {
					if err := req.Send(ctx, str(g, k)); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
					m, err := req.Recv(ctx)
					if err != nil {
						t.Errorf("Recv: %v", err)
						return
					}
					if !eqFrames(m, "rep", body(g, k)) {
						t.Errorf("reply %q to %q", frames(m), body(g, k))
					}
				}
			}()
		}
		wg.Wait()
	})
}

// ------------------------------------------------------------------- REQ/REP

func TestREQStrictAlternation(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			req, rep := newSock(t, zmq.Req), newSock(t, zmq.Rep)
			link(t, req, rep, dir.aBinds)
			ctx := timeout(t, long)
			if _, err := req.Recv(ctx); !errors.Is(err, zmq.ErrState) {
				t.Fatalf("REQ Recv before Send = %v, want ErrState", err)
			}
			if err := rep.Send(ctx, zmq.NewMsgString("x")); !errors.Is(err, zmq.ErrState) {
				t.Fatalf("REP Send before Recv = %v, want ErrState", err)
			}
			for i := 0; i < 3; i++ {
				mustSend(t, req, "q", fmt.Sprint(i))
				if err := req.Send(ctx, zmq.NewMsgString("again")); !errors.Is(err, zmq.ErrState) {
					t.Fatalf("second REQ Send = %v, want ErrState", err)
				}
				wantFrames(t, mustRecv(t, rep), "q", fmt.Sprint(i))
				if _, err := rep.Recv(ctx); !errors.Is(err, zmq.ErrState) {
					t.Fatalf("second REP Recv = %v, want ErrState", err)
				}
				mustSend(t, rep, "a", fmt.Sprint(i))
				if err := rep.Send(ctx, zmq.NewMsgString("again")); !errors.Is(err, zmq.ErrState) {
					t.Fatalf("second REP Send = %v, want ErrState", err)
				}
				wantFrames(t, mustRecv(t, req), "a", fmt.Sprint(i))
				if _, err := req.Recv(ctx); !errors.Is(err, zmq.ErrState) {
					t.Fatalf("second REQ Recv = %v, want ErrState", err)
				}
			}
		})
	}
}

func TestREQRoundRobin(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			req := newSock(t, zmq.Req)
			reps := []*zmq.Socket{newSock(t, zmq.Rep), newSock(t, zmq.Rep)}
			for i, rep := range reps {
				link(t, req, rep, dir.aBinds)
				serveEcho(t, rep, fmt.Sprint(i))
			}
			// Until both REPs are attached, requests may all go to one.
			seen := map[string]bool{}
			for len(seen) < 2 {
				mustSend(t, req, "probe")
				seen[string(mustRecv(t, req).Frames[0])] = true
			}
			var prev string
			for i := 0; i < 10; i++ {
				mustSend(t, req, "q")
				who := string(mustRecv(t, req).Frames[0])
				if who == prev {
					t.Fatalf("request %d went to REP %s again: not round-robin", i, who)
				}
				prev = who
			}
		})
	}
}

func TestREQReplyOnlyFromAskedPeer(t *testing.T) {
	req := newSock(t, zmq.Req, zmq.WithRoutingID([]byte("req")))
	routers := []*zmq.Socket{
		newSock(t, zmq.Router, zmq.WithRouterMandatory(true)),
		newSock(t, zmq.Router, zmq.WithRouterMandatory(true)),
	}
	for _, r := range routers {
		connectTo(t, req, bindTCP(t, r))
	}
	in := collect(t, routers...)
	mustSend(t, req, "question")
	got := next(t, in)
	wantFrames(t, got.m, "req", "", "question")
	asked, other := routers[got.from], routers[1-got.from]
	// The other ROUTER answers uninvited: REQ must ignore it.
	routerSend(t, other, "req", "", "bogus")
	noMsg(t, req, 300*time.Millisecond)
	mustSend(t, asked, "req", "", "real")
	wantFrames(t, mustRecv(t, req), "real")
	// And a malformed reply (no delimiter) from the asked peer is dropped too.
	mustSend(t, req, "question2")
	got = next(t, in)
	r := routers[got.from]
	mustSend(t, r, "req", "no-delimiter")
	mustSend(t, r, "req", "", "good")
	wantFrames(t, mustRecv(t, req), "good")
}

func TestREPEnvelope(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			dealer, rep := newSock(t, zmq.Dealer), newSock(t, zmq.Rep)
			link(t, dealer, rep, dir.aBinds)

			mustSend(t, dealer, "", "hello")
			wantFrames(t, mustRecv(t, rep), "hello")
			mustSend(t, rep, "hello-reply")
			wantFrames(t, mustRecv(t, dealer), "", "hello-reply")

			// A multi-hop envelope (as built by ROUTER-DEALER proxies) comes back whole.
			mustSend(t, dealer, "hop1", "hop2", "", "body", "more")
			wantFrames(t, mustRecv(t, rep), "body", "more")
			mustSend(t, rep, "r1", "r2")
			wantFrames(t, mustRecv(t, dealer), "hop1", "hop2", "", "r1", "r2")

			// No delimiter: REP drops the message.
			mustSend(t, dealer, "no-delim")
			mustSend(t, dealer, "", "ok")
			wantFrames(t, mustRecv(t, rep), "ok")
			mustSend(t, rep, "ok-reply")
			wantFrames(t, mustRecv(t, dealer), "", "ok-reply")

			// An empty body after the delimiter is a valid request.
			mustSend(t, dealer, "", "")
			wantFrames(t, mustRecv(t, rep), "")
			mustSend(t, rep, "")
			wantFrames(t, mustRecv(t, dealer), "", "")
		})
	}
}

// REQ -> ROUTER | proxy | DEALER -> REP: the envelope grows at each hop and
// every reply finds its way back to the requester that asked.
func TestREQROUTERDEALERREPChain(t *testing.T) {
	front, back := newSock(t, zmq.Router), newSock(t, zmq.Dealer)
	frontEP, backEP := bindTCP(t, front), bindTCP(t, back)
	pump := func(from, to *zmq.Socket) {
		background(t, func(ctx context.Context) {
			for {
				m, err := from.Recv(ctx)
				if err != nil || to.Send(ctx, m) != nil {
					return
				}
			}
		})
	}
	pump(front, back)
	pump(back, front)
	for i := 0; i < 2; i++ {
		rep := newSock(t, zmq.Rep)
		connectTo(t, rep, backEP)
		serveEcho(t, rep, fmt.Sprintf("rep%d", i))
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		req := newSock(t, zmq.Req)
		connectTo(t, req, frontEP)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := timeout(t, long)
			for k := 0; k < 20; k++ {
				body := fmt.Sprintf("req%d-%d", i, k)
				if err := req.Send(ctx, zmq.NewMsgString(body)); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
				m, err := req.Recv(ctx)
				if err != nil {
					t.Errorf("Recv: %v", err)
					return
				}
				if len(m.Frames) != 2 || !strings.HasPrefix(string(m.Frames[0]), "rep") || string(m.Frames[1]) != body {
					t.Errorf("request %q got reply %q", body, frames(m))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// A reply goes back to whichever requester asked, even with many.
func TestREPRepliesToRequester(t *testing.T) {
	rep := newSock(t, zmq.Rep)
	ep := bindTCP(t, rep)
	serveEcho(t, rep, "rep")
	var reqs []*zmq.Socket
	for i := 0; i < 3; i++ {
		req := newSock(t, zmq.Req)
		connectTo(t, req, ep)
		reqs = append(reqs, req)
	}
	for round := 0; round < 3; round++ {
		for i, req := range reqs {
			mustSend(t, req, fmt.Sprint(i))
		}
		for i, req := range reqs {
			wantFrames(t, mustRecv(t, req), "rep", fmt.Sprint(i))
		}
	}
}

// --------------------------------------------------------------- DEALER

// distribute checks round-robin: once every receiver has taken a probe,
// n messages split evenly.
func distribute(t *testing.T, sender *zmq.Socket, receivers []*zmq.Socket, prefix []string) {
	in := collect(t, receivers...)
	seen := map[int]bool{}
	for len(seen) < len(receivers) {
		mustSend(t, sender, append(prefix, "probe")...)
		seen[next(t, in).from] = true
	}
	n := 100 * len(receivers)
	for i := 0; i < n; i++ {
		mustSend(t, sender, append(prefix, "data")...)
	}
	counts := make([]int, len(receivers))
	for i := 0; i < n; i++ {
		tm := next(t, in)
		if string(tm.m.Frames[len(tm.m.Frames)-1]) != "data" {
			t.Fatalf("unexpected %q", frames(tm.m))
		}
		counts[tm.from]++
	}
	for i, c := range counts {
		if c != n/len(receivers) {
			t.Fatalf("counts %v: receiver %d got %d of %d, want an even split", counts, i, c, n)
		}
	}
}

func TestDEALERRoundRobin(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			dealer := newSock(t, zmq.Dealer)
			var routers []*zmq.Socket
			for i := 0; i < 3; i++ {
				r := newSock(t, zmq.Router)
				link(t, dealer, r, dir.aBinds)
				routers = append(routers, r)
			}
			distribute(t, dealer, routers, nil)
		})
	}
}

// fairQueue checks that a receiver with two loaded senders takes from both
// in turn rather than draining one first.
func fairQueue(t *testing.T, recvType, sendType zmq.Type) {
	const N = 2000
	// Each pipe may hold many received messages (as in libzmq); the receiver
	// must still take them in turn.
	r := newSock(t, recvType)
	ep := bindTCP(t, r)
	senders := []*zmq.Socket{newSock(t, sendType), newSock(t, sendType)}
	for i, s := range senders {
		connectTo(t, s, ep)
		mustSend(t, s, "hello", fmt.Sprint(i))
	}
	for range senders {
		if m := mustRecv(t, r); string(m.Frames[0]) != "hello" {
			t.Fatalf("got %q, want hello", frames(m))
		}
	}
	// Both load up at once; r reads only once both are done sending.
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx := timeout(t, long)
			for k := 0; k < N; k++ {
				if err := s.Send(ctx, zmq.NewMsgString(fmt.Sprint(i), fmt.Sprint(k))); err != nil {
					t.Errorf("sender %d: %v", i, err)
					return
				}
			}
		}()
	}
	close(start)
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		// Senders may block on flow control; reading will free them.
	}
	// While both have plenty queued (the first N of 2N messages), both must
	// be served: a receiver that drains one peer first would take all N from
	// it. Exact alternation is not required (scheduling skews the ratio).
	var nextSeq [2]int
	var firstHalf [2]int
	for i := 0; i < 2*N; i++ {
		m := mustRecv(t, r)
		from := int(m.Frames[0][0] - '0')
		if seq := string(m.Frames[1]); seq != fmt.Sprint(nextSeq[from]) {
			t.Fatalf("from sender %d: got #%s, want #%d (order broken)", from, seq, nextSeq[from])
		}
		nextSeq[from]++
		if i < N {
			firstHalf[from]++
		}
	}
	<-sent
	t.Logf("first %d messages: %d from sender 0, %d from sender 1", N, firstHalf[0], firstHalf[1])
	// The split itself is not asserted: a peer whose bytes are still in the
	// kernel (its reader not yet woken by Go's netpoller) has nothing queued
	// to take turns with. TestFairQueuePolicy checks the turn-taking itself.
}

func TestDEALERFairQueue(t *testing.T) { fairQueue(t, zmq.Dealer, zmq.Dealer) }
func TestPULLFairQueue(t *testing.T)   { fairQueue(t, zmq.Pull, zmq.Push) }

// ---------------------------------------------------------------- ROUTER

func TestROUTERRoutingIDs(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			router := newSock(t, zmq.Router, zmq.WithRouterMandatory(true))
			anon1 := newSock(t, zmq.Dealer)
			anon2 := newSock(t, zmq.Req)
			named := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("alice")))
			for _, s := range []*zmq.Socket{anon1, anon2, named} {
				link(t, router, s, dir.aBinds)
			}
			mustSend(t, anon1, "from-anon1")
			mustSend(t, anon2, "from-anon2")
			mustSend(t, named, "from-alice")
			ids := map[string][]byte{}
			for i := 0; i < 3; i++ {
				m := mustRecv(t, router)
				body := string(m.Frames[len(m.Frames)-1])
				ids[body] = m.Frames[0]
			}
			for _, who := range []string{"from-anon1", "from-anon2"} {
				id := ids[who]
				if len(id) != 5 || id[0] != 0 {
					t.Errorf("%s: generated routing id %x, want 5 bytes starting 00", who, id)
				}
			}
			if bytes.Equal(ids["from-anon1"], ids["from-anon2"]) {
				t.Errorf("two peers share routing id %x", ids["from-anon1"])
			}
			if string(ids["from-alice"]) != "alice" {
				t.Errorf("explicit routing id arrived as %q, want alice", ids["from-alice"])
			}
			// Replies reach the right peer.
			if err := router.Send(timeout(t, long), zmq.NewMsg(ids["from-anon1"], []byte("to-anon1"))); err != nil {
				t.Fatal(err)
			}
			if err := router.Send(timeout(t, long), zmq.NewMsg(ids["from-anon2"], nil, []byte("to-anon2"))); err != nil {
				t.Fatal(err)
			}
			mustSend(t, router, "alice", "to-alice")
			wantFrames(t, mustRecv(t, anon1), "to-anon1")
			wantFrames(t, mustRecv(t, anon2), "to-anon2")
			wantFrames(t, mustRecv(t, named), "to-alice")
		})
	}
}

func TestROUTERUnroutable(t *testing.T) {
	ctx := timeout(t, long)
	plain := newSock(t, zmq.Router)
	bindTCP(t, plain)
	if err := plain.Send(ctx, zmq.NewMsgString("nobody", "x")); err != nil {
		t.Errorf("ROUTER Send to unknown id = %v, want silent drop", err)
	}
	mand := newSock(t, zmq.Router, zmq.WithRouterMandatory(true))
	ep := bindTCP(t, mand)
	if err := mand.Send(ctx, zmq.NewMsgString("nobody", "x")); !errors.Is(err, zmq.ErrHostUnreachable) {
		t.Errorf("mandatory ROUTER Send to unknown id = %v, want ErrHostUnreachable", err)
	}
	// A peer that leaves becomes unreachable again.
	d, err := zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0), zmq.WithRoutingID([]byte("d")))
	if err != nil {
		t.Fatal(err)
	}
	connectTo(t, d, ep)
	routerSend(t, mand, "d", "hi")
	wantFrames(t, mustRecv(t, d), "hi")
	d.Close()
	deadline := time.Now().Add(long)
	for {
		err := mand.Send(ctx, zmq.NewMsgString("d", "x"))
		if errors.Is(err, zmq.ErrHostUnreachable) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("Send to a departed peer: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestROUTERDuplicateIdentity(t *testing.T) {
	logs := ztest.NewLogRecorder()
	router := newSock(t, zmq.Router, zmq.WithRouterMandatory(true), zmq.WithLogger(logs.Logger()))
	ep := bindTCP(t, router)
	first := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("dup")))
	connectTo(t, first, ep)
	mustSend(t, first, "from-first")
	wantFrames(t, mustRecv(t, router), "dup", "from-first")

	// A raw peer claiming the same identity is refused: the ROUTER closes it.
	p, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Handshake(zmtp.TypeDealer, []byte("dup")); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	p.SendMsg([]byte("from-impostor"))
	if err := p.ExpectClosed(long); err != nil {
		t.Fatalf("duplicate identity not refused: %v", err)
	}
	// So is a zmqgo DEALER (it keeps retrying in the background).
	second := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("dup")))
	connectTo(t, second, ep)
	mustSend(t, second, "from-second")

	// The first peer keeps its identity and its traffic.
	for i := 0; i < 3; i++ {
		mustSend(t, router, "dup", "to-dup", fmt.Sprint(i))
		wantFrames(t, mustRecv(t, first), "to-dup", fmt.Sprint(i))
		mustSend(t, first, "again", fmt.Sprint(i))
		wantFrames(t, mustRecv(t, router), "dup", "again", fmt.Sprint(i))
	}
	noMsg(t, second, 100*time.Millisecond)
	if _, ok := logs.WaitFor(0, slog.LevelWarn, long, "dup"); !ok {
		t.Errorf("no log line about the refused duplicate identity; got %v", logs.Records())
	}
}

// ------------------------------------------------------------- PUB/SUB

func TestPubSubPrefix(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			pub := newSock(t, zmq.Pub)
			subAB, subAll := newSock(t, zmq.Sub), newSock(t, zmq.Sub)
			link(t, pub, subAB, dir.aBinds)
			if dir.aBinds {
				connectTo(t, subAll, pub.LastEndpoint())
			} else {
				connectTo(t, pub, bindTCP(t, subAll))
			}
			subAB.Subscribe([]byte("ab"))
			subAll.Subscribe(nil)
			syncPubSub(t, pub, "ab", subAB, subAll)
			msgs := [][]string{
				{"a", "bc"},      // topic is the first frame only
				{"abc", "1"},     // prefix match
				{"ab"},           // exact match, one frame
				{"xab", "2"},     // not a prefix
				{"AB", "3"},      // case matters
				{"", "4"},        // empty topic
				{"ab\x00z", "5"}, // binary-safe
				{"ab", "end"},
			}
			for _, m := range msgs {
				mustSend(t, pub, m...)
			}
			for _, want := range [][]string{{"abc", "1"}, {"ab"}, {"ab\x00z", "5"}, {"ab", "end"}} {
				wantFrames(t, recvNoSync(t, subAB), want...)
			}
			for _, want := range msgs {
				wantFrames(t, recvNoSync(t, subAll), want...)
			}
		})
	}
}

func TestPubSubUnsubscribe(t *testing.T) {
	pub, sub := newSock(t, zmq.Pub), newSock(t, zmq.Sub)
	link(t, pub, sub, true)
	sub.Subscribe([]byte("a"))
	syncPubSub(t, pub, "a", sub)
	sub.Unsubscribe([]byte("a"))
	sub.Subscribe([]byte("b"))
	// Once "b" flows, the CANCEL for "a" (sent before) has been applied.
	syncPubSub(t, pub, "b", sub)
	mustSend(t, pub, "a", "late")
	mustSend(t, pub, "b", "end")
	for {
		m := mustRecv(t, sub)
		if string(m.Frames[0]) == "a" && string(m.Frames[1]) == "late" {
			t.Fatal("received a message for a cancelled subscription")
		}
		if eqFrames(m, "b", "end") {
			break
		}
	}
}

func TestPubSubCounting(t *testing.T) {
	pub, sub := newSock(t, zmq.Pub), newSock(t, zmq.Sub)
	link(t, pub, sub, false)
	sub.Subscribe([]byte("a"))
	sub.Subscribe([]byte("a"))
	syncPubSub(t, pub, "a", sub)
	sub.Unsubscribe([]byte("a")) // one count left
	sub.Subscribe([]byte("z"))
	syncPubSub(t, pub, "z", sub)
	mustSend(t, pub, "a", "still")
	mustSend(t, pub, "z", "end")
	wantFrames(t, recvNoSync(t, sub), "a", "still")
	wantFrames(t, recvNoSync(t, sub), "z", "end")
	sub.Unsubscribe([]byte("a")) // now none
	sub.Subscribe([]byte("y"))
	syncPubSub(t, pub, "y", sub)
	mustSend(t, pub, "a", "gone")
	mustSend(t, pub, "y", "end")
	for {
		m := recvNoSync(t, sub)
		if eqFrames(m, "a", "gone") {
			t.Fatal("received after the last Unsubscribe")
		}
		if eqFrames(m, "y", "end") {
			break
		}
	}
}

// The publisher counts each subscriber's subscriptions too: a raw SUB peer
// subscribes twice and cancels once.
func TestPubCountsPeerSubscriptions(t *testing.T) {
	pub := newSock(t, zmq.Pub)
	ep := bindTCP(t, pub)
	p, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Handshake(zmtp.TypeSub, nil); err != nil {
		t.Fatal(err)
	}
	sub := func(on bool, topic string) {
		var b []byte
		if on {
			b = zmtp.AppendSubscribe(nil, []byte(topic))
		} else {
			b = zmtp.AppendCancel(nil, []byte(topic))
		}
		if err := p.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// rawSync publishes [topic, sync] until the raw peer reads one.
	rawSync := func(topic string) {
		deadline := time.Now().Add(long)
		for time.Now().Before(deadline) {
			mustSend(t, pub, topic, "sync")
			m, err := p.ReadMsg(20 * time.Millisecond)
			if err == nil && string(m[0]) == topic {
				return
			}
		}
		t.Fatalf("raw subscriber never got %q", topic)
	}
	// readUntil reads data messages until [end...]; it reports whether
	// [topic, body] came first.
	readUntil := func(endTopic, topic, body string) bool {
		found := false
		for {
			m, err := p.ReadMsg(long)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) == 2 && string(m[0]) == topic && string(m[1]) == body {
				found = true
			}
			if len(m) == 2 && string(m[0]) == endTopic && string(m[1]) == "end" {
				return found
			}
		}
	}
	sub(true, "a")
	sub(true, "a")
	sub(false, "a")
	sub(true, "z")
	rawSync("z")
	mustSend(t, pub, "a", "1")
	mustSend(t, pub, "z", "end")
	if !readUntil("z", "a", "1") {
		t.Fatal("PUB stopped sending after one of two subscriptions was cancelled")
	}
	sub(false, "a")
	sub(true, "y")
	rawSync("y")
	mustSend(t, pub, "a", "2")
	mustSend(t, pub, "y", "end")
	if readUntil("y", "a", "2") {
		t.Fatal("PUB kept sending after both subscriptions were cancelled")
	}
	// The ZMTP 3.0 form (data message \x01topic) works as well.
	if err := p.SendMsg([]byte("\x01w")); err != nil {
		t.Fatal(err)
	}
	rawSync("w")
}

// SUB filters locally: a publisher that sends everything (here a raw peer)
// still only gets matching messages through.
func TestSubFiltersLocally(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sub := newSock(t, zmq.Sub)
	sub.Subscribe([]byte("keep"))
	connectTo(t, sub, "tcp://"+l.Addr().String())
	p, err := ztest.Accept(l)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Handshake(zmtp.TypePub, nil); err != nil {
		t.Fatal(err)
	}
	topic, err := p.ReadCommand(zmtp.CmdSubscribe, long)
	if err != nil || string(topic) != "keep" {
		t.Fatalf("SUBSCRIBE %q, %v; want keep", topic, err)
	}
	for _, m := range [][]string{{"drop", "1"}, {"keep", "1"}, {"kee", "2"}, {"keeper", "2"}, {"other", "3"}} {
		var fr [][]byte
		for _, f := range m {
			fr = append(fr, []byte(f))
		}
		if err := p.SendMsg(fr...); err != nil {
			t.Fatal(err)
		}
	}
	wantFrames(t, mustRecv(t, sub), "keep", "1")
	wantFrames(t, mustRecv(t, sub), "keeper", "2")
	noMsg(t, sub, 100*time.Millisecond)
}

// A subscriber that does not read loses messages at its high-water mark;
// the publisher never blocks.
func TestPubDropsAtHWM(t *testing.T) {
	pub := newSock(t, zmq.Pub, zmq.WithSendHWM(1))
	sub := newSock(t, zmq.Sub, zmq.WithRecvHWM(1))
	link(t, pub, sub, true)
	sub.Subscribe(nil)
	syncPubSub(t, pub, "t", sub)
	const n = 300
	big := make([]byte, 256<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := pub.Send(ctx, zmq.NewMsg([]byte("t"), []byte(fmt.Sprint(i)), big)); err != nil {
			t.Fatalf("publish %d: %v (after %v)", i, err, time.Since(start))
		}
	}
	t.Logf("published %d x 256 KiB in %v", n, time.Since(start))
	got := 0
	last := -1
	for {
		c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		m, err := sub.Recv(c)
		cancel()
		if err != nil {
			break
		}
		if isSync(m) {
			continue
		}
		var i int
		fmt.Sscan(string(m.Frames[1]), &i)
		if i <= last {
			t.Fatalf("message %d after %d: order broken", i, last)
		}
		if len(m.Frames[2]) != len(big) {
			t.Fatalf("message %d truncated to %d bytes", i, len(m.Frames[2]))
		}
		last = i
		got++
	}
	if got >= n {
		t.Fatalf("subscriber received all %d messages: nothing dropped at HWM", got)
	}
	t.Logf("subscriber received %d of %d", got, n)
}

// --------------------------------------------------------------- PUSH/PULL

func TestPUSHRoundRobin(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			push := newSock(t, zmq.Push)
			var pulls []*zmq.Socket
			for i := 0; i < 3; i++ {
				p := newSock(t, zmq.Pull)
				link(t, push, p, dir.aBinds)
				pulls = append(pulls, p)
			}
			distribute(t, push, pulls, nil)
		})
	}
}

func TestPUSHBlocksWhenFull(t *testing.T) {
	push := newSock(t, zmq.Push, zmq.WithSendHWM(1))
	pull := newSock(t, zmq.Pull, zmq.WithRecvHWM(1))
	link(t, pull, push, true)
	mustSend(t, push, "hello")
	wantFrames(t, mustRecv(t, pull), "hello")
	big := make([]byte, 1<<20)
	sent := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := push.Send(ctx, zmq.NewMsg([]byte(fmt.Sprint(sent)), big))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		if sent > 500 {
			t.Fatal("500 MiB sent without blocking: PUSH does not block when its peer is full")
		}
	}
	t.Logf("PUSH blocked after %d x 1 MiB", sent)
	// Nothing was lost: every message that Send accepted arrives, in order.
	for i := 0; i < sent; i++ {
		m := mustRecv(t, pull)
		if string(m.Frames[0]) != fmt.Sprint(i) || len(m.Frames[1]) != len(big) {
			t.Fatalf("message %d: got #%s of %d bytes", i, m.Frames[0], len(m.Frames[1]))
		}
	}
	// And sending works again.
	mustSend(t, push, "after")
	wantFrames(t, mustRecv(t, pull), "after")
}

// DEALER blocks like PUSH when every peer is full.
func TestDEALERBlocksWhenFull(t *testing.T) {
	dealer := newSock(t, zmq.Dealer, zmq.WithSendHWM(1))
	peer := newSock(t, zmq.Dealer, zmq.WithRecvHWM(1))
	link(t, peer, dealer, true)
	big := make([]byte, 1<<20)
	for sent := 0; ; sent++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := dealer.Send(ctx, zmq.NewMsg(big))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sent > 500 {
			t.Fatal("DEALER does not block when its peer is full")
		}
	}
}

// ------------------------------------------------------------------- PAIR

func TestPAIRSinglePeer(t *testing.T) {
	logs := ztest.NewLogRecorder()
	a := newSock(t, zmq.Pair, zmq.WithLogger(logs.Logger()))
	ep := bindTCP(t, a)
	b := newSock(t, zmq.Pair)
	connectTo(t, b, ep)
	mustSend(t, b, "b->a")
	wantFrames(t, mustRecv(t, a), "b->a")

	p, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Handshake(zmtp.TypePair, nil); err == nil {
		p.SendMsg([]byte("intruder"))
	}
	if err := p.ExpectClosed(long); err != nil {
		t.Fatalf("second PAIR peer not refused: %v", err)
	}
	c := newSock(t, zmq.Pair)
	connectTo(t, c, ep)
	mustSend(t, c, "from-c")

	for i := 0; i < 3; i++ {
		mustSend(t, a, "a->b", fmt.Sprint(i))
		wantFrames(t, mustRecv(t, b), "a->b", fmt.Sprint(i))
		mustSend(t, b, "b->a", fmt.Sprint(i))
		wantFrames(t, mustRecv(t, a), "b->a", fmt.Sprint(i))
	}
	noMsg(t, c, 100*time.Millisecond)
	// A connecting PAIR has one peer too.
	if err := b.Connect(bindTCP(t, newSock(t, zmq.Pair))); err == nil {
		t.Error("second Connect on a PAIR succeeded")
	}
}

// ------------------------------------------- connect order and reconnection

type pattern struct {
	name       string
	send, recv zmq.Type
	sendOpts   []zmq.Option
	recvOpts   []zmq.Option
}

var lossless = []pattern{
	{"PUSH-PULL", zmq.Push, zmq.Pull, nil, nil},
	{"DEALER-DEALER", zmq.Dealer, zmq.Dealer, nil, nil},
	{"DEALER-ROUTER", zmq.Dealer, zmq.Router, []zmq.Option{zmq.WithRoutingID([]byte("D"))}, nil},
	{"PAIR-PAIR", zmq.Pair, zmq.Pair, nil, nil},
}

// strip removes what the receiving type adds (ROUTER's routing id).
func strip(typ zmq.Type, m zmq.Msg) zmq.Msg {
	if typ == zmq.Router {
		return zmq.Msg{Frames: m.Frames[1:]}
	}
	return m
}

func TestConnectBeforeBind(t *testing.T) {
	for _, pt := range lossless {
		t.Run(pt.name, func(t *testing.T) {
			ep, err := ztest.FreeTCPEndpoint()
			if err != nil {
				t.Fatal(err)
			}
			s := newSock(t, pt.send, pt.sendOpts...)
			connectTo(t, s, ep)
			for i := 0; i < 10; i++ {
				mustSend(t, s, "early", fmt.Sprint(i))
			}
			r := newSock(t, pt.recv, pt.recvOpts...)
			if err := r.Bind(ep); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 10; i++ {
				wantFrames(t, strip(pt.recv, mustRecv(t, r)), "early", fmt.Sprint(i))
			}
		})
	}
	t.Run("REQ-REP", func(t *testing.T) {
		ep, err := ztest.FreeTCPEndpoint()
		if err != nil {
			t.Fatal(err)
		}
		req := newSock(t, zmq.Req)
		connectTo(t, req, ep)
		mustSend(t, req, "early")
		rep := newSock(t, zmq.Rep)
		if err := rep.Bind(ep); err != nil {
			t.Fatal(err)
		}
		wantFrames(t, mustRecv(t, rep), "early")
		mustSend(t, rep, "reply")
		wantFrames(t, mustRecv(t, req), "reply")
	})
	t.Run("SUB-PUB", func(t *testing.T) {
		ep, err := ztest.FreeTCPEndpoint()
		if err != nil {
			t.Fatal(err)
		}
		sub := newSock(t, zmq.Sub)
		sub.Subscribe([]byte("t"))
		connectTo(t, sub, ep)
		pub := newSock(t, zmq.Pub)
		if err := pub.Bind(ep); err != nil {
			t.Fatal(err)
		}
		syncPubSub(t, pub, "t", sub)
	})
}

func TestReconnectAfterRestart(t *testing.T) {
	// restart closes the bound socket and binds a new one on the same port;
	// then messages sent must reach it.
	for _, pt := range lossless {
		t.Run(pt.name, func(t *testing.T) {
			r1, err := zmq.NewSocket(pt.recv, append([]zmq.Option{zmq.WithLinger(0)}, pt.recvOpts...)...)
			if err != nil {
				t.Fatal(err)
			}
			ep := bindTCP(t, r1)
			s := newSock(t, pt.send, append([]zmq.Option{zmq.WithReconnectInterval(20 * time.Millisecond)}, pt.sendOpts...)...)
			connectTo(t, s, ep)
			mustSend(t, s, "before")
			wantFrames(t, strip(pt.recv, mustRecv(t, r1)), "before")
			if err := r1.Close(); err != nil {
				t.Fatal(err)
			}
			r2 := newSock(t, pt.recv, pt.recvOpts...)
			if err := r2.Bind(ep); err != nil {
				t.Fatalf("re-bind %s: %v", ep, err)
			}
			// A message written just before the sender noticed the old
			// connection died may be lost (as with libzmq); send until one
			// arrives, then everything after it must arrive in order.
			deadline := time.Now().Add(long)
			for i := 0; ; i++ {
				if time.Now().After(deadline) {
					t.Fatal("nothing arrived at the restarted peer")
				}
				mustSend(t, s, "probe", fmt.Sprint(i))
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				_, err := r2.Recv(ctx)
				cancel()
				if err == nil {
					break
				}
			}
			for i := 0; i < 100; i++ {
				mustSend(t, s, "after", fmt.Sprint(i))
			}
			for i := 0; i < 100; {
				m := strip(pt.recv, mustRecv(t, r2))
				if string(m.Frames[0]) == "probe" {
					continue
				}
				wantFrames(t, m, "after", fmt.Sprint(i))
				i++
			}
		})
	}
	t.Run("SUB-PUB", func(t *testing.T) {
		pub1, err := zmq.NewSocket(zmq.Pub, zmq.WithLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		ep := bindTCP(t, pub1)
		sub := newSock(t, zmq.Sub, zmq.WithReconnectInterval(20*time.Millisecond))
		sub.Subscribe([]byte("t"))
		connectTo(t, sub, ep)
		syncPubSub(t, pub1, "t", sub)
		pub1.Close()
		pub2 := newSock(t, zmq.Pub)
		if err := pub2.Bind(ep); err != nil {
			t.Fatal(err)
		}
		// The subscription must be sent again on the new connection.
		syncPubSub(t, pub2, "t", sub)
	})
}

// ------------------------------------------------- all-or-nothing, in order

// streamPattern is the source of frame contents: pseudo-random bytes, so a
// frame shifted or swapped with another does not compare equal.
var streamPattern = func() []byte {
	b := make([]byte, 4096+70000)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

var frameSizes = []int{0, 1, 255, 256, 70000, 13, 65527, 65535, 65536, 65537, 8191, 8192, 1000}

// streamMsg is message i of the ordering test: 1-4 frames of assorted sizes,
// contents derived from (i, frame) so any mix-up shows.
func streamMsg(i int) zmq.Msg {
	n := 1 + i%4
	m := zmq.Msg{Frames: make([][]byte, n)}
	for j := 0; j < n; j++ {
		size := frameSizes[(i*7+j*3)%len(frameSizes)]
		if size == 70000 && i%5 != 0 {
			size = 700 // keep the total moderate
		}
		f := make([]byte, size)
		copy(f, streamPattern[(i*131+j*17)%4096:])
		if size >= 8 {
			binary.BigEndian.PutUint32(f, uint32(i))
			binary.BigEndian.PutUint32(f[4:], uint32(j))
		}
		m.Frames[j] = f
	}
	return m
}

func sameMsg(a, b zmq.Msg) bool {
	if len(a.Frames) != len(b.Frames) {
		return false
	}
	for i := range a.Frames {
		if !bytes.Equal(a.Frames[i], b.Frames[i]) {
			return false
		}
	}
	return true
}

func describe(m zmq.Msg) string {
	var sizes []int
	for _, f := range m.Frames {
		sizes = append(sizes, len(f))
	}
	return fmt.Sprintf("%d frames %v", len(m.Frames), sizes)
}

func TestMessagesWholeAndInOrder(t *testing.T) {
	const N = 1000
	check := func(t *testing.T, i int, got zmq.Msg) {
		t.Helper()
		if want := streamMsg(i); !sameMsg(got, want) {
			t.Fatalf("message %d: got %s, want %s", i, describe(got), describe(want))
		}
	}
	for _, pt := range lossless {
		for _, dir := range directions {
			if pt.send != zmq.Push && !dir.aBinds {
				continue // both directions for one pattern is enough; -race makes this slow
			}
			t.Run(pt.name+"/"+dir.name, func(t *testing.T) {
				s := newSock(t, pt.send, pt.sendOpts...)
				r := newSock(t, pt.recv, pt.recvOpts...)
				link(t, s, r, dir.aBinds)
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := timeout(t, long)
					for i := 0; i < N; i++ {
						if err := s.Send(ctx, streamMsg(i)); err != nil {
							t.Errorf("Send %d: %v", i, err)
							return
						}
					}
				}()
				for i := 0; i < N; i++ {
					m := mustRecv(t, r)
					if pt.recv == zmq.Router && string(m.Frames[0]) != "D" {
						t.Fatalf("routing id %q", m.Frames[0])
					}
					check(t, i, strip(pt.recv, m))
				}
				wg.Wait()
			})
		}
	}
	t.Run("ROUTER-DEALER", func(t *testing.T) {
		r := newSock(t, zmq.Router, zmq.WithRouterMandatory(true))
		d := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("D")))
		link(t, r, d, true)
		routerSend(t, r, "D", "hi")
		wantFrames(t, mustRecv(t, d), "hi")
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := timeout(t, long)
			for i := 0; i < N; i++ {
				m := streamMsg(i)
				m.Frames = append([][]byte{[]byte("D")}, m.Frames...)
				if err := r.Send(ctx, m); err != nil {
					t.Errorf("Send %d: %v", i, err)
					return
				}
			}
		}()
		for i := 0; i < N; i++ {
			check(t, i, mustRecv(t, d))
		}
		wg.Wait()
	})
	t.Run("PUB-SUB", func(t *testing.T) {
		pub := newSock(t, zmq.Pub, zmq.WithSendHWM(0))
		sub := newSock(t, zmq.Sub, zmq.WithRecvHWM(0))
		link(t, pub, sub, false)
		sub.Subscribe(nil)
		syncPubSub(t, pub, "", sub)
		for i := 0; i < N; i++ {
			if err := pub.Send(timeout(t, long), streamMsg(i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < N; i++ {
			check(t, i, recvNoSync(t, sub))
		}
	})
	t.Run("REQ-REP", func(t *testing.T) {
		req, rep := newSock(t, zmq.Req), newSock(t, zmq.Rep)
		link(t, req, rep, true)
		background(t, func(ctx context.Context) {
			for {
				m, err := rep.Recv(ctx)
				if err != nil || rep.Send(ctx, m) != nil {
					return
				}
			}
		})
		for i := 0; i < N; i += 3 {
			if err := req.Send(timeout(t, long), streamMsg(i)); err != nil {
				t.Fatal(err)
			}
			check(t, i, mustRecv(t, req))
		}
	})
}
