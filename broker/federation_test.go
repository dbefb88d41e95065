package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/zmqgo/zmq"
)

// The test federations log in with PLAIN: every user is accepted with the
// password "pw" and has its user name as identity; brokers log in upstream
// under their own name, which their upstream lists in FederationPeers.
var plainAny = zmq.ZAPHandlerFunc(func(_ context.Context, r *zmq.ZAPRequest) zmq.ZAPReply {
	user, pass, ok := r.PlainCredentials()
	if !ok || pass != "pw" {
		return zmq.ZAPReply{StatusCode: zmq.ZAPStatusDenied, StatusText: "bad password"}
	}
	return zmq.ZAPReply{StatusCode: zmq.ZAPStatusOK, StatusText: "OK", UserID: user}
})

// fedBroker starts a broker of a test federation: named name, admitting
// the brokers named in below, joining the brokers in up.
func fedBroker(t *testing.T, name string, below []string, up ...string) *Broker {
	t.Helper()
	return startBroker(t, fedConfig(name, below, up...))
}

func fedConfig(name string, below []string, up ...string) Config {
	return Config{Name: name, Upstream: up, FederationPeers: below,
		Security:         []zmq.Option{zmq.WithPlainServer(), zmq.WithZAPHandler(plainAny)},
		UpstreamSecurity: []zmq.Option{zmq.WithPlainClient(name, "pw")}}
}

// fedClient is client() for a broker of a test federation.
func fedClient(t *testing.T, addr, name string) (*Client, recorder) {
	t.Helper()
	return client(t, addr, name, WithPlain(name, "pw"))
}

// waitRoutes waits until b routes every name given to a broker below it.
func waitRoutes(t *testing.T, ctx context.Context, b *Broker, names ...string) {
	t.Helper()
	err := b.waitState(ctx, func(s *state) bool {
		for _, n := range names {
			if s.routes[n] == nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("%s cannot route to all of %v: %v", b.Name(), names, err)
	}
}

func path(p []string) string { return strings.Join(p, ">") }

// Three brokers: top, with east and west below it. A client on one
// reaches a client on any other, and a broadcast reaches everyone.
func TestFederation(t *testing.T) {
	ctx := testCtx(t)
	top := fedBroker(t, "top", []string{"east", "west"})
	east := fedBroker(t, "east", nil, top.Addr())
	west := fedBroker(t, "west", nil, top.Addr())
	alice, aliceIn := fedClient(t, east.Addr(), "alice")
	_, daveIn := fedClient(t, east.Addr(), "dave")
	bob, bobIn := fedClient(t, west.Addr(), "bob")
	carol, carolIn := fedClient(t, top.Addr(), "carol")
	waitRoutes(t, ctx, top, "alice", "dave", "bob")

	send := func(from *Client, to string, want string) {
		t.Helper()
		if st, err := from.Send(ctx, to, "hello "+to); err != nil || st != want {
			t.Fatalf("%s -> %s: %q, %v", from.Name(), to, st, err)
		}
	}
	check := func(in recorder, from, route string) {
		t.Helper()
		m := in.next(t, TypeDirectMessage)
		if m.From != from || path(m.RoutePath) != route || !strings.HasPrefix(m.Text(), "hello ") {
			t.Fatalf("got %s, want from %s via %s", m.Raw, from, route)
		}
	}
	send(alice, "bob", StatusForwarded)
	check(bobIn, "alice", "east>top>west")
	send(bob, "alice", StatusForwarded)
	check(aliceIn, "bob", "west>top>east")
	send(alice, "carol", StatusForwarded)
	check(carolIn, "alice", "east>top")
	send(carol, "bob", StatusForwarded)
	check(bobIn, "carol", "top>west")
	send(alice, "dave", StatusDelivered)
	check(daveIn, "alice", "")

	// Nobody anywhere: a routing error comes back.
	send(alice, "nobody", StatusForwarded)
	re := aliceIn.next(t, TypeRoutingError)
	if re.Destination != "alice" || re.OriginalSender != "top" || re.FailedDestination != "nobody" ||
		path(re.FailedRoute) != "east>top" || path(re.RoutePath) != "top>east" || re.Error != "no route to nobody" ||
		re.Text() != "hello nobody" {
		t.Fatalf("routing error %s", re.Raw)
	}

	// A broadcast reaches every client of the tree but its sender.
	if n, err := alice.Broadcast(ctx, "all hands"); err != nil || n != 1 {
		t.Fatalf("broadcast: %d, %v", n, err)
	}
	for _, c := range []struct {
		in    recorder
		route string
	}{{daveIn, ""}, {carolIn, "east>top"}, {bobIn, "east>top>west"}} {
		if m := c.in.next(t, TypeBroadcast); m.From != "alice" || path(m.RoutePath) != c.route || m.Text() != "all hands" {
			t.Fatalf("broadcast arrived as %s", m.Raw)
		}
	}
	if n, err := bob.Broadcast(ctx, "from the west"); err != nil || n != 0 {
		t.Fatalf("broadcast: %d, %v", n, err)
	}
	for _, in := range []recorder{aliceIn, daveIn, carolIn} {
		in.next(t, TypeBroadcast)
	}

	// Names below are taken at the top.
	var e *Error
	if _, err := carol.Register(ctx, "bob"); !errors.As(err, &e) {
		t.Fatalf("carol took bob's name: %v", err)
	}
	st := top.Stats()
	if st.Brokers != 2 || st.Routes != 3 || st.Clients != 1 || st.Forwarded == 0 {
		t.Fatalf("top stats %+v", st)
	}
	if st := east.Stats(); st.Upstreams != 1 {
		t.Fatalf("east stats %+v", st)
	}

	// West goes: its names go with it, and messages to them bounce.
	west.Close()
	if err := top.waitState(ctx, func(s *state) bool { return s.routes["bob"] == nil }); err != nil {
		t.Fatal(err)
	}
	send(alice, "bob", StatusForwarded)
	if re := aliceIn.next(t, TypeRoutingError); re.FailedDestination != "bob" || re.Error != "no route to bob" {
		t.Fatalf("routing error %s", re.Raw)
	}
}

// A broker whose upstream restarts announces itself to the new one.
func TestUpstreamRestart(t *testing.T) {
	ctx := testCtx(t)
	top := fedBroker(t, "top", []string{"east"})
	addr := top.Addr()
	east := fedBroker(t, "east", nil, addr)
	_, aliceIn := fedClient(t, east.Addr(), "alice")
	waitRoutes(t, ctx, top, "alice")
	top.Close()
	cfg := fedConfig("top", []string{"east"})
	cfg.Bind = []string{addr}
	top2 := startBroker(t, cfg)
	waitRoutes(t, ctx, top2, "alice")
	carol, _ := fedClient(t, addr, "carol")
	if _, err := carol.Send(ctx, "alice", "welcome back"); err != nil {
		t.Fatal(err)
	}
	if m := aliceIn.next(t, TypeDirectMessage); path(m.RoutePath) != "top>east" {
		t.Fatalf("got %s", m.Raw)
	}
}

// The routing table goes deeper than one level, and loops are cut.
func TestFederationDeeper(t *testing.T) {
	ctx := testCtx(t)
	top := fedBroker(t, "top", []string{"east", "west"})
	east := fedBroker(t, "east", []string{"east-1"}, top.Addr())
	east1 := fedBroker(t, "east-1", nil, east.Addr())
	west := fedBroker(t, "west", nil, top.Addr())
	e1, _ := fedClient(t, east1.Addr(), "e1")
	_, wIn := fedClient(t, west.Addr(), "w")
	waitRoutes(t, ctx, top, "e1", "w")
	waitRoutes(t, ctx, east, "e1")
	if _, err := e1.Send(ctx, "w", "across"); err != nil {
		t.Fatal(err)
	}
	if m := wIn.next(t, TypeDirectMessage); path(m.RoutePath) != "east-1>east>top>west" {
		t.Fatalf("got %s", m.Raw)
	}
	var names []string
	top.do(func() {
		for n, p := range top.st.routes {
			names = append(names, n+"->"+p.name)
		}
	})
	slices.Sort(names)
	if got := strings.Join(names, " "); got != "e1->east w->west" {
		t.Fatalf("top routes %s", got)
	}
	// A message whose path already holds a broker is dropped there.
	h := newHarness(t, Config{Name: "top", FederationPeers: []string{"east"}}, 0)
	h.users["x"] = "east"
	h.send("x", `{"type":"register","node":"east","routes":["b"]}`)
	h.send("x", `{"type":"message","destination":"a","original_sender":"b","route_path":["east","top"],"content":1}`)
	if h.st.stats.Errors != 1 || h.sink.take("x") != nil {
		t.Fatalf("loop not cut: %+v", h.st.stats)
	}
}
