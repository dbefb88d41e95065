package zmq_test

// Conformance: every message arrives whole and in order, whatever its frame sizes.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/zmqgo/zmq"
)

// ------------------------------------------------- all-or-nothing, in order

// streamPattern is the source of frame contents: pseudo-random bytes, so a
// frame shifted or swapped with another does not compare equal.
var streamPattern = func() []byte {
	b := make([]byte, 4096+70000)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

var frameSizes = []int{0, 1, 255, 256, 70000, 13, 65527, 65535, 65536, 65537, 8191, 8192, 1000}

// streamMsg is message i of the ordering test: 1-4 frames of assorted sizes,
// contents derived from (i, frame) so any mix-up shows.
func streamMsg(i int) zmq.Msg {
	n := 1 + i%4
	m := zmq.Msg{Frames: make([][]byte, n)}
	for j := 0; j < n; j++ {
		size := frameSizes[(i*7+j*3)%len(frameSizes)]
		if size == 70000 && i%5 != 0 {
			size = 700 // keep the total moderate
		}
		f := make([]byte, size)
		copy(f, streamPattern[(i*131+j*17)%4096:])
		if size >= 8 {
			binary.BigEndian.PutUint32(f, uint32(i))
			binary.BigEndian.PutUint32(f[4:], uint32(j))
		}
		m.Frames[j] = f
	}
	return m
}

func sameMsg(a, b zmq.Msg) bool {
	if len(a.Frames) != len(b.Frames) {
		return false
	}
	for i := range a.Frames {
		if !bytes.Equal(a.Frames[i], b.Frames[i]) {
			return false
		}
	}
	return true
}

func describe(m zmq.Msg) string {
	var sizes []int
	for _, f := range m.Frames {
		sizes = append(sizes, len(f))
	}
	return fmt.Sprintf("%d frames %v", len(m.Frames), sizes)
}

func TestMessagesWholeAndInOrder(t *testing.T) {
	const N = 1000
	check := func(t *testing.T, i int, got zmq.Msg) {
		t.Helper()
		if want := streamMsg(i); !sameMsg(got, want) {
			t.Fatalf("message %d: got %s, want %s", i, describe(got), describe(want))
		}
	}
	for _, pt := range lossless {
		for _, dir := range directions {
			if pt.send != zmq.Push && !dir.aBinds {
				continue // both directions for one pattern is enough; -race makes this slow
			}
			t.Run(pt.name+"/"+dir.name, func(t *testing.T) {
				s := newSock(t, pt.send, pt.sendOpts...)
				r := newSock(t, pt.recv, pt.recvOpts...)
				link(t, s, r, dir.aBinds)
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := timeout(t, long)
					for i := 0; i < N; i++ {
						if err := s.Send(ctx, streamMsg(i)); err != nil {
							t.Errorf("Send %d: %v", i, err)
							return
						}
					}
				}()
				for i := 0; i < N; i++ {
					m := mustRecv(t, r)
					if pt.recv == zmq.Router && string(m.Frames[0]) != "D" {
						t.Fatalf("routing id %q", m.Frames[0])
					}
					check(t, i, strip(pt.recv, m))
				}
				wg.Wait()
			})
		}
	}
	t.Run("ROUTER-DEALER", func(t *testing.T) {
		r := newSock(t, zmq.Router, zmq.WithRouterMandatory(true))
		d := newSock(t, zmq.Dealer, zmq.WithRoutingID([]byte("D")))
		link(t, r, d, true)
		routerSend(t, r, "D", "hi")
		wantFrames(t, mustRecv(t, d), "hi")
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := timeout(t, long)
			for i := 0; i < N; i++ {
				m := streamMsg(i)
				m.Frames = append([][]byte{[]byte("D")}, m.Frames...)
				if err := r.Send(ctx, m); err != nil {
					t.Errorf("Send %d: %v", i, err)
					return
				}
			}
		}()
		for i := 0; i < N; i++ {
			check(t, i, mustRecv(t, d))
		}
		wg.Wait()
	})
	t.Run("PUB-SUB", func(t *testing.T) {
		pub := newSock(t, zmq.Pub, zmq.WithSendHWM(0))
		sub := newSock(t, zmq.Sub, zmq.WithRecvHWM(0))
		link(t, pub, sub, false)
		sub.Subscribe(nil)
		syncPubSub(t, pub, "", sub)
		for i := 0; i < N; i++ {
			if err := pub.Send(timeout(t, long), streamMsg(i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < N; i++ {
			check(t, i, recvNoSync(t, sub))
		}
	})
	t.Run("REQ-REP", func(t *testing.T) {
		req, rep := newSock(t, zmq.Req), newSock(t, zmq.Rep)
		link(t, req, rep, true)
		background(t, func(ctx context.Context) {
			for {
				m, err := rep.Recv(ctx)
				if err != nil || rep.Send(ctx, m) != nil {
					return
				}
			}
		})
		for i := 0; i < N; i += 3 {
			if err := req.Send(timeout(t, long), streamMsg(i)); err != nil {
				t.Fatal(err)
			}
			check(t, i, mustRecv(t, req))
		}
	})
}
