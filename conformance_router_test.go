package zmq_test

// Conformance: ROUTER routing ids (RFC 28, libzmq 4.3).

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

// ---------------------------------------------------------------- ROUTER

func TestROUTERRoutingIDs(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			router := newSock(t, zmq.Router, zmq.WithRouterMandatory(true))
			anon1 := newSock(t, zmq.Dealer)
			anon2 := newSock(t, zmq.Req)
			named := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("alice")))
			for _, s := range []*zmq.Socket{anon1, anon2, named} {
				link(t, router, s, dir.aBinds)
			}
			mustSend(t, anon1, "from-anon1")
			mustSend(t, anon2, "from-anon2")
			mustSend(t, named, "from-alice")
			ids := map[string][]byte{}
			for i := 0; i < 3; i++ {
				m := mustRecv(t, router)
				body := string(m.Frames[len(m.Frames)-1])
				ids[body] = m.Frames[0]
			}
			for _, who := range []string{"from-anon1", "from-anon2"} {
				id := ids[who]
				if len(id) != 5 || id[0] != 0 {
					t.Errorf("%s: generated routing id %x, want 5 bytes starting 00", who, id)
				}
			}
			if bytes.Equal(ids["from-anon1"], ids["from-anon2"]) {
				t.Errorf("two peers share routing id %x", ids["from-anon1"])
			}
			if string(ids["from-alice"]) != "alice" {
				t.Errorf("explicit routing id arrived as %q, want alice", ids["from-alice"])
			}
			// Replies reach the right peer.
			if err := router.Send(timeout(t, long), zmq.NewMsg(ids["from-anon1"], []byte("to-anon1"))); err != nil {
				t.Fatal(err)
			}
			if err := router.Send(timeout(t, long), zmq.NewMsg(ids["from-anon2"], nil, []byte("to-anon2"))); err != nil {
				t.Fatal(err)
			}
			mustSend(t, router, "alice", "to-alice")
			wantFrames(t, mustRecv(t, anon1), "to-anon1")
			wantFrames(t, mustRecv(t, anon2), "to-anon2")
			wantFrames(t, mustRecv(t, named), "to-alice")
		})
	}
}

func TestROUTERUnroutable(t *testing.T) {
	ctx := timeout(t, long)
	plain := newSock(t, zmq.Router)
	bindTCP(t, plain)
	if err := plain.Send(ctx, zmq.NewMsgString("nobody", "x")); err != nil {
		t.Errorf("ROUTER Send to unknown id = %v, want silent drop", err)
	}
	mand := newSock(t, zmq.Router, zmq.WithRouterMandatory(true))
	ep := bindTCP(t, mand)
	if err := mand.Send(ctx, zmq.NewMsgString("nobody", "x")); !errors.Is(err, zmq.ErrHostUnreachable) {
		t.Errorf("mandatory ROUTER Send to unknown id = %v, want ErrHostUnreachable", err)
	}
	// A peer that leaves becomes unreachable again.
	d, err := zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0), zmq.WithRoutingID([]byte("d")))
	if err != nil {
		t.Fatal(err)
	}
	connectTo(t, d, ep)
	routerSend(t, mand, "d", "hi")
	wantFrames(t, mustRecv(t, d), "hi")
	d.Close()
	deadline := time.Now().Add(long)
	for {
		err := mand.Send(ctx, zmq.NewMsgString("d", "x"))
		if errors.Is(err, zmq.ErrHostUnreachable) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("Send to a departed peer: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestROUTERDuplicateIdentity(t *testing.T) {
	logs := ztest.NewLogRecorder()
	router := newSock(t, zmq.Router, zmq.WithRouterMandatory(true), zmq.WithLogger(logs.Logger()))
	ep := bindTCP(t, router)
	first := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("dup")))
	connectTo(t, first, ep)
	mustSend(t, first, "from-first")
	wantFrames(t, mustRecv(t, router), "dup", "from-first")

	// A raw peer claiming the same identity is refused: the ROUTER closes it.
	p, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Handshake(zmtp.TypeDealer, []byte("dup")); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	p.SendMsg([]byte("from-impostor"))
	if err := p.ExpectClosed(long); err != nil {
		t.Fatalf("duplicate identity not refused: %v", err)
	}
	// So is a zmqgo DEALER (it keeps retrying in the background).
	second := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("dup")))
	connectTo(t, second, ep)
	mustSend(t, second, "from-second")

	// The first peer keeps its identity and its traffic.
	for i := 0; i < 3; i++ {
		mustSend(t, router, "dup", "to-dup", fmt.Sprint(i))
		wantFrames(t, mustRecv(t, first), "to-dup", fmt.Sprint(i))
		mustSend(t, first, "again", fmt.Sprint(i))
		wantFrames(t, mustRecv(t, router), "dup", "again", fmt.Sprint(i))
	}
	noMsg(t, second, 100*time.Millisecond)
	if _, ok := logs.WaitFor(0, slog.LevelWarn, long, "dup"); !ok {
		t.Errorf("no log line about the refused duplicate identity; got %v", logs.Records())
	}
}
