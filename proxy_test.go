package zmq_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// Proxy tests, zmqgo on every side. The interop versions (a libzmq proxy
// between zmqgo sockets, a zmqgo proxy between libzmq sockets) are in
// interop_xpub_ipc_proxy_test.go.

// startProxy runs p until the test ends and returns Run's result channel.
// Registered after the sockets, its cleanup runs before theirs.
func startProxy(t *testing.T, p *zmq.SteerableProxy) chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			errc <- err // for a test that reads it after
		case <-time.After(long):
			t.Error("proxy Run did not return within", long, "of its context being cancelled")
		}
	})
	return errc
}

// proxyResult waits for Run's result and leaves it in errc (cap 1) for the
// cleanup of startProxy.
func proxyResult(t *testing.T, errc chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		errc <- err
		return err
	case <-time.After(long):
		t.Fatal("proxy Run did not return within", long)
	}
	return nil
}

func inprocName(t *testing.T, what string) string {
	return "inproc://" + t.Name() + "/" + what
}

// A ROUTER/DEALER queue between REQ clients and REP workers (the shared
// queue of the guide), over tcp, with statistics.
func TestProxyRouterDealerQueue(t *testing.T) {
	front := newSock(t, zmq.Router)
	back := newSock(t, zmq.Dealer)
	frontEP, backEP := bindTCP(t, front), bindTCP(t, back)
	for i := range 2 {
		w := newSock(t, zmq.Rep)
		connectTo(t, w, backEP)
		serveEcho(t, w, "w"+strconv.Itoa(i)+":")
	}
	p := zmq.NewSteerableProxy(front, back, nil)
	startProxy(t, p)

	const clients, rounds = 4, 25
	errs := make(chan error, clients)
	for c := range clients {
		req := newSock(t, zmq.Req)
		connectTo(t, req, frontEP)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), long)
			defer cancel()
			for i := range rounds {
				body := fmt.Sprintf("c%d-%d", c, i)
				if err := req.Send(ctx, zmq.NewMsgString(body, "x")); err != nil {
					errs <- err
					return
				}
				m, err := req.Recv(ctx)
				if err != nil {
					errs <- err
					return
				}
				if len(m.Frames) != 3 || string(m.Frames[1]) != body || string(m.Frames[2]) != "x" ||
					(string(m.Frames[0]) != "w0:" && string(m.Frames[0]) != "w1:") {
					errs <- fmt.Errorf("client %d round %d: reply %q", c, i, frames(m))
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := p.Stats()
	const n = clients * rounds
	if st.FrontendMsgsIn != n || st.BackendMsgsOut != n || st.BackendMsgsIn != n || st.FrontendMsgsOut != n {
		t.Fatalf("stats %+v: want %d messages each way", st, n)
	}
	// Request as the ROUTER sees it: 5-byte id, "", "cX-Y", "x".
	if st.FrontendBytesIn == 0 || st.FrontendBytesIn != st.BackendBytesOut || st.BackendBytesIn != st.FrontendBytesOut {
		t.Fatalf("stats %+v: bytes in and out differ", st)
	}
	if a := st.Array(); a[0] != st.FrontendMsgsIn || a[3] != st.FrontendBytesOut || a[4] != st.BackendMsgsIn || a[7] != st.BackendBytesOut {
		t.Fatalf("Array() = %v, not libzmq's order for %+v", a, st)
	}
}

// An XSUB/XPUB forwarder: data flows downstream, subscriptions upstream,
// unsubscriptions too.
func TestProxyXSubXPubForwarder(t *testing.T) {
	pub := newSock(t, zmq.Pub)
	pubEP := bindTCP(t, pub)
	xsub := newSock(t, zmq.XSub)
	connectTo(t, xsub, pubEP)
	xpub := newSock(t, zmq.XPub)
	xpubEP := bindTCP(t, xpub)
	p := zmq.NewSteerableProxy(xsub, xpub, nil)
	startProxy(t, p)

	sub := newSock(t, zmq.Sub)
	if err := sub.Subscribe([]byte("A")); err != nil {
		t.Fatal(err)
	}
	connectTo(t, sub, xpubEP)
	syncPubSub(t, pub, "A", sub)
	mustSend(t, pub, "B", "not wanted")
	mustSend(t, pub, "A", "data")
	wantFrames(t, recvNoSync(t, sub), "A", "data")
	if st := p.Stats(); st.BackendMsgsIn < 1 || st.FrontendMsgsOut != st.BackendMsgsIn {
		t.Fatalf("stats %+v: the subscription should have gone upstream", st)
	}

	// A second subscriber with its own topic: its subscription must go
	// upstream too, while the publisher still filters for the first.
	sub2 := newSock(t, zmq.Sub)
	if err := sub2.Subscribe([]byte("C")); err != nil {
		t.Fatal(err)
	}
	connectTo(t, sub2, xpubEP)
	syncPubSub(t, pub, "C", sub2)
	mustSend(t, pub, "C", "for sub2")
	wantFrames(t, recvNoSync(t, sub2), "C", "for sub2")

	// Unsubscribing stops the flow at the publisher: the XPUB passes the
	// cancel on (last subscriber of "C" gone), the XSUB sends it upstream.
	if err := sub2.Unsubscribe([]byte("C")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(long)
	for p.Stats().BackendMsgsIn < 3 { // \x01A, \x01C, \x00C
		if time.Now().After(deadline) {
			t.Fatalf("the cancel never reached the proxy: %+v", p.Stats())
		}
		time.Sleep(time.Millisecond) // polling a counter: no event to wait on
	}
	// Once the publisher has the cancel, a "C" message is not even sent:
	// publish C then A until an A arrives with no C counted before it.
	for {
		if time.Now().After(deadline) {
			t.Fatal("the publisher kept sending C after the unsubscription")
		}
		n := p.Stats().FrontendMsgsIn
		mustSend(t, pub, "C", "dropped upstream?")
		mustSend(t, pub, "A", "marker")
		m := recvNoSync(t, sub)
		wantFrames(t, m, "A", "marker")
		if p.Stats().FrontendMsgsIn == n+1 {
			break // only the marker crossed the proxy
		}
	}
}

// A PULL/PUSH streamer runs one way; capture sees a copy of everything.
func TestProxyStreamerCapture(t *testing.T) {
	in := newSock(t, zmq.Pull)
	out := newSock(t, zmq.Push)
	capt := newSock(t, zmq.Push)
	if err := in.Bind(inprocName(t, "in")); err != nil {
		t.Fatal(err)
	}
	if err := out.Bind(inprocName(t, "out")); err != nil {
		t.Fatal(err)
	}
	if err := capt.Bind(inprocName(t, "capture")); err != nil {
		t.Fatal(err)
	}
	p := zmq.NewSteerableProxy(in, out, capt)
	startProxy(t, p)

	src := newSock(t, zmq.Push)
	connectTo(t, src, inprocName(t, "in"))
	dst := newSock(t, zmq.Pull)
	connectTo(t, dst, inprocName(t, "out"))
	tap := newSock(t, zmq.Pull)
	connectTo(t, tap, inprocName(t, "capture"))

	const n = 100
	for i := range n {
		mustSend(t, src, "job", strconv.Itoa(i), "")
	}
	for i := range n {
		wantFrames(t, mustRecv(t, dst), "job", strconv.Itoa(i), "")
		wantFrames(t, mustRecv(t, tap), "job", strconv.Itoa(i), "")
	}
	st := p.Stats()
	want := zmq.ProxyStats{FrontendMsgsIn: n, BackendMsgsOut: n}
	for i := range n {
		size := uint64(len("job") + len(strconv.Itoa(i)))
		want.FrontendBytesIn += size
		want.BackendBytesOut += size
	}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

// A blocked Send holds the message: nothing is dropped while the consumer
// does not read, and the producer is pushed back on.
func TestProxyBackpressureNoDrops(t *testing.T) {
	// inproc: no kernel buffers, so the queues on the way are all there is.
	in := newSock(t, zmq.Pull, zmq.WithRecvHWM(10))
	out := newSock(t, zmq.Push, zmq.WithSendHWM(10))
	inEP, outEP := inprocName(t, "in"), inprocName(t, "out")
	if err := in.Bind(inEP); err != nil {
		t.Fatal(err)
	}
	if err := out.Bind(outEP); err != nil {
		t.Fatal(err)
	}
	startProxy(t, zmq.NewSteerableProxy(in, out, nil))
	src := newSock(t, zmq.Push, zmq.WithSendHWM(10))
	connectTo(t, src, inEP)
	dst := newSock(t, zmq.Pull, zmq.WithRecvHWM(10))
	connectTo(t, dst, outEP)

	const n = 3000
	sent := make(chan error, 1)
	var progress atomic.Int64
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), long)
		defer cancel()
		for i := range n {
			if err := src.Send(ctx, zmq.NewMsgString(strconv.Itoa(i))); err != nil {
				sent <- fmt.Errorf("send %d: %w", i, err)
				return
			}
			progress.Add(1)
		}
		sent <- nil
	}()
	// The producer must stall: the queues on the way hold far fewer than n.
	// (Proving that something does not happen takes a wait.)
	select {
	case err := <-sent:
		t.Fatalf("producer sent all %d messages with nobody reading (err %v): no backpressure", n, err)
	case <-time.After(200 * time.Millisecond):
	}
	t.Logf("producer stalled after %d of %d messages", progress.Load(), n)
	for i := range n {
		wantFrames(t, mustRecv(t, dst), strconv.Itoa(i))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// REP as frontend and REQ as backend work one request at a time: the proxy
// keeps each socket's turn.
func TestProxyRepReq(t *testing.T) {
	front := newSock(t, zmq.Rep)
	back := newSock(t, zmq.Req)
	frontEP := bindTCP(t, front)
	server := newSock(t, zmq.Rep)
	connectTo(t, back, bindTCP(t, server))
	serveEcho(t, server, "srv")
	startProxy(t, zmq.NewSteerableProxy(front, back, nil))

	for c := range 3 {
		req := newSock(t, zmq.Req)
		connectTo(t, req, frontEP)
		for i := range 10 {
			body := fmt.Sprintf("%d/%d", c, i)
			mustSend(t, req, body)
			wantFrames(t, mustRecv(t, req), "srv", body)
		}
	}
}

// Pause stops forwarding until Resume; Terminate makes Run return nil.
func TestProxySteering(t *testing.T) {
	in := newSock(t, zmq.Pull)
	out := newSock(t, zmq.Push)
	connectTo(t, in, inprocName(t, "src"))
	connectTo(t, out, inprocName(t, "dst"))
	src := newSock(t, zmq.Push)
	dst := newSock(t, zmq.Pull)
	if err := src.Bind(inprocName(t, "src")); err != nil {
		t.Fatal(err)
	}
	if err := dst.Bind(inprocName(t, "dst")); err != nil {
		t.Fatal(err)
	}
	p := zmq.NewSteerableProxy(in, out, nil)
	errc := startProxy(t, p)

	mustSend(t, src, "before")
	wantFrames(t, mustRecv(t, dst), "before")
	p.Pause()
	p.Pause() // twice is harmless
	for i := range 5 {
		mustSend(t, src, "paused", strconv.Itoa(i))
	}
	noMsg(t, dst, 100*time.Millisecond) // the absence of a message: no event to wait on
	p.Resume()
	p.Resume()
	for i := range 5 {
		wantFrames(t, mustRecv(t, dst), "paused", strconv.Itoa(i))
	}
	if st := p.Stats(); st.FrontendMsgsIn != 6 || st.BackendMsgsOut != 6 {
		t.Fatalf("stats %+v, want 6 in and out", st)
	}
	// Terminate while paused works too.
	p.Pause()
	p.Terminate()
	p.Terminate()
	if err := proxyResult(t, errc); err != nil {
		t.Fatalf("Run after Terminate = %v, want nil", err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, zmq.ErrState) {
		t.Fatalf("second Run = %v, want ErrState", err)
	}
	// The stats stay readable after Run.
	if st := p.Stats(); st.FrontendMsgsIn != 6 {
		t.Fatalf("stats after Run %+v", st)
	}
}

func TestProxyEnds(t *testing.T) {
	pair := func(t *testing.T) (*zmq.Socket, *zmq.Socket) {
		a, b := newSock(t, zmq.Router), newSock(t, zmq.Dealer)
		bindTCP(t, a)
		bindTCP(t, b)
		return a, b
	}
	t.Run("context", func(t *testing.T) {
		a, b := pair(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := zmq.Proxy(ctx, a, b, nil); !errors.Is(err, context.DeadlineExceeded) || err != ctx.Err() {
			t.Fatalf("Proxy = %v, want ctx.Err() = %v", err, ctx.Err())
		}
	})
	t.Run("close-frontend", func(t *testing.T) {
		a, b := pair(t)
		errc := make(chan error, 1)
		go func() { errc <- zmq.Proxy(context.Background(), a, b, nil) }()
		time.Sleep(20 * time.Millisecond) // let Run block in Recv (either order must work)
		a.Close()
		if err := proxyResult(t, errc); !errors.Is(err, zmq.ErrClosed) {
			t.Fatalf("Proxy = %v, want ErrClosed", err)
		}
	})
	t.Run("close-backend-before", func(t *testing.T) {
		a, b := pair(t)
		b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), long)
		defer cancel()
		if err := zmq.Proxy(ctx, a, b, nil); !errors.Is(err, zmq.ErrClosed) {
			t.Fatalf("Proxy = %v, want ErrClosed", err)
		}
	})
	t.Run("terminate-before-run", func(t *testing.T) {
		a, b := pair(t)
		p := zmq.NewSteerableProxy(a, b, nil)
		p.Terminate()
		if err := p.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})
	t.Run("no-direction", func(t *testing.T) {
		a, b := newSock(t, zmq.Pub), newSock(t, zmq.Push)
		if err := zmq.Proxy(context.Background(), a, b, nil); !errors.Is(err, zmq.ErrNotSupported) {
			t.Fatalf("Proxy(PUB, PUSH) = %v, want ErrNotSupported", err)
		}
	})
	t.Run("bad-capture", func(t *testing.T) {
		a, b := pair(t)
		c := newSock(t, zmq.Pull)
		if err := zmq.Proxy(context.Background(), a, b, c); !errors.Is(err, zmq.ErrNotSupported) {
			t.Fatalf("Proxy with a PULL capture = %v, want ErrNotSupported", err)
		}
	})
	t.Run("router-mandatory-error", func(t *testing.T) {
		// A send error ends the proxy as zmq_proxy returns -1.
		front := newSock(t, zmq.Dealer)
		back := newSock(t, zmq.Router, zmq.WithRouterMandatory(true))
		src := newSock(t, zmq.Dealer)
		connectTo(t, src, bindTCP(t, front))
		errc := make(chan error, 1)
		go func() { errc <- zmq.Proxy(timeout(t, long), front, back, nil) }()
		mustSend(t, src, "nobody", "x")
		if err := proxyResult(t, errc); !errors.Is(err, zmq.ErrHostUnreachable) {
			t.Fatalf("Proxy = %v, want ErrHostUnreachable", err)
		}
	})
}

// One socket as frontend and backend: what comes in goes back out.
func TestProxySameSocket(t *testing.T) {
	r := newSock(t, zmq.Router)
	ep := bindTCP(t, r)
	p := zmq.NewSteerableProxy(r, r, nil)
	startProxy(t, p)
	d := newSock(t, zmq.Dealer)
	connectTo(t, d, ep)
	// The ROUTER sees [id, "ping"] and sends it to id: an echo.
	mustSend(t, d, "ping")
	wantFrames(t, mustRecv(t, d), "ping")
	if st := p.Stats(); st.FrontendMsgsIn != 1 || st.BackendMsgsOut != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// SUB frontend, XPUB backend: the XPUB's subscription messages cannot go
// upstream through a SUB; they are read and dropped, data still flows.
func TestProxySubXPub(t *testing.T) {
	pub := newSock(t, zmq.Pub)
	sub := newSock(t, zmq.Sub)
	if err := sub.Subscribe(nil); err != nil {
		t.Fatal(err)
	}
	connectTo(t, sub, bindTCP(t, pub))
	xpub := newSock(t, zmq.XPub, zmq.WithXPubVerbose(true))
	xpubEP := bindTCP(t, xpub)
	p := zmq.NewSteerableProxy(sub, xpub, nil)
	startProxy(t, p)
	down := newSock(t, zmq.Sub)
	if err := down.Subscribe([]byte("t")); err != nil {
		t.Fatal(err)
	}
	connectTo(t, down, xpubEP)
	syncPubSub(t, pub, "t", down)
	if st := p.Stats(); st.BackendMsgsIn < 1 || st.FrontendMsgsOut != 0 {
		t.Fatalf("stats %+v: want the subscription read and not forwarded", st)
	}
}
