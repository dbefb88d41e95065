package reactor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zmqgo/zmq"
)

// fakeReq makes a ReqConnection over a fake socket inside a bubble.
func fakeReq(t *testing.T, hwm int, opts ...Option) (*Factory, *ReqConnection, *fakeSocket, *syncBuffer) {
	t.Helper()
	var logs syncBuffer
	n := newFakeNet(hwm)
	f := NewFactory(withSocketMaker(n.maker), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	r, err := NewReqConnection(f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f, r, <-n.socks, &logs
}

// request reads what the connection sent and checks the txZMQ envelope.
func request(t *testing.T, s *fakeSocket) (id []byte, parts [][]byte) {
	t.Helper()
	m := <-s.out
	if len(m.Frames) < 2 || len(m.Frames[0]) != 16 || len(m.Frames[1]) != 0 {
		t.Fatalf("request on the wire: %q, want [16-byte id, \"\", parts...]", m.Frames)
	}
	if v := m.Frames[0][6] >> 4; v != 4 {
		t.Fatalf("request id %x is not a version-4 UUID", m.Frames[0])
	}
	return m.Frames[0], m.Frames[2:]
}

func TestRequestTimeoutFromContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, r, s, logs := fakeReq(t, 10)
		defer f.Shutdown()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		fu := r.SendMsg(ctx, []byte("aaa"))
		id, _ := request(t, s)
		_, err := fu.Wait(context.Background())
		if !errors.Is(err, ErrRequestTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want ErrRequestTimeout", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Fatalf("timed out after %v, want 50ms", d)
		}
		// The slow reply (txZMQ's test: 0.1 s) is dropped.
		time.Sleep(50 * time.Millisecond)
		s.in <- zmq.NewMsg(id, []byte{}, []byte("aaa"))
		synctest.Wait()
		if r.Pending() != 0 {
			t.Fatalf("pending after timeout: %d", r.Pending())
		}
		if !strings.Contains(logs.String(), "late or unknown reply") {
			t.Fatalf("late reply not logged: %q", logs.String())
		}
	})
}

func TestRequestDefaultTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, r, s, _ := fakeReq(t, 10, WithRequestTimeout(time.Second))
		defer f.Shutdown()
		start := time.Now()
		fu := r.SendMsg(context.Background(), []byte("x"))
		request(t, s)
		// A context deadline overrides the default, later or earlier.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		long := r.SendMsg(ctx, []byte("y"))
		longID, _ := request(t, s)

		if _, err := fu.Wait(context.Background()); !errors.Is(err, ErrRequestTimeout) {
			t.Fatalf("got %v, want ErrRequestTimeout", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("default timeout after %v, want 1s", d)
		}
		time.Sleep(time.Second) // 2 s: past the default, before the deadline
		s.in <- zmq.NewMsg(longID, []byte{}, []byte("late but in time"))
		reply, err := long.Wait(context.Background())
		if err != nil || len(reply) != 1 || string(reply[0]) != "late but in time" {
			t.Fatalf("reply within the context deadline: %q, %v", reply, err)
		}
	})
}

func TestRequestCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, r, s, _ := fakeReq(t, 10)
		defer f.Shutdown()
		fu := r.SendMsg(context.Background(), []byte("aaa"))
		id, _ := request(t, s)
		got := make(chan error, 1)
		fu.Then(func(_ [][]byte, err error) { got <- err })
		if !fu.Cancel() {
			t.Fatal("Cancel of a pending request: got false")
		}
		if fu.Cancel() {
			t.Fatal("second Cancel: got true")
		}
		if err := <-got; !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("callback got %v, want ErrCanceled", err)
		}
		s.in <- zmq.NewMsg(id, []byte{}, []byte("too late"))
		synctest.Wait()
		if r.Pending() != 0 {
			t.Fatal("cancelled request still pending")
		}

		// Cancelling the context cancels the request too.
		ctx, cancel := context.WithCancel(context.Background())
		fu2 := r.SendMsg(ctx, []byte("bbb"))
		request(t, s)
		cancel()
		if _, err := fu2.Wait(context.Background()); !errors.Is(err, ErrCanceled) {
			t.Fatalf("context cancelled: got %v, want ErrCanceled", err)
		}
		// A context already done fails at once, sending nothing.
		fu3 := r.SendMsg(ctx, []byte("ccc"))
		if _, err := fu3.Wait(context.Background()); !errors.Is(err, ErrCanceled) {
			t.Fatalf("done context: got %v", err)
		}
		synctest.Wait()
		if len(s.out) != 0 {
			t.Fatal("a request with a done context was sent")
		}
	})
}

func TestRequestRepliesOutOfOrderAndCallbacksOnLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, r, s, _ := fakeReq(t, 10)
		defer f.Shutdown()
		var order []string // loop only
		done := make(chan struct{})
		var futures []*Future
		ids := map[string][]byte{}
		for _, name := range []string{"a", "b", "c"} {
			fu := r.SendMsg(context.Background(), []byte(name))
			id, parts := request(t, s)
			ids[string(parts[0])] = id
			fu.Then(func(reply [][]byte, err error) {
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				order = append(order, name+"="+string(bytes.Join(reply, []byte(","))))
				if len(order) == 3 {
					close(done)
				}
			})
			futures = append(futures, fu)
		}
		if r.Pending() != 3 {
			t.Fatalf("pending: %d, want 3", r.Pending())
		}
		for _, name := range []string{"c", "a", "b"} {
			s.in <- zmq.NewMsg(ids[name], []byte{}, []byte("re"), []byte(name))
			synctest.Wait()
		}
		<-done
		onLoop(t, f, func() {
			if got := strings.Join(order, " "); got != "c=re,c a=re,a b=re,b" {
				t.Errorf("callbacks: %s", got)
			}
		})
		// Then on a completed future still runs, on the loop.
		again := make(chan string)
		futures[0].Then(func(reply [][]byte, _ error) { again <- string(reply[1]) })
		if got := <-again; got != "a" {
			t.Fatalf("Then after completion: %q", got)
		}
		// A malformed reply is dropped.
		s.in <- zmq.NewMsg([]byte("no envelope"))
		synctest.Wait()
	})
}

func TestShutdownFailsOutstandingRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, r, s, _ := fakeReq(t, 10)
		fu := r.SendMsg(context.Background(), []byte("aaa"))
		request(t, s)
		f.Shutdown()
		if _, err := fu.Wait(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v, want ErrClosed", err)
		}
		if _, err := r.SendMsg(context.Background()).Wait(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("SendMsg after shutdown: %v", err)
		}
	})
}

func TestSendQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(2)
		f := NewFactory(withSocketMaker(n.maker))
		defer f.Shutdown()
		p, err := NewPushConnection(f)
		if err != nil {
			t.Fatal(err)
		}
		s := <-n.socks
		for i := range 2 {
			if err := p.Push([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		if err := p.Push([]byte("3")); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("push at the mark: got %v, want ErrQueueFull", err)
		}
		if time.Since(start) != 0 {
			t.Fatal("default send does not wait")
		}

		// With a send timeout: room made in time is used; none, and it fails
		// when the timeout is over.
		w, err := NewPushConnection(f, WithSendTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ws := <-n.socks
		w.Push([]byte("1"))
		w.Push([]byte("2"))
		go func() {
			time.Sleep(500 * time.Millisecond)
			<-ws.out
		}()
		start = time.Now()
		if err := w.Push([]byte("3")); err != nil {
			t.Fatalf("room within the timeout: %v", err)
		}
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Fatalf("waited %v, want 500ms", d)
		}
		start = time.Now()
		if err := w.Push([]byte("4")); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("no room: got %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("failed after %v, want 1s", d)
		}
		_ = s
	})
}

func TestSubFormsAndSeparator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(10)
		f := NewFactory(withSocketMaker(n.maker))
		defer f.Shutdown()
		got := make(chan string, 10)
		sub, err := NewSubConnection(f, func(message, tag []byte) { got <- string(tag) + "|" + string(message) })
		if err != nil {
			t.Fatal(err)
		}
		s := <-n.socks
		sub.Subscribe([]byte("t"))
		sub.Unsubscribe([]byte("t"))
		for _, m := range []zmq.Msg{
			zmq.NewMsgString("tag\x00msg\x00with nul"), // txZMQ form: split at the first separator
			zmq.NewMsgString("tag", "two\x00frames"),   // [tag, message]
			zmq.NewMsgString("no separator"),
			zmq.NewMsgString("a\x00b", "c", "d"), // other multipart: first frame, as txZMQ
		} {
			s.in <- m
		}
		want := []string{"tag|msg\x00with nul", "tag|two\x00frames", "|no separator", "a|b"}
		for _, w := range want {
			if g := <-got; g != w {
				t.Fatalf("got %q, want %q", g, w)
			}
		}
		if strings.Join(s.subs, ",") != "+t,-t" {
			t.Fatalf("subscriptions: %v", s.subs)
		}

		pub, err := NewPubConnection(f, WithTagSeparator([]byte(" | ")))
		if err != nil {
			t.Fatal(err)
		}
		ps := <-n.socks
		pub.Publish([]byte("msg"), []byte("tag"))
		if m := <-ps.out; len(m.Frames) != 1 || string(m.Frames[0]) != "tag | msg" {
			t.Fatalf("publish with separator: %q", m.Frames)
		}
		sub2, _ := NewSubConnection(f, func(message, tag []byte) { got <- string(tag) + "/" + string(message) }, WithTagSeparator([]byte(" | ")))
		s2 := <-n.socks
		s2.in <- zmq.NewMsgString("x | y | z")
		if g := <-got; g != "x/y | z" {
			t.Fatalf("custom separator split: %q", g)
		}
		_ = sub2
	})
}

func TestRepEnvelopes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(10)
		f := NewFactory(withSocketMaker(n.maker))
		defer f.Shutdown()
		type req struct {
			id    string
			parts [][]byte
		}
		got := make(chan req, 10)
		rep, err := NewRepConnection(f, func(id []byte, parts [][]byte) { got <- req{string(id), parts} })
		if err != nil {
			t.Fatal(err)
		}
		s := <-n.socks
		// txZMQ REQ through a proxy: [peer, hop, id, "", parts...].
		s.in <- zmq.NewMsgString("peer", "hop", "ID1", "", "a", "b")
		// A plain REQ socket: [peer, "", parts...]: the id is the peer.
		s.in <- zmq.NewMsgString("plain", "", "c")
		// No delimiter: dropped.
		s.in <- zmq.NewMsgString("peer", "junk")
		r1, r2 := <-got, <-got
		if r1.id != "ID1" || len(r1.parts) != 2 || r2.id != "plain" || string(r2.parts[0]) != "c" {
			t.Fatalf("requests: %+v %+v", r1, r2)
		}
		if err := rep.Reply([]byte("ID1"), []byte("x")); err != nil {
			t.Fatal(err)
		}
		if m := <-s.out; zmq.NewMsg(m.Frames...).String() != "peer\thop\tID1\t\tx" {
			t.Fatalf("reply: %q", m.Frames)
		}
		rep.Reply([]byte("plain"), []byte("y"))
		if m := <-s.out; zmq.NewMsg(m.Frames...).String() != "plain\t\ty" {
			t.Fatalf("reply to plain REQ: %q", m.Frames)
		}
		if err := rep.Reply([]byte("ID1")); !errors.Is(err, ErrUnknownRequest) {
			t.Fatalf("second reply: %v, want ErrUnknownRequest", err)
		}
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("a request without delimiter reached the handler")
		}
	})
}
