package zmq_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/ztest"
)

// The squatting attack of issue 17: a peer announces the id the ROUTER is
// about to generate for the next anonymous peer. It is refused (0x00 ids are
// the generated ones), and the anonymous peer that comes next gets its own id
// and its own replies.
func TestRouterRefusesGeneratedIDSquatter(t *testing.T) {
	ctx := ctxT(t)
	rec := ztest.NewLogRecorder()
	r := sock(t, zmq.Router, zmq.WithLogger(rec.Logger()))
	ev := r.Monitor(ctx)
	if err := r.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ep := r.LastEndpoint()

	// Learn the ROUTER's counter from a first anonymous peer.
	first := sock(t, zmq.Dealer)
	first.Connect(ep)
	first.Send(ctx, zmq.NewMsgString("hello"))
	m, err := r.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firstID := m.Frames[0]
	if len(firstID) != 5 || firstID[0] != 0 {
		t.Fatalf("generated id %x", firstID)
	}
	next := make([]byte, 5)
	binary.BigEndian.PutUint32(next[1:], binary.BigEndian.Uint32(firstID[1:])+1)

	squatter, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	if err := squatter.Handshake("DEALER", next); err != nil {
		t.Fatal(err)
	}
	if err := squatter.ExpectClosed(5 * time.Second); err != nil {
		t.Fatalf("squatter announcing %x kept its connection: %v", next, err)
	}
	dis := waitEvent(t, ctx, ev, zmq.EventDisconnected)
	if !errors.Is(dis.Err, zmq.ErrRoutingID) {
		t.Fatalf("disconnect reason %v, want ErrRoutingID", dis.Err)
	}
	if _, ok := rec.Find(0, 0, "peer refused", "reserved for generated ids"); !ok {
		t.Error("refusal not logged")
	}

	victim := sock(t, zmq.Dealer)
	victim.Connect(ep)
	victim.Send(ctx, zmq.NewMsgString("victim"))
	m, err = r.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := m.Frames[0]
	if string(id) == string(firstID) || m.String()[len(id):] != "\tvictim" {
		t.Fatalf("victim got id %x (first %x), msg %q", id, firstID, m.Frames)
	}
	if err := r.Send(ctx, zmq.NewMsg(id, []byte("yours"))); err != nil {
		t.Fatal(err)
	}
	if m, err := victim.Recv(ctx); err != nil || m.String() != "yours" {
		t.Fatal(m, err)
	}
}

// A second peer announcing a live peer's id is refused (without handover):
// the first keeps its id and its messages; with handover it is taken over.
func TestRouterRefusesDuplicateID(t *testing.T) {
	for _, handover := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused", true: "handover"}[handover], func(t *testing.T) {
			ctx := ctxT(t)
			r := sock(t, zmq.Router, zmq.WithRouterHandover(handover))
			ev := r.Monitor(ctx)
			r.Bind("tcp://127.0.0.1:0")
			alice := sock(t, zmq.Dealer, zmq.WithRoutingID([]byte("alice")))
			alice.Connect(r.LastEndpoint())
			alice.Send(ctx, zmq.NewMsgString("hi"))
			if m, err := r.Recv(ctx); err != nil || m.String() != "alice\thi" {
				t.Fatal(m, err)
			}
			impostor, err := ztest.Dial(r.LastEndpoint())
			if err != nil {
				t.Fatal(err)
			}
			defer impostor.Close()
			if err := impostor.Handshake("DEALER", []byte("alice")); err != nil {
				t.Fatal(err)
			}
			if !handover {
				if err := impostor.ExpectClosed(5 * time.Second); err != nil {
					t.Fatal("impostor kept its connection:", err)
				}
				if dis := waitEvent(t, ctx, ev, zmq.EventDisconnected); !errors.Is(dis.Err, zmq.ErrRoutingID) {
					t.Fatalf("disconnect reason %v", dis.Err)
				}
				r.Send(ctx, zmq.NewMsgString("alice", "for alice"))
				if m, err := alice.Recv(ctx); err != nil || m.String() != "for alice" {
					t.Fatal(m, err)
				}
				return
			}
			impostor.SendMsg([]byte("taken"))
			if m, err := r.Recv(ctx); err != nil || m.String() != "alice\ttaken" {
				t.Fatal(m, err)
			}
		})
	}
}
