package zmq_test

import (
	"context"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// The monitor reports a connection's life: listening, accepted, handshake,
// disconnected, closed; and connect, retry on the other side.
func TestMonitorEvents(t *testing.T) {
	ctx := ctxT(t)
	srv := sock(t, zmq.Router)
	sev := srv.Monitor(ctx)
	if err := srv.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ep := srv.LastEndpoint()
	if ev := waitEvent(t, ctx, sev, zmq.EventListening); ev.Endpoint != ep {
		t.Fatalf("listening on %q, want %q", ev.Endpoint, ep)
	}
	cli := sock(t, zmq.Dealer, zmq.WithRoutingID([]byte("cli")), zmq.WithReconnectInterval(20*time.Millisecond))
	cev := cli.Monitor(ctx)
	cli.Connect(ep)
	waitEvent(t, ctx, cev, zmq.EventConnectDelayed)
	if ev := waitEvent(t, ctx, cev, zmq.EventConnected); ev.PeerAddr != ep[len("tcp://"):] {
		t.Fatalf("connected to %q", ev.PeerAddr)
	}
	waitEvent(t, ctx, sev, zmq.EventAccepted)
	if ev := waitEvent(t, ctx, sev, zmq.EventHandshakeSucceeded); string(ev.RoutingID) != "cli" {
		t.Fatalf("server saw routing id %q, want cli", ev.RoutingID)
	}
	waitEvent(t, ctx, cev, zmq.EventHandshakeSucceeded)
	srv.Close()
	waitEvent(t, ctx, cev, zmq.EventDisconnected)
	if ev := waitEvent(t, ctx, cev, zmq.EventConnectRetried); ev.Interval < 20*time.Millisecond {
		t.Fatalf("retry interval %v", ev.Interval)
	}
	// The server's monitor ends with closed, then monitor stopped.
	waitEvent(t, ctx, sev, zmq.EventClosed)
	waitEvent(t, ctx, sev, zmq.EventMonitorStopped)
	if _, ok := <-sev; ok {
		t.Fatal("monitor channel not closed after MonitorStopped")
	}
	// A bind failure is an event too.
	other := sock(t, zmq.Pull)
	oev := other.Monitor(ctx)
	busy := sock(t, zmq.Pull)
	busy.Bind("tcp://127.0.0.1:0")
	if err := other.Bind(busy.LastEndpoint()); err == nil {
		t.Fatal("bind to a busy port succeeded")
	}
	if ev := waitEvent(t, ctx, oev, zmq.EventBindFailed); ev.Err == nil {
		t.Fatal("bind failed event without a reason")
	}
}

// A monitor nobody reads never slows the socket; lost events are counted.
func TestMonitorSlowReaderDropsAndCounts(t *testing.T) {
	ctx := ctxT(t)
	s := sock(t, zmq.Pull)
	mctx, stop := context.WithCancel(ctx)
	ev := s.Monitor(mctx)
	for i := 0; i < 300; i++ {
		s.Bind("tcp://127.0.0.1:0") // 300 listening events, 256 fit
	}
	stop()
	var last zmq.Event
	n := 0
	for e := range ev {
		last = e
		n++
	}
	if last.Type != zmq.EventMonitorStopped || last.Dropped != 300-256 {
		t.Fatalf("last event %v with %d dropped after %d events; want monitor stopped with 44 dropped", last.Type, last.Dropped, n)
	}
}
