package zmq_test

// Conformance: PUSH and PULL (RFC 30), and DEALER blocking at the HWM.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// --------------------------------------------------------------- PUSH/PULL

func TestPUSHRoundRobin(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			push := newSock(t, zmq.Push)
			var pulls []*zmq.Socket
			for i := 0; i < 3; i++ {
				p := newSock(t, zmq.Pull)
				link(t, push, p, dir.aBinds)
				pulls = append(pulls, p)
			}
			distribute(t, push, pulls, nil)
		})
	}
}

func TestPUSHBlocksWhenFull(t *testing.T) {
	push := newSock(t, zmq.Push, zmq.WithSendHWM(1))
	pull := newSock(t, zmq.Pull, zmq.WithRecvHWM(1))
	link(t, pull, push, true)
	mustSend(t, push, "hello")
	wantFrames(t, mustRecv(t, pull), "hello")
	big := make([]byte, 1<<20)
	sent := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := push.Send(ctx, zmq.NewMsg([]byte(fmt.Sprint(sent)), big))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		if sent > 500 {
			t.Fatal("500 MiB sent without blocking: PUSH does not block when its peer is full")
		}
	}
	t.Logf("PUSH blocked after %d x 1 MiB", sent)
	// Nothing was lost: every message that Send accepted arrives, in order.
	for i := 0; i < sent; i++ {
		m := mustRecv(t, pull)
		if string(m.Frames[0]) != fmt.Sprint(i) || len(m.Frames[1]) != len(big) {
			t.Fatalf("message %d: got #%s of %d bytes", i, m.Frames[0], len(m.Frames[1]))
		}
	}
	// And sending works again.
	mustSend(t, push, "after")
	wantFrames(t, mustRecv(t, pull), "after")
}

// DEALER blocks like PUSH when every peer is full.
func TestDEALERBlocksWhenFull(t *testing.T) {
	dealer := newSock(t, zmq.Dealer, zmq.WithSendHWM(1))
	peer := newSock(t, zmq.Dealer, zmq.WithRecvHWM(1))
	link(t, peer, dealer, true)
	big := make([]byte, 1<<20)
	for sent := 0; ; sent++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := dealer.Send(ctx, zmq.NewMsg(big))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sent > 500 {
			t.Fatal("DEALER does not block when its peer is full")
		}
	}
}
