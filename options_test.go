package zmq_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

func TestImmediate(t *testing.T) {
	ctx := ctxT(t)
	// Without a live peer an IMMEDIATE PUSH has nowhere to queue: it blocks.
	push := sock(t, zmq.Push, zmq.WithImmediate(true))
	push.Connect("tcp://127.0.0.1:1") // nothing listens there
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := push.Send(short, zmq.NewMsgString("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send with no live peer: %v, want to block", err)
	}
	// Once a peer is there, messages go only to it.
	pull := sock(t, zmq.Pull)
	pull.Bind("tcp://127.0.0.1:0")
	ev := push.Monitor(ctx)
	push.Connect(pull.LastEndpoint())
	waitEvent(t, ctx, ev, zmq.EventHandshakeSucceeded)
	for i := 0; i < 10; i++ {
		if err := push.Send(ctx, zmq.NewMsgString("live")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		if m, err := pull.Recv(ctx); err != nil || m.String() != "live" {
			t.Fatal(m, err)
		}
	}
}

func TestConflate(t *testing.T) {
	ctx := ctxT(t)
	pull := sock(t, zmq.Pull, zmq.WithConflate(true))
	pull.Bind("tcp://127.0.0.1:0")
	push := sock(t, zmq.Push)
	push.Connect(pull.LastEndpoint())
	for i := 0; i <= 100; i++ {
		push.Send(ctx, zmq.NewMsg([]byte{byte(i)}))
	}
	// Messages keep replacing each other until the last has arrived.
	for {
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Frames[0][0] == 100 {
			break
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if m, err := pull.Recv(short); err == nil {
		t.Fatalf("more after the newest: %v", m.Frames)
	}
}

func TestRouterHandover(t *testing.T) {
	for _, handover := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused", true: "taken-over"}[handover], func(t *testing.T) {
			ctx := ctxT(t)
			r := sock(t, zmq.Router, zmq.WithRouterHandover(handover))
			ev := r.Monitor(ctx)
			r.Bind("tcp://127.0.0.1:0")
			a := sock(t, zmq.Dealer, zmq.WithRoutingID([]byte("same")))
			a.Connect(r.LastEndpoint())
			a.Send(ctx, zmq.NewMsgString("from a"))
			if m, _ := r.Recv(ctx); m.String() != "same\tfrom a" {
				t.Fatal(m)
			}
			b := sock(t, zmq.Dealer, zmq.WithRoutingID([]byte("same")))
			b.Connect(r.LastEndpoint())
			b.Send(ctx, zmq.NewMsgString("from b"))
			if !handover {
				waitEvent(t, ctx, ev, zmq.EventDisconnected)
				r.Send(ctx, zmq.NewMsgString("same", "to first"))
				if m, err := a.Recv(ctx); err != nil || m.String() != "to first" {
					t.Fatal(m, err)
				}
				return
			}
			if m, _ := r.Recv(ctx); m.String() != "same\tfrom b" {
				t.Fatal(m)
			}
			r.Send(ctx, zmq.NewMsgString("same", "to newcomer"))
			if m, err := b.Recv(ctx); err != nil || m.String() != "to newcomer" {
				t.Fatal(m, err)
			}
		})
	}
}

func TestProbeRouter(t *testing.T) {
	for _, tr := range []string{"tcp://127.0.0.1:0", "inproc://probe"} {
		ctx := ctxT(t)
		r := sock(t, zmq.Router)
		r.Bind(tr)
		d := sock(t, zmq.Dealer, zmq.WithProbeRouter(true), zmq.WithRoutingID([]byte("prober")))
		d.Connect(r.LastEndpoint())
		m, err := r.Recv(ctx)
		if err != nil || len(m.Frames) != 2 || string(m.Frames[0]) != "prober" || len(m.Frames[1]) != 0 {
			t.Fatalf("%s: want [prober, empty] probe, got %q %v", tr, m.Frames, err)
		}
	}
}

// subscribeXPub connects a SUB and waits until the XPUB has its subscription.
func xpubMsg(t *testing.T, ctx context.Context, x *zmq.Socket) []byte {
	t.Helper()
	m, err := x.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m.Frames[0]
}

func TestXPubOptions(t *testing.T) {
	t.Run("default-only-new-topics", func(t *testing.T) {
		ctx := ctxT(t)
		x := sock(t, zmq.XPub)
		x.Bind("inproc://xpub-default")
		s1, s2 := sock(t, zmq.Sub), sock(t, zmq.Sub)
		s1.Subscribe([]byte("a"))
		s1.Connect("inproc://xpub-default")
		if got := xpubMsg(t, ctx, x); !bytes.Equal(got, []byte("\x01a")) {
			t.Fatalf("got %q", got)
		}
		s2.Subscribe([]byte("a")) // not new to the socket: not reported
		s2.Subscribe([]byte("b"))
		s2.Connect("inproc://xpub-default")
		if got := xpubMsg(t, ctx, x); !bytes.Equal(got, []byte("\x01b")) {
			t.Fatalf("got %q, want only the new topic b", got)
		}
		s1.Close() // a still has s2: only b's... nothing reported for a
		s2.Unsubscribe([]byte("b"))
		if got := xpubMsg(t, ctx, x); !bytes.Equal(got, []byte("\x00b")) {
			t.Fatalf("got %q", got)
		}
		s2.Close() // the last subscriber of a goes
		if got := xpubMsg(t, ctx, x); !bytes.Equal(got, []byte("\x00a")) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("verbose", func(t *testing.T) {
		ctx := ctxT(t)
		x := sock(t, zmq.XPub, zmq.WithXPubVerbose(true))
		x.Bind("inproc://xpub-verbose")
		for i := 0; i < 2; i++ {
			s := sock(t, zmq.Sub)
			s.Subscribe([]byte("a"))
			s.Connect("inproc://xpub-verbose")
			if got := xpubMsg(t, ctx, x); !bytes.Equal(got, []byte("\x01a")) {
				t.Fatalf("subscriber %d: got %q", i, got)
			}
		}
	})
	t.Run("verboser", func(t *testing.T) {
		ctx := ctxT(t)
		x := sock(t, zmq.XPub, zmq.WithXPubVerboser(true))
		x.Bind("inproc://xpub-verboser")
		s1, s2 := sock(t, zmq.Sub), sock(t, zmq.Sub)
		for _, s := range []*zmq.Socket{s1, s2} {
			s.Subscribe([]byte("a"))
			s.Connect("inproc://xpub-verboser")
			xpubMsg(t, ctx, x)
		}
		s1.Unsubscribe([]byte("a"))
		if got := xpubMsg(t, ctx, x); !bytes.Equal(got, []byte("\x00a")) {
			t.Fatalf("got %q, want every unsubscription", got)
		}
	})
	t.Run("manual", func(t *testing.T) {
		ctx := ctxT(t)
		x := sock(t, zmq.XPub, zmq.WithXPubManual(true))
		x.Bind("inproc://xpub-manual")
		s := sock(t, zmq.Sub)
		s.Subscribe([]byte("asked"))
		s.Connect("inproc://xpub-manual")
		if got := xpubMsg(t, ctx, x); !bytes.Equal(got, []byte("\x01asked")) {
			t.Fatalf("got %q", got)
		}
		// SUB filters locally on its own subscriptions, so it needs the
		// granted one too, before anything is sent (over inproc a message
		// may be delivered at once). It arrives as a request as well.
		s.Subscribe([]byte("granted"))
		if got := xpubMsg(t, ctx, x); !bytes.Equal(got, []byte("\x01granted")) {
			t.Fatalf("got %q", got)
		}
		// The application grants a different topic than the one asked for.
		if err := x.Subscribe([]byte("granted")); err != nil {
			t.Fatal(err)
		}
		x.Send(ctx, zmq.NewMsgString("asked-topic"))
		x.Send(ctx, zmq.NewMsgString("granted-topic"))
		if m, err := s.Recv(ctx); err != nil || m.String() != "granted-topic" {
			t.Fatalf("got %v %v, want only the granted topic", m, err)
		}
	})
	t.Run("welcome", func(t *testing.T) {
		ctx := ctxT(t)
		x := sock(t, zmq.XPub, zmq.WithXPubWelcomeMessage([]byte("welcome")))
		x.Bind("tcp://127.0.0.1:0")
		s := sock(t, zmq.Sub)
		s.Subscribe([]byte("wel"))
		s.Connect(x.LastEndpoint())
		if m, err := s.Recv(ctx); err != nil || m.String() != "welcome" {
			t.Fatal(m, err)
		}
	})
	t.Run("nodrop", func(t *testing.T) {
		ctx := ctxT(t)
		x := sock(t, zmq.XPub, zmq.WithXPubNoDrop(true), zmq.WithSendHWM(1))
		x.Bind("inproc://xpub-nodrop")
		s := sock(t, zmq.Sub, zmq.WithRecvHWM(1))
		s.Subscribe(nil)
		s.Connect("inproc://xpub-nodrop")
		xpubMsg(t, ctx, x)
		// Nobody reads s: after the queues fill, Send waits instead of dropping.
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		sent := 0
		var err error
		for sent < 100 {
			if err = x.Send(short, zmq.NewMsgString("m")); err != nil {
				break
			}
			sent++
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("nodrop XPUB sent %d without blocking (%v)", sent, err)
		}
		for i := 0; i < sent; i++ {
			if _, err := s.Recv(ctx); err != nil {
				t.Fatalf("message %d of %d lost: %v", i, sent, err)
			}
		}
	})
}

// Connecting by host name works.
func TestConnectHostName(t *testing.T) {
	ctx := ctxT(t)
	pull := sock(t, zmq.Pull)
	pull.Bind("tcp://127.0.0.1:0")
	port := pull.LastEndpoint()[len("tcp://127.0.0.1:"):]
	push := sock(t, zmq.Push)
	if err := push.Connect("tcp://localhost:" + port); err != nil {
		t.Fatal(err)
	}
	push.Send(ctx, zmq.NewMsgString("by name"))
	if m, err := pull.Recv(ctx); err != nil || m.String() != "by name" {
		t.Fatal(m, err)
	}
}
