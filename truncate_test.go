package zmq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
)

// A ROUTER with WithTruncateOver gets an oversized request as its routing
// id and its size, without holding it, and can answer; the messages before
// and after are intact. Over tcp, ipc and inproc.
func TestTruncateOverRouter(t *testing.T) {
	const limit = 64 << 10
	big := bytes.Repeat([]byte{'x'}, 16<<20)
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc://*", "inproc://truncate-router"} {
		t.Run(ep[:3], func(t *testing.T) {
			ctx := ctxT(t)
			r := sock(t, zmq.Router, zmq.WithTruncateOver(limit))
			if err := r.Bind(ep); err != nil {
				t.Fatal(err)
			}
			d := sock(t, zmq.Dealer, zmq.WithRoutingID([]byte("client")))
			d.Connect(r.LastEndpoint())
			send := func(m zmq.Msg) {
				t.Helper()
				if err := d.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			send(zmq.NewMsgString("before"))
			// Crossed in a small frame, then a huge one, then small ones.
			send(zmq.NewMsg(make([]byte, 1000), bytes.Repeat([]byte{'y'}, limit), big, []byte("end")))
			// Crossed by small frames only.
			frames := make([][]byte, 100)
			for i := range frames {
				frames[i] = make([]byte, 1000)
			}
			send(zmq.NewMsg(frames...))
			send(zmq.NewMsgString("after"))

			want := []struct {
				s     string
				trunc int64
			}{
				{"client\tbefore", 0},
				{"client", int64(1000 + limit + len(big) + 3)},
				{"client", 100 * 1000},
				{"client\tafter", 0},
			}
			for _, w := range want {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				m, err := r.Recv(ctx)
				runtime.ReadMemStats(&after)
				if err != nil {
					t.Fatal(err)
				}
				if m.String() != w.s || m.Truncated != w.trunc {
					t.Fatalf("got %.40q truncated %d, want %q truncated %d", m.String(), m.Truncated, w.s, w.trunc)
				}
				// The 16 MiB frame never sits in memory (inproc: the sender's).
				if grew := after.TotalAlloc - before.TotalAlloc; ep[:3] != "inp" && grew > 4<<20 {
					t.Errorf("receiving %q allocated %d bytes", w.s, grew)
				}
			}
			if err := r.Send(ctx, zmq.NewMsgString("client", "too large")); err != nil {
				t.Fatal(err)
			}
			if m, err := d.Recv(ctx); err != nil || m.String() != "too large" {
				t.Fatal(m, err)
			}
		})
	}
}

// REP gets a truncated request with its envelope, so its reply reaches the
// REQ, which sees a truncated reply the same way.
func TestTruncateOverReqRep(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "inproc://truncate-rep"} {
		ctx := ctxT(t)
		rep := sock(t, zmq.Rep, zmq.WithTruncateOver(1000))
		if err := rep.Bind(ep); err != nil {
			t.Fatal(err)
		}
		req := sock(t, zmq.Req, zmq.WithTruncateOver(1000))
		req.Connect(rep.LastEndpoint())
		req.Send(ctx, zmq.NewMsg(make([]byte, 200<<10)))
		m, err := rep.Recv(ctx)
		if err != nil || len(m.Frames) != 0 || m.Truncated != 200<<10 {
			t.Fatalf("%s: REP got %d frames, truncated %d, %v", ep, len(m.Frames), m.Truncated, err)
		}
		rep.Send(ctx, zmq.NewMsg(make([]byte, 5000)))
		m, err = req.Recv(ctx)
		if err != nil || len(m.Frames) != 0 || m.Truncated != 5000 {
			t.Fatalf("%s: REQ got %d frames, truncated %d, %v", ep, len(m.Frames), m.Truncated, err)
		}
	}
}

// WithMaxMsgSize still cuts the connection over its limit; truncation is
// for what lies between the two. Under CURVE truncation works the same.
func TestTruncateOverWithMaxAndCurve(t *testing.T) {
	k := testKeys(t)
	for _, curve := range []bool{false, true} {
		t.Run(fmt.Sprint("curve=", curve), func(t *testing.T) {
			ctx := ctxT(t)
			var so, co []zmq.Option
			if curve {
				so = []zmq.Option{zmq.WithCurveServer(k.serverSec)}
				co = []zmq.Option{zmq.WithCurveClient(k.serverPub, k.clientPub, k.clientSec)}
			}
			pull := sock(t, zmq.Pull, append(so, zmq.WithTruncateOver(1000), zmq.WithMaxMsgSize(1<<20))...)
			ev := pull.Monitor(ctx)
			pull.Bind("tcp://127.0.0.1:0")
			push := sock(t, zmq.Push, co...)
			push.Connect(pull.LastEndpoint())
			push.Send(ctx, zmq.NewMsg(make([]byte, 500<<10)))
			push.Send(ctx, zmq.NewMsgString("small"))
			if m, err := pull.Recv(ctx); err != nil || len(m.Frames) != 0 || m.Truncated != 500<<10 {
				t.Fatalf("got %d frames, truncated %d, %v", len(m.Frames), m.Truncated, err)
			}
			if m, err := pull.Recv(ctx); err != nil || m.String() != "small" || m.Truncated != 0 {
				t.Fatal(m, err)
			}
			push.Send(ctx, zmq.NewMsg(make([]byte, 2<<20)))
			for {
				e := waitEvent(t, ctx, ev, zmq.EventDisconnected)
				if errors.Is(e.Err, zmq.ErrMsgTooLarge) || errors.Is(e.Err, zmtp.ErrFrameTooLarge) {
					break
				}
				t.Log(e.Err)
			}
		})
	}
}

// SUB cannot match a truncated message's topic: it drops it.
func TestTruncateOverSubDrops(t *testing.T) {
	ctx := ctxT(t)
	sub := sock(t, zmq.Sub, zmq.WithTruncateOver(100))
	sub.Subscribe(nil)
	sub.Bind("tcp://127.0.0.1:0")
	pub := sock(t, zmq.Pub)
	ev := pub.Monitor(ctx)
	pub.Connect(sub.LastEndpoint())
	waitEvent(t, ctx, ev, zmq.EventHandshakeSucceeded)
	// The subscription reaches the publisher some time after the
	// handshake: until then both messages are dropped by PUB.
	for {
		pub.Send(ctx, zmq.NewMsg(make([]byte, 1000)))
		pub.Send(ctx, zmq.NewMsgString("small"))
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		m, err := sub.Recv(short)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			continue
		}
		if err != nil || m.Truncated != 0 || m.String() != "small" {
			t.Fatal(m.Truncated, m, err)
		}
		return
	}
}
