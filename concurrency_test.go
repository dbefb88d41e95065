package zmq_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/ztest"
)

// TrySend and TryRecv never wait, and Send and Recv honour their context,
// whatever other goroutines are blocked in: on every type, with a Send and
// a Recv blocked in other goroutines (the REQ case of issue 13: a REQ with
// Immediate and nobody listening, whose blocked Send held a lock that
// TrySend and Recv then waited for).
func TestBlockingCallsDoNotBlockOthers(t *testing.T) {
	free, err := ztest.FreeTCPEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	const (
		tryMax = 100 * time.Millisecond // TrySend, TryRecv: at once (slack for a loaded machine)
		ctxD   = 100 * time.Millisecond // the context of Send and Recv
		ctxMax = 600 * time.Millisecond
	)
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			s := sock(t, typ, zmq.WithImmediate(true))
			if typ == zmq.Sub {
				s.Subscribe(nil)
			}
			if err := s.Connect(free); err != nil {
				t.Fatal(err)
			}
			bg, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(2)
				go func() { defer wg.Done(); s.Send(bg, zmq.NewMsgString("a", "b")) }()
				go func() { defer wg.Done(); s.Recv(bg) }()
			}
			defer wg.Wait()
			defer cancel()
			check := func(what string, max time.Duration, f func() error) {
				t.Helper()
				start := time.Now()
				err := f()
				if d := time.Since(start); d > max {
					t.Errorf("%s took %v (err %v) while other goroutines were blocked", what, d, err)
				}
			}
			for range 5 {
				check("TrySend", tryMax, func() error { return s.TrySend(zmq.NewMsgString("a", "b")) })
				check("TryRecv", tryMax, func() error { _, err := s.TryRecv(); return err })
				check("Send", ctxMax, func() error {
					ctx, c := context.WithTimeout(context.Background(), ctxD)
					defer c()
					return s.Send(ctx, zmq.NewMsgString("a", "b"))
				})
				check("Recv", ctxMax, func() error {
					ctx, c := context.WithTimeout(context.Background(), ctxD)
					defer c()
					_, err := s.Recv(ctx)
					return err
				})
			}
		})
	}
}

// TryRecv takes a waiting message every time (it used to pick at random
// between taking the REQ/REP receive turn and giving up).
func TestTryRecvTakesWaitingMessage(t *testing.T) {
	ctx := ctxT(t)
	rep := sock(t, zmq.Rep)
	rep.Bind("tcp://127.0.0.1:0")
	req := sock(t, zmq.Req)
	req.Connect(rep.LastEndpoint())
	for i := range 50 {
		if err := req.Send(ctx, zmq.NewMsgString("q")); err != nil {
			t.Fatal(err)
		}
		var m zmq.Msg
		var err error
		for {
			if m, err = rep.TryRecv(); !errors.Is(err, zmq.ErrWouldBlock) {
				break
			}
			if ctx.Err() != nil {
				t.Fatal("no request")
			}
		}
		if err != nil || m.String() != "q" {
			t.Fatal(i, m, err)
		}
		rep.Send(ctx, zmq.NewMsgString("r"))
		if _, err := req.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		// The request is surely queued once the reply is in: TryRecv on
		// the REP must then take it on the first try.
		if err := req.Send(ctx, zmq.NewMsgString("q2")); err != nil {
			t.Fatal(err)
		}
		for {
			m, err = rep.TryRecv()
			if err == nil {
				break
			}
			if !errors.Is(err, zmq.ErrWouldBlock) || ctx.Err() != nil {
				t.Fatal(err)
			}
		}
		rep.Send(ctx, zmq.NewMsgString("r2"))
		req.Recv(ctx)
	}
}

// The XPUB-manual scenario of issue 13: the application applies each
// subscription it receives while subscribers connect and go one after
// another. Run with -race.
func TestXPubManualChurnRace(t *testing.T) {
	ctx := ctxT(t)
	xpub := sock(t, zmq.XPub, zmq.WithXPubManual(true))
	if err := xpub.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ep := xpub.LastEndpoint()
	appCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := xpub.Recv(appCtx)
			if err != nil {
				return
			}
			f := m.Frames[0]
			if len(f) > 0 && f[0] == 1 {
				xpub.Subscribe(f[1:])
				xpub.Send(appCtx, zmq.NewMsg(f[1:], []byte("hello")))
				xpub.Unsubscribe(f[1:])
				xpub.Subscribe(f[1:])
			}
		}
	}()
	for i := range 200 {
		sub, err := zmq.NewSocket(zmq.Sub, zmq.WithLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		sub.Subscribe([]byte{'t', byte(i)})
		sub.Connect(ep)
		// It goes as soon as it has its welcome, while the application
		// is still (un)subscribing it.
		if _, err := sub.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		sub.Close()
	}
	stop()
	<-done
}

// Connections churn on every type while the application calls every
// method from several goroutines. Run with -race: it must be clean, and
// nothing may hang or panic.
func TestChurnWhileCalling(t *testing.T) {
	peers := map[zmq.Type]zmq.Type{
		zmq.Pair: zmq.Pair, zmq.Pub: zmq.Sub, zmq.Sub: zmq.Pub, zmq.XPub: zmq.XSub, zmq.XSub: zmq.XPub,
		zmq.Push: zmq.Pull, zmq.Pull: zmq.Push, zmq.Req: zmq.Rep, zmq.Rep: zmq.Req, zmq.Dealer: zmq.Router, zmq.Router: zmq.Dealer,
	}
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			var opts []zmq.Option
			if typ == zmq.XPub {
				opts = append(opts, zmq.WithXPubManual(true))
			}
			s := sock(t, typ, opts...)
			if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			ep := s.LastEndpoint()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			mon := s.Monitor(ctx)
			var wg sync.WaitGroup
			call := func(f func()) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						f()
					}
				}()
			}
			short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 5*time.Millisecond) }
			msg := func() zmq.Msg {
				if typ == zmq.Router {
					return zmq.NewMsgString("\x00\x00\x00\x00\x01", "x")
				}
				return zmq.NewMsgString("x")
			}
			call(func() { c, cc := short(); s.Send(c, msg()); cc() })
			call(func() { s.TrySend(msg()) })
			call(func() { c, cc := short(); s.Recv(c); cc() })
			call(func() { s.TryRecv() })
			call(func() { s.Subscribe([]byte("x")); s.Unsubscribe([]byte("x")); s.LastEndpoint() })
			call(func() {
				c, err := zmq.NewSocket(peers[typ], zmq.WithLinger(0))
				if err != nil {
					t.Error(err)
					return
				}
				c.Subscribe(nil)
				c.Connect(ep)
				sc, cc := short()
				c.Send(sc, zmq.NewMsgString("x"))
				c.Recv(sc)
				cc()
				c.Close()
			})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range mon {
				}
			}()
			wg.Wait()
		})
	}
}
