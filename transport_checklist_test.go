package zmq_test

// Transport checklist (as mangos's transport tests): every pattern runs the
// same list over tcp, ipc and inproc - a basic exchange, a multipart
// message, empty frames, a large frame, and a reconnect after the bound
// side is closed and bound again. The pattern semantics themselves are in
// conformance_<pattern>_test.go; this checks that no transport changes them.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// checklistPattern: a binds (b's peer type), b connects; exchange sends
// frames from b and checks they arrive, plus the reply where the pattern
// has one.
type checklistPattern struct {
	name     string
	bound    zmq.Type
	dialer   zmq.Type
	ready    func(t *testing.T, bound, dialer *zmq.Socket) // after each (re)connect
	exchange func(t *testing.T, bound, dialer *zmq.Socket, frames []string)
}

// oneWay: the dialer sends, the bound side receives.
func oneWay(t *testing.T, bound, dialer *zmq.Socket, frames []string) {
	t.Helper()
	mustSend(t, dialer, frames...)
	wantFrames(t, mustRecv(t, bound), frames...)
}

// bothWays: the dialer sends, the bound side receives and sends it back.
func bothWays(t *testing.T, bound, dialer *zmq.Socket, frames []string) {
	t.Helper()
	oneWay(t, bound, dialer, frames)
	mustSend(t, bound, frames...)
	wantFrames(t, mustRecv(t, dialer), frames...)
}

// routed: a DEALER sends to a ROUTER, which answers through the routing id.
func routed(t *testing.T, router, dealer *zmq.Socket, frames []string) {
	t.Helper()
	mustSend(t, dealer, frames...)
	m := mustRecv(t, router)
	if len(m.Frames) < 1 {
		t.Fatal("ROUTER received no routing id")
	}
	id := string(m.Frames[0])
	wantFrames(t, zmq.Msg{Frames: m.Frames[1:]}, frames...)
	mustSend(t, router, append([]string{id}, frames...)...)
	wantFrames(t, mustRecv(t, dealer), frames...)
}

// published: the bound PUB or XPUB publishes, the dialing SUB or XSUB (that
// subscribed to everything in ready) receives.
func published(t *testing.T, pub, sub *zmq.Socket, frames []string) {
	t.Helper()
	mustSend(t, pub, frames...)
	wantFrames(t, recvNoSync(t, sub), frames...)
}

func subscribeAll(t *testing.T, pub, sub *zmq.Socket) {
	t.Helper()
	if sub.Type() == zmq.XSub {
		mustSend(t, sub, "\x01")
	} else if err := sub.Subscribe(nil); err != nil {
		t.Fatal(err)
	}
	syncPubSub(t, pub, "", sub)
}

var checklistPatterns = []checklistPattern{
	{name: "PAIR", bound: zmq.Pair, dialer: zmq.Pair, exchange: bothWays},
	{name: "PUSH-PULL", bound: zmq.Pull, dialer: zmq.Push, exchange: oneWay},
	{name: "REQ-REP", bound: zmq.Rep, dialer: zmq.Req, exchange: bothWays},
	{name: "DEALER-ROUTER", bound: zmq.Router, dialer: zmq.Dealer, exchange: routed},
	{name: "DEALER-DEALER", bound: zmq.Dealer, dialer: zmq.Dealer, exchange: bothWays},
	{name: "PUB-SUB", bound: zmq.Pub, dialer: zmq.Sub, ready: subscribeAll, exchange: published},
	{name: "XPUB-XSUB", bound: zmq.XPub, dialer: zmq.XSub, ready: subscribeAll, exchange: published},
}

var checklistN atomic.Int64

// checklistEndpoint returns an endpoint of the transport to bind, unique
// to this test run.
func checklistEndpoint(t *testing.T, transport string) string {
	switch transport {
	case "tcp":
		return "tcp://127.0.0.1:0"
	case "ipc":
		return "ipc://" + filepath.Join(t.TempDir(), "s")
	default:
		return fmt.Sprintf("inproc://checklist-%d", checklistN.Add(1))
	}
}

func TestTransportChecklist(t *testing.T) {
	large := strings.Repeat("L", 1<<20)
	cases := []struct {
		name   string
		frames []string
	}{
		{"basic", []string{"hello"}},
		{"multipart", []string{"one", "two", "three", "four"}},
		{"empty-frames", []string{"", "middle", ""}},
		{"large-frame", []string{"head", large}},
	}
	for _, transport := range []string{"tcp", "ipc", "inproc"} {
		for _, p := range checklistPatterns {
			t.Run(transport+"/"+p.name, func(t *testing.T) {
				bound := newSock(t, p.bound)
				if err := bound.Bind(checklistEndpoint(t, transport)); err != nil {
					t.Fatal(err)
				}
				ep := bound.LastEndpoint()
				dialer := newSock(t, p.dialer, zmq.WithReconnectInterval(10*time.Millisecond))
				ctx, cancel := context.WithTimeout(context.Background(), long)
				defer cancel()
				events := dialer.Monitor(ctx)
				connectTo(t, dialer, ep)
				if p.ready != nil {
					p.ready(t, bound, dialer)
				}
				for _, c := range cases {
					t.Run(c.name, func(t *testing.T) { p.exchange(t, bound, dialer, c.frames) })
				}
				t.Run("reconnect", func(t *testing.T) {
					if transport == "inproc" {
						t.Skip("inproc reports no connection events to wait on; its reconnect is TestInproc's")
					}
					up := zmq.EventHandshakeSucceeded
					waitEvent(t, ctx, events, up)
					if err := bound.Close(); err != nil {
						t.Fatal(err)
					}
					waitEvent(t, ctx, events, zmq.EventDisconnected)
					again := newSock(t, p.bound)
					if err := again.Bind(ep); err != nil {
						t.Fatalf("bind %s again: %v", ep, err)
					}
					waitEvent(t, ctx, events, up)
					if p.ready != nil {
						p.ready(t, again, dialer)
					}
					p.exchange(t, again, dialer, []string{"after", "reconnect"})
				})
			})
		}
	}
}
