package zmq_test

// Conformance: connect before bind and reconnection, for every lossless pattern.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/ztest"
)

// ------------------------------------------- connect order and reconnection

type pattern struct {
	name       string
	send, recv zmq.Type
	sendOpts   []zmq.Option
	recvOpts   []zmq.Option
}

var lossless = []pattern{
	{"PUSH-PULL", zmq.Push, zmq.Pull, nil, nil},
	{"DEALER-DEALER", zmq.Dealer, zmq.Dealer, nil, nil},
	{"DEALER-ROUTER", zmq.Dealer, zmq.Router, []zmq.Option{zmq.WithRoutingID([]byte("D"))}, nil},
	{"PAIR-PAIR", zmq.Pair, zmq.Pair, nil, nil},
}

// strip removes what the receiving type adds (ROUTER's routing id).
func strip(typ zmq.Type, m zmq.Msg) zmq.Msg {
	if typ == zmq.Router {
		return zmq.Msg{Frames: m.Frames[1:]}
	}
	return m
}

func TestConnectBeforeBind(t *testing.T) {
	for _, pt := range lossless {
		t.Run(pt.name, func(t *testing.T) {
			ep, err := ztest.FreeTCPEndpoint()
			if err != nil {
				t.Fatal(err)
			}
			s := newSock(t, pt.send, pt.sendOpts...)
			connectTo(t, s, ep)
			for i := 0; i < 10; i++ {
				mustSend(t, s, "early", fmt.Sprint(i))
			}
			r := newSock(t, pt.recv, pt.recvOpts...)
			if err := r.Bind(ep); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 10; i++ {
				wantFrames(t, strip(pt.recv, mustRecv(t, r)), "early", fmt.Sprint(i))
			}
		})
	}
	t.Run("REQ-REP", func(t *testing.T) {
		ep, err := ztest.FreeTCPEndpoint()
		if err != nil {
			t.Fatal(err)
		}
		req := newSock(t, zmq.Req)
		connectTo(t, req, ep)
		mustSend(t, req, "early")
		rep := newSock(t, zmq.Rep)
		if err := rep.Bind(ep); err != nil {
			t.Fatal(err)
		}
		wantFrames(t, mustRecv(t, rep), "early")
		mustSend(t, rep, "reply")
		wantFrames(t, mustRecv(t, req), "reply")
	})
	t.Run("SUB-PUB", func(t *testing.T) {
		ep, err := ztest.FreeTCPEndpoint()
		if err != nil {
			t.Fatal(err)
		}
		sub := newSock(t, zmq.Sub)
		sub.Subscribe([]byte("t"))
		connectTo(t, sub, ep)
		pub := newSock(t, zmq.Pub)
		if err := pub.Bind(ep); err != nil {
			t.Fatal(err)
		}
		syncPubSub(t, pub, "t", sub)
	})
}

func TestReconnectAfterRestart(t *testing.T) {
	// restart closes the bound socket and binds a new one on the same port;
	// then messages sent must reach it.
	for _, pt := range lossless {
		t.Run(pt.name, func(t *testing.T) {
			r1, err := zmq.NewSocket(pt.recv, append([]zmq.Option{zmq.WithLinger(0)}, pt.recvOpts...)...)
			if err != nil {
				t.Fatal(err)
			}
			ep := bindTCP(t, r1)
			s := newSock(t, pt.send, append([]zmq.Option{zmq.WithReconnectInterval(20 * time.Millisecond)}, pt.sendOpts...)...)
			connectTo(t, s, ep)
			mustSend(t, s, "before")
			wantFrames(t, strip(pt.recv, mustRecv(t, r1)), "before")
			if err := r1.Close(); err != nil {
				t.Fatal(err)
			}
			r2 := newSock(t, pt.recv, pt.recvOpts...)
			if err := r2.Bind(ep); err != nil {
				t.Fatalf("re-bind %s: %v", ep, err)
			}
			// A message written just before the sender noticed the old
			// connection died may be lost (as with libzmq); send until one
			// arrives, then everything after it must arrive in order.
			deadline := time.Now().Add(long)
			for i := 0; ; i++ {
				if time.Now().After(deadline) {
					t.Fatal("nothing arrived at the restarted peer")
				}
				mustSend(t, s, "probe", fmt.Sprint(i))
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				_, err := r2.Recv(ctx)
				cancel()
				if err == nil {
					break
				}
			}
			for i := 0; i < 100; i++ {
				mustSend(t, s, "after", fmt.Sprint(i))
			}
			for i := 0; i < 100; {
				m := strip(pt.recv, mustRecv(t, r2))
				if string(m.Frames[0]) == "probe" {
					continue
				}
				wantFrames(t, m, "after", fmt.Sprint(i))
				i++
			}
		})
	}
	t.Run("SUB-PUB", func(t *testing.T) {
		pub1, err := zmq.NewSocket(zmq.Pub, zmq.WithLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		ep := bindTCP(t, pub1)
		sub := newSock(t, zmq.Sub, zmq.WithReconnectInterval(20*time.Millisecond))
		sub.Subscribe([]byte("t"))
		connectTo(t, sub, ep)
		syncPubSub(t, pub1, "t", sub)
		pub1.Close()
		pub2 := newSock(t, zmq.Pub)
		if err := pub2.Bind(ep); err != nil {
			t.Fatal(err)
		}
		// The subscription must be sent again on the new connection.
		syncPubSub(t, pub2, "t", sub)
	})
}
