package zmq_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/zmqgo/zmq"
)

// TestMsgRelease: receivers that release every message get each payload
// intact although the buffers are reused, over NULL and CURVE, with single-
// and multi-frame messages of pooled and unpooled sizes.
func TestMsgRelease(t *testing.T) {
	k := testKeys(t)
	sizes := []int{40 << 10, 64 << 10, 64<<10 + 1, 300 << 10, 2 << 20}
	for _, mech := range []string{"NULL", "CURVE"} {
		t.Run(mech, func(t *testing.T) {
			var pull, push *zmq.Socket
			if mech == "CURVE" {
				pull, push = curvePair(t, k, zmq.Pull, zmq.Push)
			} else {
				pull, push = secSock(t, zmq.Pull), secSock(t, zmq.Push)
			}
			ep := secBind(t, pull)
			secConnect(t, push, ep)
			ctx := context.Background()
			payload := func(i, part, size int) []byte {
				pat := fmt.Sprintf("%d/%d;", i, part)
				return bytes.Repeat([]byte(pat), size/len(pat)+1)[:size]
			}
			const rounds = 60
			go func() {
				for i := range rounds {
					size := sizes[i%len(sizes)]
					m := zmq.NewMsg(payload(i, 0, size))
					if i%3 == 0 {
						m = zmq.NewMsg(payload(i, 0, size), []byte("small"), payload(i, 2, size))
					}
					if err := push.Send(ctx, m); err != nil {
						return
					}
				}
			}()
			var prev []zmq.Msg
			for i := range rounds {
				m, err := pull.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				size := sizes[i%len(sizes)]
				if !bytes.Equal(m.Frames[0], payload(i, 0, size)) {
					t.Fatalf("message %d: frame 0 corrupted", i)
				}
				if i%3 == 0 && (len(m.Frames) != 3 || string(m.Frames[1]) != "small" || !bytes.Equal(m.Frames[2], payload(i, 2, size))) {
					t.Fatalf("message %d: multipart corrupted", i)
				}
				m.Release()
				m.Release() // twice: harmless
				// Stale copies of earlier messages must not free buffers now reused.
				for _, p := range prev {
					p.Release()
				}
				prev = append(prev, m)
			}
		})
	}
}
