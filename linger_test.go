package zmq_test

import (
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// Messages sent on a connecting socket that is closed before its connection
// is up are still delivered within the linger time (libzmq's ZMQ_LINGER).
func TestLingerDeliversAfterLateConnect(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc://*"} {
		ctx := ctxT(t)
		pull := sock(t, zmq.Pull)
		if err := pull.Bind(ep); err != nil {
			t.Fatal(err)
		}
		push, _ := zmq.NewSocket(zmq.Push, zmq.WithLinger(5*time.Second))
		push.Connect(pull.LastEndpoint())
		push.Send(ctx, zmq.NewMsgString("a"))
		push.Send(ctx, zmq.NewMsgString("b"))
		push.Close() // at once: the connection is likely not made yet
		for _, want := range []string{"a", "b"} {
			if m, err := pull.Recv(ctx); err != nil || m.String() != want {
				t.Fatalf("%s: got %v %v, want %s", ep, m, err, want)
			}
		}
	}
}
