package reactor

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

func TestOptionsMapToSocketOptions(t *testing.T) {
	f := newTestFactory(t, WithLingerPeriod(0))
	// Every option at once gives a valid socket of every type.
	opts := []Option{
		WithIdentity([]byte("me")), WithHighWaterMark(5),
		WithTCPKeepalive(TCPKeepalive{Enable: true, Count: 3, Idle: time.Minute, Interval: 10 * time.Second}),
		WithReconnectInterval(50 * time.Millisecond), WithReconnectIntervalMax(time.Second),
		WithSendTimeout(time.Millisecond), WithRequestTimeout(time.Second), WithTagSeparator([]byte("|")),
		WithSocketOptions(zmq.WithMaxMsgSize(1 << 20)),
	}
	if _, err := NewPubConnection(f, opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReqConnection(f, opts...); err != nil {
		t.Fatal(err)
	}
	// Bad values are the engine's errors.
	if _, err := NewDealerConnection(f, nil, WithIdentity([]byte{0, 1})); !errors.Is(err, zmq.ErrInvalidOption) {
		t.Fatalf("identity starting with 0: %v", err)
	}
	if _, err := NewPushConnection(f, WithHighWaterMark(-1)); !errors.Is(err, zmq.ErrInvalidOption) {
		t.Fatalf("negative HWM: %v", err)
	}
	if _, err := NewPushConnection(f, Endpoint{Type: "listen", Address: "tcp://127.0.0.1:0"}); !errors.Is(err, ErrInvalidEndpoint) {
		t.Fatalf("bad endpoint type: %v", err)
	}
	if n := len(f.Connections()); n != 2 {
		t.Fatalf("connections: %d, want the 2 that were made", n)
	}
}

func TestHighWaterMarkIsAnError(t *testing.T) {
	f := newTestFactory(t, WithLingerPeriod(0))
	// Nobody listens: the messages queue for the connect endpoint, up to the mark.
	ln := must[*PullConnection](t)(NewPullConnection(f, nil, Bind("tcp://127.0.0.1:0")))
	addr := ln.Addr()
	ln.Shutdown()
	p := must[*PushConnection](t)(NewPushConnection(f, Connect(addr), WithHighWaterMark(5)))
	for i := range 5 {
		if err := p.Push([]byte{byte(i)}); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := p.Push([]byte("6")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("push past the mark: %v, want ErrQueueFull", err)
	}
	// A connection with no peer at all cannot send either.
	lonely := must[*DealerConnection](t)(NewDealerConnection(f, nil, Bind("tcp://127.0.0.1:0")))
	if err := lonely.SendMsg([]byte("x")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("DEALER without peers: %v, want ErrQueueFull", err)
	}
	// PUB drops by definition: no error.
	pub := must[*PubConnection](t)(NewPubConnection(f, Bind("tcp://127.0.0.1:0")))
	for range 10 {
		if err := pub.Publish([]byte("m"), []byte("t")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRouterIdentityAndUnknownRecipient(t *testing.T) {
	f := newTestFactory(t)
	got := make(chan string, 4)
	var router *RouterConnection
	router = must[*RouterConnection](t)(NewRouterConnection(f, func(sender []byte, parts [][]byte) {
		got <- string(sender) + ":" + string(parts[0])
		if err := router.SendMultipart(sender, [][]byte{[]byte("re"), parts[0]}); err != nil {
			t.Error(err)
		}
	}))
	if err := router.AddEndpoints(Bind("tcp://127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	replies := make(chan [][]byte, 4)
	d := must[*DealerConnection](t)(NewDealerConnection(f, func(parts [][]byte) { replies <- parts },
		Connect(router.Addr()), WithIdentity([]byte("alice"))))
	d.SendMsg([]byte("hi"))
	if g := recv(t, got, "message at router"); g != "alice:hi" {
		t.Fatalf("router got %q", g)
	}
	if r := recv(t, replies, "reply"); len(r) != 2 || string(r[0]) != "re" || string(r[1]) != "hi" {
		t.Fatalf("dealer got %q", r)
	}
	if err := router.SendMsg([]byte("nobody"), []byte("x")); !errors.Is(err, zmq.ErrHostUnreachable) {
		t.Fatalf("unknown recipient: %v, want ErrHostUnreachable", err)
	}
	if err := router.SendMultipart([]byte("alice"), nil); err == nil {
		t.Fatal("empty message: no error")
	}
}

func TestMessageHandlerPanicLoggedAndNextMessageHandled(t *testing.T) {
	var logs syncBuffer
	f := newTestFactory(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	got := make(chan string, 2)
	pull := must[*PullConnection](t)(NewPullConnection(f, func(parts [][]byte) {
		if string(parts[0]) == "bad" {
			panic("bad message")
		}
		got <- string(parts[0])
	}, Bind("tcp://127.0.0.1:0")))
	push := must[*PushConnection](t)(NewPushConnection(f, Connect(pull.Addr())))
	push.Push([]byte("bad"))
	push.Push([]byte("good"))
	if g := recv(t, got, "message after the panic"); g != "good" {
		t.Fatalf("got %q", g)
	}
	if !strings.Contains(logs.String(), "bad message") {
		t.Fatalf("panic not logged: %q", logs.String())
	}
}

func TestConnectionShutdown(t *testing.T) {
	f := newTestFactory(t)
	got := make(chan string, 10)
	pull := must[*PullConnection](t)(NewPullConnection(f, func(parts [][]byte) { got <- string(parts[0]) }, Bind("tcp://127.0.0.1:0")))
	push := must[*PushConnection](t)(NewPushConnection(f, Connect(pull.Addr())))
	push.Push([]byte("one"))
	recv(t, got, "first message")
	pull.Shutdown()
	pull.Shutdown()
	if err := pull.AddEndpoints(Bind("tcp://127.0.0.1:0")); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddEndpoints after Shutdown: %v", err)
	}
	push.Shutdown()
	if err := push.Push([]byte("two")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Shutdown: %v", err)
	}
	if n := len(f.Connections()); n != 0 {
		t.Fatalf("%d connections left", n)
	}
	// A bind that fails fails the constructor, and leaves nothing behind.
	a := must[*PullConnection](t)(NewPullConnection(f, nil, Bind("tcp://127.0.0.1:0")))
	if _, err := NewPullConnection(f, nil, Bind(a.Addr())); err == nil {
		t.Fatal("second bind to the same port: no error")
	}
	if n := len(f.Connections()); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// Linger from the factory: messages queued before Shutdown still go out.
func TestShutdownLingers(t *testing.T) {
	recvF := newTestFactory(t)
	got := make(chan string, 100)
	pull := must[*PullConnection](t)(NewPullConnection(recvF, func(parts [][]byte) { got <- string(parts[0]) }, Bind("tcp://127.0.0.1:0")))
	sendF := NewFactory(WithLingerPeriod(5 * time.Second))
	push := must[*PushConnection](t)(NewPushConnection(sendF, Connect(pull.Addr())))
	// Once the link is up. (Messages queued before it is up are lost at
	// Close, where libzmq would still connect and deliver them within the
	// linger period: an engine issue, reported.)
	push.Push([]byte("first"))
	recv(t, got, "first message")
	for range 50 {
		push.Push([]byte("m"))
	}
	sendF.Shutdown()
	for range 50 {
		recv(t, got, "lingered message")
	}
}
