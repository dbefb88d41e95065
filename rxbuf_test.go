package zmq_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

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

// TestAllocMsg: AllocMsg buffers cycle back to the pool once written, and
// no receiver ever sees one overwritten by a later message: PUSH/PULL over
// tcp and inproc, PUB fanning out to three SUBs, and a failed Send that
// keeps the message for a retry.
func TestAllocMsg(t *testing.T) {
	ctx := context.Background()
	const size = 48 << 10
	fill := func(m zmq.Msg, i int) {
		pat := []byte(fmt.Sprintf("%d;", i))
		f := m.Frames[0]
		for j := range f {
			f[j] = pat[j%len(pat)]
		}
	}
	check := func(t *testing.T, m zmq.Msg, i int) {
		t.Helper()
		want := zmq.AllocMsg(size)
		fill(want, i)
		if !bytes.Equal(m.Frames[0], want.Frames[0]) {
			t.Fatalf("message %d overwritten before it was received", i)
		}
	}
	const rounds = 300
	for _, tr := range []string{"tcp://127.0.0.1:0", "inproc://allocmsg"} {
		t.Run("pushpull/"+tr[:3], func(t *testing.T) {
			pull := secSock(t, zmq.Pull)
			if err := pull.Bind(tr); err != nil {
				t.Fatal(err)
			}
			push := secSock(t, zmq.Push, zmq.WithSendHWM(8))
			secConnect(t, push, pull.LastEndpoint())
			go func() {
				for i := range rounds {
					m := zmq.AllocMsg(size)
					fill(m, i)
					if push.Send(ctx, m) != nil {
						return
					}
				}
			}()
			for i := range rounds {
				m, err := pull.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check(t, m, i)
				m.Release()
			}
		})
	}
	t.Run("pubsub", func(t *testing.T) {
		pub := secSock(t, zmq.Pub, zmq.WithSendHWM(4), zmq.WithXPubNoDrop(true))
		ep := secBind(t, pub)
		var subs []*zmq.Socket
		for range 3 {
			sub := secSock(t, zmq.Sub)
			sub.Subscribe(nil)
			secConnect(t, sub, ep)
			subs = append(subs, sub)
		}
		// Wait until every subscription is in: a probe reaches all three.
		for _, sub := range subs {
			for {
				pub.Send(ctx, zmq.NewMsgString("probe"))
				c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				m, err := sub.Recv(c)
				cancel()
				if err == nil && string(m.Frames[0]) == "probe" {
					break
				}
			}
		}
		go func() {
			for i := range rounds {
				m := zmq.AllocMsg(size)
				fill(m, i)
				if pub.Send(ctx, m) != nil {
					return
				}
			}
		}()
		for _, sub := range subs {
			for i := 0; i < rounds; {
				m, err := sub.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if string(m.Frames[0]) == "probe" {
					continue
				}
				check(t, m, i)
				i++
			}
		}
	})
	t.Run("failed send keeps the message", func(t *testing.T) {
		push := secSock(t, zmq.Push)
		m := zmq.AllocMsg(size)
		fill(m, 7)
		c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if err := push.Send(c, m); err == nil {
			t.Fatal("send without a peer succeeded")
		}
		pull := secSock(t, zmq.Pull)
		ep := secBind(t, pull)
		secConnect(t, push, ep)
		if err := push.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		r, err := pull.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		check(t, r, 7)
	})
	if n := len(zmq.AllocMsg(100).Frames[0]); n != 100 {
		t.Errorf("small AllocMsg has %d bytes", n)
	}
}
