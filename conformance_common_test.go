package zmq_test

// Conformance: what every socket type must show (endpoints, Close, contexts,
// unsupported operations, concurrency), over tcp loopback.

import (
	"context"
	"errors"
	"fmt"
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
