package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// rawPeer is a bare DEALER talking the broker's protocol, as an attacker
// (or a pyzmq script) would.
type rawPeer struct {
	t    *testing.T
	sock *zmq.Socket
}

func dialRaw(t *testing.T, addr string, opts ...zmq.Option) *rawPeer {
	t.Helper()
	s, err := zmq.NewSocket(zmq.Dealer, append([]zmq.Option{zmq.WithLinger(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Connect(addr); err != nil {
		t.Fatal(err)
	}
	return &rawPeer{t: t, sock: s}
}

func (r *rawPeer) send(body string) {
	r.t.Helper()
	if err := r.sock.Send(testCtx(r.t), zmq.NewMsg([]byte(body))); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawPeer) recv() map[string]any {
	r.t.Helper()
	m, err := r.sock.Recv(testCtx(r.t))
	if err != nil {
		r.t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(m.Frames[len(m.Frames)-1], &v); err != nil {
		r.t.Fatal(err)
	}
	return v
}

// call sends body and returns the reply, which must be of type typ.
func (r *rawPeer) call(body, typ string) map[string]any {
	r.t.Helper()
	r.send(body)
	v := r.recv()
	if v["type"] != typ {
		r.t.Fatalf("%s: got %v, want a %s", body, v, typ)
	}
	return v
}

// Issue 17, attack 1: a plain client posing as a downstream broker. It
// announced alice's name (alice was then refused it), received messages
// for the names it announced, and flooded everyone with
// federated_broadcasts "from admin". Now a peer not admitted as a broker
// gets an error for each, counted and logged, and nothing else happens.
func TestFederationImpostor(t *testing.T) {
	ctx := testCtx(t)
	var logs syncBuffer
	b := startBroker(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	evil := dialRaw(t, b.Addr())
	if m := evil.call(`{"type":"register","node":"evil","routes":["alice","bob"]}`, TypeError); !strings.Contains(m["message"].(string), "not admitted") {
		t.Fatalf("announcement answered %v", m)
	}
	alice, aliceIn := client(t, b.Addr(), "alice") // the name is still free
	_, bobIn := client(t, b.Addr(), "bob")
	for _, msg := range []string{
		`{"type":"federated_broadcast","original_sender":"admin","route_path":["x"],"content":"obey"}`,
		`{"type":"message","destination":"bob","original_sender":"admin","route_path":["x"],"content":"obey"}`,
		`{"type":"routing_error","destination":"bob","original_sender":"admin","route_path":["x"],"error":"e","content":"obey"}`,
	} {
		evil.call(msg, TypeError)
	}
	// alice reaches bob directly, not through the impostor; bob got
	// nothing from "admin".
	if st, err := alice.Send(ctx, "bob", "hi"); err != nil || st != StatusDelivered {
		t.Fatalf("send: %q, %v", st, err)
	}
	if m := bobIn.next(t, TypeDirectMessage); m.From != "alice" {
		t.Fatalf("bob got %s", m.Raw)
	}
	select {
	case m := <-aliceIn:
		t.Fatalf("alice got %s", m.Raw)
	default:
	}
	st := b.Stats()
	if st.FederationRefused != 4 || st.Brokers != 0 || st.Routes != 0 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "refused a peer speaking as a broker") {
		t.Fatalf("not logged:\n%s", logs.String())
	}
}

// Federation admits the identities listed, and only them: a PLAIN user not
// in FederationPeers cannot announce routes even with valid credentials.
func TestFederationPeersListed(t *testing.T) {
	top := fedBroker(t, "top", []string{"east"})
	mallory := dialRaw(t, top.Addr(), zmq.WithPlainClient("mallory", "pw"))
	mallory.call(`{"type":"register","node":"east","routes":["alice"]}`, TypeError)
	east := dialRaw(t, top.Addr(), zmq.WithPlainClient("east", "pw"))
	east.send(`{"type":"register","node":"east","routes":["alice"]}`)
	waitRoutes(t, testCtx(t), top, "alice")
	if st := top.Stats(); st.FederationRefused != 1 || st.Brokers != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Even an admitted broker announces at most MaxRoutes names, each a valid
// name (200,000 were taken in the attack).
func TestAnnouncedRoutesBounded(t *testing.T) {
	h := newHarness(t, Config{Name: "top", FederationPeers: []string{"east"}, MaxRoutes: 100}, 0)
	h.users["E"] = "east"
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("n%d", i)
	}
	b, _ := json.Marshal(envelope{Type: TypeRegister, Node: "east", Routes: many})
	h.send("E", string(b))
	if m := h.replyType("E", TypeError); m["message"] != "register: more than 100 routes" {
		t.Fatal(m)
	}
	b, _ = json.Marshal(envelope{Type: TypeRegister, Node: "east", Routes: many[:50], Generation: 1, Part: 1, Parts: 2})
	h.send("E", string(b))
	b, _ = json.Marshal(envelope{Type: TypeRegister, Node: "east", Routes: many[50:], Generation: 1, Part: 2, Parts: 2})
	h.send("E", string(b))
	h.replyType("E", TypeError)
	if len(h.st.routes) != 0 {
		t.Fatalf("%d routes", len(h.st.routes))
	}
	errs := h.st.stats.Errors
	long := strings.Repeat("x", maxNameLen+1)
	h.send("E", `{"type":"register","node":"east","routes":["ok","`+long+`","bad\u0000"]}`)
	if len(h.st.routes) != 1 || h.st.routes["ok"] == nil || h.st.stats.Errors != errs+1 {
		t.Fatalf("routes %v, errors %d", h.st.routes, h.st.stats.Errors-errs)
	}
}

// Name authorization: each identity registers only the names its rules
// allow.
func TestNameRules(t *testing.T) {
	rules, err := ParseNameRules(strings.NewReader(`
# comment
alice: alice, alice-*
tSe}/:(/N:0PcPNAN$-pdiA.&S{U0Gyw?&Bw!EVX: sensor-*
*: guest-*, *-pub
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, name string
		ok       bool
	}{
		{"alice", "alice", true}, {"alice", "ALICE", true}, {"alice", "alice-2", true}, {"alice", "ａlice", true},
		{"alice", "bob", false}, {"alice", "alicex", false},
		{"tSe}/:(/N:0PcPNAN$-pdiA.&S{U0Gyw?&Bw!EVX", "sensor-1", true},
		{"tSe}/:(/N:0PcPNAN$-pdiA.&S{U0Gyw?&Bw!EVX", "alice", false},
		{"", "guest-1", true}, {"bob", "guest-x", true}, {"", "news-pub", true}, {"", "alice", false},
	} {
		if got := rules.Allowed(c.id, c.name); got != c.ok {
			t.Errorf("%q registering %q: %v, want %v", c.id, c.name, got, c.ok)
		}
	}
	if _, err := ParseNameRules(strings.NewReader("no colon here\n")); err == nil {
		t.Error("a line without a colon was accepted")
	}
	h := newHarness(t, Config{Names: rules}, 0)
	h.users["A"] = "alice"
	h.register("A", "alice-1")
	h.send("A", `{"type":"register","name":"bob"}`)
	if m := h.replyType("A", TypeError); m["message"] != `name "bob" is not allowed for user "alice"` {
		t.Fatal(m)
	}
	h.send("N", `{"type":"register","name":"bob"}`)
	if m := h.replyType("N", TypeError); m["message"] != `name "bob" is not allowed for an unauthenticated client` {
		t.Fatal(m)
	}
	if h.st.stats.NamesRefused != 2 || h.st.stats.Errors != 2 {
		t.Fatalf("stats %+v", h.st.stats)
	}
}

// pyCurve runs a pyzmq (libzmq) CURVE client with the given key pair
// against a CURVE broker: it registers each name in turn and prints each
// reply's type and message.
const pyCurve = `
import json, sys, zmq
addr, server, pub, sec = sys.argv[1:5]
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.curve_serverkey, s.curve_publickey, s.curve_secretkey = server.encode(), pub.encode(), sec.encode()
s.rcvtimeo = 20000
s.linger = 0
s.connect(addr)
for name in sys.argv[5:]:
    s.send(json.dumps({"type": "register", "name": name}).encode())
    try:
        r = json.loads(s.recv())
        print(r["type"], r.get("message", ""))
    except zmq.Again:
        print("timeout")
    sys.stdout.flush()
s.close()
ctx.term()
`

// pyNull is a libzmq NULL client: it reports whether its handshake with
// the broker failed (the monitor's events) before sending a register.
const pyNull = `
import sys, zmq
from zmq.utils.monitor import recv_monitor_message
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.linger = 0
m = s.get_monitor_socket()
m.rcvtimeo = 20000
s.connect(sys.argv[1])
s.send(b'{"type":"register","name":"sensor-9"}')
failed = (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
          zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_DISCONNECTED)
while True:
    ev = recv_monitor_message(m)["event"]
    if ev in failed:
        print("refused")
        break
    if ev == zmq.EVENT_HANDSHAKE_SUCCEEDED:
        print("handshake succeeded")
        break
sys.stdout.flush()
s.disable_monitor()
m.close()
s.close()
ctx.term()
`

// pyzmq needs Debian's interpreter; on CI a missing pyzmq is a failure.
func needPyzmq(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import zmq; assert zmq.has('curve')").CombinedOutput()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pyzmq with CURVE missing on CI: %v: %s", err, out)
		}
		t.Skipf("skipping: pyzmq with CURVE missing: %v: %s", err, bytes.TrimSpace(out))
	}
}

// Issue 15, item 4: a libzmq CURVE client registers the name its key is
// allowed and is refused another; a NULL client cannot reach a CURVE
// broker at all.
func TestCurveNamesLibzmq(t *testing.T) {
	needPyzmq(t)
	serverPub, serverSec, _ := zmq.NewCurveKeypair()
	clientPub, clientSec, _ := zmq.NewCurveKeypair()
	rules := NewNameRules()
	rules.Allow(clientPub.String(), "sensor-*")
	auth := zmq.NewAuthenticator()
	auth.AllowAnyCurveKey(true)
	b := startBroker(t, Config{Names: rules,
		Security: []zmq.Option{zmq.WithCurveServer(serverSec), zmq.WithZAPHandler(auth)}})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", pyCurve, b.Addr(), serverPub.String(), clientPub.String(),
		clientSec.String(), "sensor-1", "alice").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "registration_ack Welcome, sensor-1!\nerror name \"alice\" is not allowed for user \"" + clientPub.String() + "\"\n"
	if string(out) != want {
		t.Fatalf("pyzmq client got:\n%s\nwant:\n%s", out, want)
	}
	if st := b.Stats(); st.NamesRefused != 1 || st.Received != 2 {
		t.Fatalf("stats %+v", st)
	}

	// A libzmq NULL client: its handshake fails, nothing registered.
	out, err = exec.CommandContext(ctx, python, "-c", pyNull, b.Addr()).CombinedOutput()
	if err != nil || string(out) != "refused\n" {
		t.Fatalf("pyzmq NULL client: %v: %s", err, out)
	}
	if st := b.Stats(); st.Received != 2 { // the CURVE client's two registers, nothing of the NULL one
		t.Fatalf("stats %+v", st)
	}
	// A Go NULL client: told that no broker answered, and why.
	null, err := NewClient(b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	short, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	if _, err := null.Register(short, "sensor-2"); !errors.Is(err, ErrNoBroker) || !strings.Contains(err.Error(), "never connected") {
		t.Fatalf("a NULL client and a CURVE broker: %v", err)
	} else {
		t.Log(err)
	}
	// And the Go client with the right options gets in.
	c, err := NewClient(b.Addr(), WithCurve(serverPub, clientPub, clientSec))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, "sensor-3"); err != nil {
		t.Fatal(err)
	}
	if names := clientNames(b); names != "sensor-3" {
		t.Fatalf("clients %q", names)
	}
}

// waitEvent waits for an event of type typ on a monitor.
func waitEvent(t *testing.T, events <-chan zmq.Event, typ zmq.EventType) zmq.Event {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case e := <-events:
			if e.Type == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %v after %v", typ, waitTimeout)
		}
	}
}

// Issue 17, attack 3: with ROUTER handover on, a newcomer announcing a
// connected client's routing id took over its connection and its
// registration, and sent as it. The broker's ROUTER has handover off: the
// newcomer's connection is refused and the client keeps its own.
func TestHandoverRefused(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{})
	id := zmq.WithRoutingID([]byte("alice-id"))
	alice, _ := client(t, b.Addr(), "alice", WithSocketOptions(id))
	_, bobIn := client(t, b.Addr(), "bob")

	s, err := zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0), zmq.WithRoutingID([]byte("alice-id")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	events := s.Monitor(ctx)
	s.Connect(b.Addr())
	s.Send(ctx, zmq.NewMsg([]byte(`{"type":"direct_message","target":"bob","content":"fake"}`)))
	waitEvent(t, events, zmq.EventDisconnected) // the broker closed the newcomer's connection

	if st, err := alice.Send(ctx, "bob", "real"); err != nil || st != StatusDelivered {
		t.Fatalf("alice lost her connection: %q, %v", st, err)
	}
	if m := bobIn.next(t, TypeDirectMessage); m.Text() != "real" {
		t.Fatalf("bob got %s from %s", m.Raw, m.From)
	}
}

// A client-chosen routing id reused after its connection ended: the same
// identity carries on with its registration (a reconnecting client), any
// other identity starts unregistered, and the name is free again.
func TestRoutingIDReusedByAnotherIdentity(t *testing.T) {
	ctx := testCtx(t)
	b := fedBroker(t, "top", nil)
	rid := zmq.WithRoutingID([]byte("rid"))
	reg := `{"type":"register","name":"alice"}`
	// Each newcomer connects once the broker's ROUTER saw the previous
	// connection end; before, it would be refused (no handover).
	events := b.router.Monitor(ctx)
	gone := func() {
		t.Helper()
		for e := waitEvent(t, events, zmq.EventDisconnected); string(e.RoutingID) != "rid"; {
			e = waitEvent(t, events, zmq.EventDisconnected)
		}
	}
	alice := dialRaw(t, b.Addr(), zmq.WithPlainClient("alice", "pw"), rid)
	alice.call(reg, TypeRegistrationAck)
	alice.sock.Close()
	gone()
	// The same user again, under the same id: still alice.
	again := dialRaw(t, b.Addr(), zmq.WithPlainClient("alice", "pw"), rid)
	again.call(`{"type":"list_clients"}`, TypeClientList)
	if st := b.Stats(); st.Clients != 1 || st.TakenOver != 0 {
		t.Fatalf("stats %+v", st)
	}
	again.sock.Close()
	gone()
	mallory := dialRaw(t, b.Addr(), zmq.WithPlainClient("mallory", "pw"), rid)
	if m := mallory.call(`{"type":"direct_message","target":"alice","content":"x"}`, TypeError); m["message"] != "register first" {
		t.Fatal(m)
	}
	if st := b.Stats(); st.Clients != 0 || st.TakenOver != 1 {
		t.Fatalf("stats %+v", st)
	}
}
