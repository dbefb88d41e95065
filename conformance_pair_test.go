package zmq_test

// Conformance: PAIR (RFC 31).

import (
	"fmt"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

// ------------------------------------------------------------------- PAIR

func TestPAIRSinglePeer(t *testing.T) {
	logs := ztest.NewLogRecorder()
	a := newSock(t, zmq.Pair, zmq.WithLogger(logs.Logger()))
	ep := bindTCP(t, a)
	b := newSock(t, zmq.Pair)
	connectTo(t, b, ep)
	mustSend(t, b, "b->a")
	wantFrames(t, mustRecv(t, a), "b->a")

	p, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Handshake(zmtp.TypePair, nil); err == nil {
		p.SendMsg([]byte("intruder"))
	}
	if err := p.ExpectClosed(long); err != nil {
		t.Fatalf("second PAIR peer not refused: %v", err)
	}
	c := newSock(t, zmq.Pair)
	connectTo(t, c, ep)
	mustSend(t, c, "from-c")

	for i := 0; i < 3; i++ {
		mustSend(t, a, "a->b", fmt.Sprint(i))
		wantFrames(t, mustRecv(t, b), "a->b", fmt.Sprint(i))
		mustSend(t, b, "b->a", fmt.Sprint(i))
		wantFrames(t, mustRecv(t, a), "b->a", fmt.Sprint(i))
	}
	noMsg(t, c, 100*time.Millisecond)
	// A connecting PAIR has one peer too.
	if err := b.Connect(bindTCP(t, newSock(t, zmq.Pair))); err == nil {
		t.Error("second Connect on a PAIR succeeded")
	}
}
