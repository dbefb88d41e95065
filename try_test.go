package zmq_test

import (
	"errors"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

func TestTrySendTryRecv(t *testing.T) {
	ctx := ctxT(t)
	pull := sock(t, zmq.Pull, zmq.WithRecvHWM(1))
	if _, err := pull.TryRecv(); !errors.Is(err, zmq.ErrWouldBlock) {
		t.Fatalf("TryRecv on an empty socket: %v", err)
	}
	// A PUSH with no peer at all has nowhere to put a message.
	push := sock(t, zmq.Push, zmq.WithSendHWM(1))
	if err := push.TrySend(zmq.NewMsgString("x")); !errors.Is(err, zmq.ErrWouldBlock) {
		t.Fatalf("TrySend with no peer: %v", err)
	}
	pull.Bind("inproc://try")
	push.Connect("inproc://try")
	// Fill every queue on the way; then TrySend refuses without waiting.
	sent := 0
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := push.TrySend(zmq.NewMsgString("m"))
		if errors.Is(err, zmq.ErrWouldBlock) {
			if sent > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("nothing could be sent")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		if sent > 100 {
			t.Fatal("TrySend never reported a full queue")
		}
	}
	got := 0
	for got < sent {
		if _, err := pull.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		got++
	}
	if _, err := pull.TryRecv(); !errors.Is(err, zmq.ErrWouldBlock) {
		t.Fatalf("TryRecv after draining: %v", err)
	}
}
