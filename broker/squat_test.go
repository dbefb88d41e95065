package broker

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
)

// Issue 17, attack 2, on the broker: a peer announces the routing id the
// broker's ROUTER generated for alice (or the one it will generate next).
// It used to share alice's id: its messages arrived "from alice", alice's
// replies went to it, and when it left alice was unregistered. Now the
// ROUTER refuses such a peer at the handshake (0x00 ids are the generated
// ones) and alice and the next client carry on untouched.
func TestGeneratedIDSquatter(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{})
	alice := dialRaw(t, b.Addr())
	ack := alice.call(`{"type":"register","name":"alice"}`, TypeRegistrationAck)
	aliceID, err := hex.DecodeString(ack["client_id"].(string))
	if err != nil || len(aliceID) != 5 || aliceID[0] != 0 {
		t.Fatalf("alice's client_id %v: want a generated id", ack["client_id"])
	}
	next := make([]byte, 5)
	binary.BigEndian.PutUint32(next[1:], binary.BigEndian.Uint32(aliceID[1:])+1)

	for _, id := range [][]byte{aliceID, next} {
		sq, err := ztest.Dial(b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if err := sq.Handshake("DEALER", id); err != nil {
			t.Fatal(err)
		}
		if err := sq.ExpectClosed(5 * time.Second); err != nil {
			t.Fatalf("a peer announcing %x kept its connection: %v", id, err)
		}
		sq.Close()
	}

	// The next anonymous client gets its own id, and alice keeps hers.
	bob, bobIn := client(t, b.Addr(), "bob")
	if st, err := bob.Send(ctx, "alice", "hi"); err != nil || st != StatusDelivered {
		t.Fatalf("bob to alice: %q, %v", st, err)
	}
	if m := alice.recv(); m["type"] != TypeDirectMessage || m["from"] != "bob" {
		t.Fatalf("alice got %v", m)
	}
	alice.send(`{"type":"direct_message","target":"bob","content":"hello"}`)
	if m := bobIn.next(t, TypeDirectMessage); m.From != "alice" || m.Text() != "hello" {
		t.Fatalf("bob got %s from %s", m.Raw, m.From)
	}
	if m := alice.recv(); m["type"] != TypeDeliveryConfirmation || m["status"] != StatusDelivered {
		t.Fatalf("alice's confirmation: %v", m)
	}
	list, err := bob.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("clients after the squatters left: %v", list)
	}
}
