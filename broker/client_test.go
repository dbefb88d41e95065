package broker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// Issue 16 item 5: Register against an address where nothing listens said
// only "context deadline exceeded". Now it says no broker answered, and
// that no connection was ever made.
func TestClientNoBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tcp://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = c.Register(ctx, "alice")
	if !errors.Is(err, ErrNoBroker) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "never connected") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("register: %v", err)
	}
	t.Log(err)
}

// Issue 17 item 5 and issue 16 item 5: a message over the broker's limit
// cost the connection; the request then timed out, the next one paired
// with the lost request's reply, and the client had silently lost its
// registration. Now the client knows the limit from registration_ack and
// refuses at once; and when a connection is cut anyway, the request fails
// at once saying so, the client registers again, and the next request
// gets its own reply.
func TestClientOversized(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{MaxMsgSize: 4096})
	alice, _ := client(t, b.Addr(), "alice")
	_, bobIn := client(t, b.Addr(), "bob")
	big := strings.Repeat("x", 5000)
	start := time.Now()
	if _, err := alice.Broadcast(ctx, big); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "the limit is 4096") {
		t.Fatalf("broadcast: %v", err)
	}
	if _, err := alice.Send(ctx, "bob", big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("send: %v", err)
	}

	// A client that does not know the limit: the broker cuts the
	// connection of a message over twice it.
	alice.maxSize.Store(0)
	huge := strings.Repeat("x", 1<<20)
	if _, err := alice.Send(ctx, "bob", huge); !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("send: %v", err)
	}
	if d := time.Since(start); d > waitTimeout/2 {
		t.Fatalf("failing took %v", d)
	}
	// Reconnected and registered again; the next request gets its own reply.
	if st, err := alice.Send(ctx, "bob", "small"); err != nil || st != StatusDelivered {
		t.Fatalf("send after the cut: %q, %v", st, err)
	}
	if m := bobIn.next(t, TypeDirectMessage); m.From != "alice" || m.Text() != "small" {
		t.Fatalf("bob got %s", m.Raw)
	}
	if alice.Name() != "alice" || clientNames(b) != "alice,bob" {
		t.Fatalf("name %q, clients %s", alice.Name(), clientNames(b))
	}
}

// Registering again after a reconnection can fail: here the restarted
// broker no longer allows the name. Name says so, and the requests that
// need a registration fail with an error that tells why.
func TestClientReRegisterRefused(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{})
	addr := b.Addr()
	alice, _ := client(t, addr, "alice")
	b.Close()
	rules := NewNameRules()
	rules.Allow(AnyIdentity, "bob")
	startBroker(t, Config{Bind: []string{addr}, Names: rules})
	// The first request after the reconnection: the register went before
	// it. (A request sent before the client saw the old connection break
	// fails with ErrConnectionLost.)
	for {
		_, err := alice.List(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatal(err)
		}
	}
	if alice.Name() != "" {
		t.Fatalf("name %q", alice.Name())
	}
	_, err := alice.Send(ctx, "bob", "hi")
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), `registering again as "alice" failed`) ||
		!strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("send: %v", err)
	}
}

// Issue 16 item 9: times in the Go API are time.Time (the wire keeps the
// seed's float seconds).
func TestClientInfoTimes(t *testing.T) {
	ctx := testCtx(t)
	before := time.Now()
	b := startBroker(t, Config{})
	alice, aliceIn := client(t, b.Addr(), "alice")
	bob, _ := client(t, b.Addr(), "bob")
	if _, err := bob.Send(ctx, "alice", "hi"); err != nil {
		t.Fatal(err)
	}
	if m := aliceIn.next(t, TypeDirectMessage); m.Time.Before(before.Add(-time.Millisecond)) || time.Since(m.Time) > time.Minute {
		t.Fatalf("message time %v", m.Time)
	}
	list, err := alice.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	within := func(tm time.Time) bool {
		return !tm.Before(before.Add(-time.Millisecond)) && !tm.After(after.Add(time.Millisecond))
	}
	for _, infos := range [][]ClientInfo{list, b.Clients()} {
		if len(infos) != 2 || !within(infos[0].ConnectedSince) || !within(infos[0].LastActivity) ||
			infos[0].LastActivity.Before(infos[0].ConnectedSince) {
			t.Fatalf("%+v", infos)
		}
	}
	// Encoded, it is the wire's entry.
	js, _ := json.Marshal(ClientInfo{Name: "x", ConnectedSince: time.Unix(1700000000, 500000000), MessageCount: 2})
	if string(js) != `{"name":"x","connected_since":1700000000.5,"last_activity":0,"message_count":2}` {
		t.Fatalf("%s", js)
	}
	var back ClientInfo
	if err := json.Unmarshal(js, &back); err != nil || !back.ConnectedSince.Equal(time.Unix(1700000000, 500000000)) || !back.LastActivity.IsZero() {
		t.Fatalf("%+v, %v", back, err)
	}
}

// A reply carrying a request_id pairs with that request only: a reply to
// a request that already failed (its connection broke) answers nothing,
// and requests it skips lost theirs.
func TestResolveByID(t *testing.T) {
	c := &Client{log: slog.New(slog.DiscardHandler)}
	mk := func(id uint64, want string) *call {
		cl := &call{id: id, want: want, done: make(chan result, 1)}
		c.pending = append(c.pending, cl)
		return cl
	}
	a, b := mk(5, TypePong), mk(6, TypeClientList)
	if !c.resolve(&wire{Message: Message{Type: TypePong}, RequestID: json.RawMessage("3")}) || len(c.pending) != 2 {
		t.Fatalf("a stale reply was taken: %d pending", len(c.pending))
	}
	c.resolve(&wire{Message: Message{Type: TypeClientList}, RequestID: json.RawMessage("6")})
	if r := <-a.done; !errors.Is(r.err, ErrNoReply) {
		t.Fatalf("a: %+v", r)
	}
	if r := <-b.done; r.w == nil || r.w.Type != TypeClientList {
		t.Fatalf("b: %+v", r)
	}
}

// The broker echoes a request's request_id in its reply (a short one
// only); without one the reply is the seed's.
func TestRequestIDEchoed(t *testing.T) {
	h := newHarness(t, Config{}, 0)
	h.register("A", "alice")
	h.register("B", "bob")
	h.send("A", `{"request_id":7,"type":"direct_message","target":"bob","content":1}`)
	h.sink.take("B")
	if got := string(h.sink.take("A")[0]); got != `{"request_id":7,"status":"delivered","target":"bob","type":"delivery_confirmation"}` {
		t.Fatal(got)
	}
	h.send("A", `{"request_id":"`+strings.Repeat("x", 100)+`","type":"direct_message","target":"nobody","content":1}`)
	if got := string(h.sink.take("A")[0]); strings.Contains(got, "request_id") {
		t.Fatal(got)
	}
	h.send("A", `{"request_id":"r1","type":"register","name":"alice","limits":true}`)
	if got := string(h.sink.take("A")[0]); got != `{"client_id":"A","max_msg_size":262144,"message":"Welcome, alice!","request_id":"r1","status":"success","type":"registration_ack"}` {
		t.Fatal(got)
	}
}
