package zmq_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/zmqgo/zmq"
)

// A ROUTER's send queues hold at most the byte bounds: per peer, and for
// all peers together; what does not fit is refused (ErrWouldBlock), and
// the bytes come back once written or dropped.
func TestSendHWMBytes(t *testing.T) {
	const perPeer, total, size = 1 << 20, 3 << 20, 200 << 10
	ctx := ctxT(t)
	r := sock(t, zmq.Router, zmq.WithRouterMandatory(true), zmq.WithSendHWMBytes(perPeer, total))
	if err := r.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	// Five peers that read one message and then nothing: what the kernel's
	// buffers take is written, the rest waits in the queues.
	var ids [][]byte
	for i := range 5 {
		id := fmt.Appendf(nil, "peer%d", i)
		d := sock(t, zmq.Dealer, zmq.WithRoutingID(id), zmq.WithRecvHWM(1))
		if err := d.Connect(r.LastEndpoint()); err != nil {
			t.Fatal(err)
		}
		d.Send(ctx, zmq.NewMsgString("hello"))
		if _, err := r.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	body := make([]byte, size)
	refused := 0
	var most int64 // the queues' bytes at their fullest: writers drain them meanwhile
	for range 200 {
		for _, id := range ids {
			err := r.TrySend(zmq.NewMsg(id, body))
			switch {
			case errors.Is(err, zmq.ErrWouldBlock):
				refused++
			case err != nil:
				t.Fatal(err)
			}
			q := r.SendQueues()
			if q.MaxBytes > perPeer+size || q.Bytes > total {
				t.Fatalf("queues %+v over the bounds", q)
			}
			most = max(most, q.Bytes)
			if n, b, ok := r.PeerQueue(id); !ok || b > perPeer+size || n < 0 {
				t.Fatalf("peer %s: %d messages, %d bytes, %v", id, n, b, ok)
			}
		}
	}
	q := r.SendQueues()
	if refused == 0 || most < total-size || q.Peers != 5 {
		t.Fatalf("refused %d, queues %+v, at most %d bytes", refused, q, most)
	}
	t.Logf("refused %d of 1000, queues %+v", refused, q)
}

func TestSendHWMBytesInvalid(t *testing.T) {
	if _, err := zmq.NewSocket(zmq.Router, zmq.WithSendHWMBytes(-1, 0)); !errors.Is(err, zmq.ErrInvalidOption) {
		t.Fatal(err)
	}
}
