package zmq_test

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

// A deferred Close must not hang a program whose peer never comes: with
// the default linger, Close on a REQ, PUSH or DEALER whose request is
// queued for an endpoint where nobody listens returns at once.
func TestCloseReturnsWhenPeerNeverComes(t *testing.T) {
	free, err := ztest.FreeTCPEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []zmq.Type{zmq.Req, zmq.Push, zmq.Dealer} {
		for _, ep := range []string{free, "inproc://nobody-" + typ.String()} {
			s, err := zmq.NewSocket(typ) // default linger
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Connect(ep); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := s.Send(ctx, zmq.NewMsgString("request")); err != nil {
				t.Fatal(typ, ep, err)
			}
			cancel()
			done := make(chan error, 1)
			go func() { done <- s.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%v to %s: Close still blocked after 5 s", typ, ep)
			}
		}
	}
}

// Close still delivers what can be delivered: the peer is there, the
// connection is being made when Close is called (see also
// TestLingerDeliversAfterLateConnect, with an explicit linger).
func TestCloseDefaultLingerDelivers(t *testing.T) {
	ctx := ctxT(t)
	pull := sock(t, zmq.Pull)
	if err := pull.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	push, _ := zmq.NewSocket(zmq.Push)
	push.Connect(pull.LastEndpoint())
	for i := 0; i < 100; i++ {
		push.Send(ctx, zmq.NewMsg(make([]byte, 1000)))
	}
	push.Close()
	for i := 0; i < 100; i++ {
		if _, err := pull.Recv(ctx); err != nil {
			t.Fatal(i, err)
		}
	}
}

// Shutdown says how many messages it could not write, and why.
func TestShutdownReportsUndelivered(t *testing.T) {
	free, err := ztest.FreeTCPEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	push, _ := zmq.NewSocket(zmq.Push)
	push.Connect(free)
	for i := 0; i < 3; i++ {
		if err := push.Send(context.Background(), zmq.NewMsgString("x")); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = push.Shutdown(ctx)
	var ue *zmq.UndeliveredError
	if !errors.As(err, &ue) {
		t.Fatalf("Shutdown: %v, want *UndeliveredError", err)
	}
	if ue.Messages != 3 || ue.Connected || !errors.Is(err, zmq.ErrUndelivered) ||
		!errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Shutdown: %+v (%v)", ue, err)
	}
	t.Log(err)
	if err := push.Shutdown(context.Background()); !errors.Is(err, zmq.ErrClosed) {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// A handshake that fails (here: PUSH to a PUB) ends Close's wait at once
// and is Shutdown's cause.
func TestShutdownReportsHandshakeFailure(t *testing.T) {
	pub := sock(t, zmq.Pub)
	if err := pub.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	push, _ := zmq.NewSocket(zmq.Push)
	push.Connect(pub.LastEndpoint())
	push.Send(context.Background(), zmq.NewMsgString("lost"))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := push.Shutdown(ctx)
	var ue *zmq.UndeliveredError
	if !errors.As(err, &ue) || ue.Messages != 1 || ue.Connected || !errors.Is(err, zmq.ErrIncompatiblePeer) {
		t.Fatalf("Shutdown: %v", err)
	}
	t.Log(err)
}

// Shutdown waits through reconnections: the peer comes late, and gets
// everything.
func TestShutdownWaitsForLatePeer(t *testing.T) {
	ctx := ctxT(t)
	ep, err := ztest.FreeTCPEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	push, _ := zmq.NewSocket(zmq.Push, zmq.WithReconnectInterval(10*time.Millisecond))
	push.Connect(ep)
	push.Send(ctx, zmq.NewMsgString("late"))
	ev := push.Monitor(ctx)
	done := make(chan error, 1)
	go func() { done <- push.Shutdown(ctx) }()
	waitEvent(t, ctx, ev, zmq.EventConnectRetried) // refused at least once
	pull := sock(t, zmq.Pull)
	if err := pull.Bind(ep); err != nil {
		t.Skip("port taken meanwhile:", err)
	}
	if m, err := pull.Recv(ctx); err != nil || m.String() != "late" {
		t.Fatal(m, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Shutdown on a socket with nothing queued returns at once, nil.
func TestShutdownEmpty(t *testing.T) {
	s, _ := zmq.NewSocket(zmq.Dealer)
	s.Connect("tcp://127.0.0.1:1")
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A peer that is connected but never reads holds Close at most the linger.
func TestCloseBoundedByLinger(t *testing.T) {
	ctx := ctxT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	push, _ := zmq.NewSocket(zmq.Push, zmq.WithLinger(300*time.Millisecond), zmq.WithSendHWM(10))
	ev := push.Monitor(ctx)
	push.Connect("tcp://" + ln.Addr().String())
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := &ztest.Peer{Conn: nc, R: zmtp.NewReader(nc, 0, nil)}
	if err := p.Handshake("PULL", nil); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ctx, ev, zmq.EventHandshakeSucceeded)
	// Fill the kernel buffers and the queue: the peer reads nothing more.
	big := make([]byte, 1<<20)
	for {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := push.Send(short, zmq.NewMsg(big))
		cancel()
		if err != nil {
			break
		}
	}
	start := time.Now()
	push.Close()
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("Close took %v with a linger of 300ms and a peer that reads nothing", d)
	}
}
