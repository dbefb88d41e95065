package zmq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// The REQ/REP fast paths: receivers that read their connection themselves
// (direct.go) and senders that write inline (conn.writeInline). These tests
// drive the hand-overs between them and the connection's own goroutines.

func reqRepPair(t *testing.T, transport string, opts ...zmq.Option) (req, rep *zmq.Socket) {
	t.Helper()
	rep = secSock(t, zmq.Rep, opts...)
	ep := "tcp://127.0.0.1:0"
	if transport == "ipc" {
		ep = "ipc://" + t.TempDir() + "/rr.sock"
	}
	if err := rep.Bind(ep); err != nil {
		t.Fatal(err)
	}
	req = secSock(t, zmq.Req, opts...)
	secConnect(t, req, rep.LastEndpoint())
	return req, rep
}

// TestReqRepDirect: many round trips with small, multipart and large
// messages, and pauses longer than the baton's idle time in between, so the
// connection's reader takes the baton back and is kicked out of its read.
func TestReqRepDirect(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc"} {
		t.Run(tr, func(t *testing.T) {
			req, rep := reqRepPair(t, tr)
			ctx := context.Background()
			done := make(chan error, 1)
			go func() {
				for {
					m, err := rep.Recv(ctx)
					if err != nil {
						done <- nil
						return
					}
					if err := rep.Send(ctx, m); err != nil {
						done <- err
						return
					}
				}
			}()
			for i := range 300 {
				var m zmq.Msg
				switch i % 4 {
				case 0:
					m = zmq.NewMsgString(fmt.Sprint(i))
				case 1:
					m = zmq.NewMsgString("a", fmt.Sprint(i), "c")
				case 2:
					m = zmq.NewMsg(bytes.Repeat([]byte{byte(i)}, 200<<10), []byte(fmt.Sprint(i)))
				case 3:
					m = zmq.NewMsg(bytes.Repeat([]byte{byte(i)}, 20<<10))
				}
				if i%50 == 0 {
					time.Sleep(5 * time.Millisecond) // the baton goes back to the reader
				}
				if err := req.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
				r, err := req.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Frames) != len(m.Frames) {
					t.Fatalf("round trip %d: %d frames, want %d", i, len(r.Frames), len(m.Frames))
				}
				for j := range m.Frames {
					if !bytes.Equal(r.Frames[j], m.Frames[j]) {
						t.Fatalf("round trip %d: frame %d differs", i, j)
					}
				}
			}
			req.Close()
			rep.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReqRepDirectTimeout: a receive that times out while reading the
// connection itself leaves it in order: the late reply is received next.
func TestReqRepDirectTimeout(t *testing.T) {
	req, rep := reqRepPair(t, "tcp")
	ctx := context.Background()
	secSend(t, req, "slow")
	if _, err := rep.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := req.Recv(c)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Recv = %v, want a deadline error", err)
		}
	}
	// The reply goes out in two frames split across writes of the peer.
	if err := rep.Send(ctx, zmq.NewMsgString("late", "reply")); err != nil {
		t.Fatal(err)
	}
	secExpect(t, req, "late", "reply")
	// And the connection still works both ways.
	secSend(t, req, "again")
	secExpect(t, rep, "again")
	secSend(t, rep, "ok")
	secExpect(t, req, "ok")
}

// TestReqRepDirectHeartbeat: a requester that holds no request open for
// longer than the peer's heartbeat timeout keeps its connection: its PINGs
// are answered although nobody is in Recv.
func TestReqRepDirectHeartbeat(t *testing.T) {
	req, rep := reqRepPair(t, "tcp", zmq.WithHeartbeatInterval(20*time.Millisecond), zmq.WithHeartbeatTimeout(60*time.Millisecond))
	ev := secMonitor(t, req)
	secSend(t, req, "1")
	secExpect(t, rep, "1")
	secSend(t, rep, "1")
	secExpect(t, req, "1")
	time.Sleep(400 * time.Millisecond) // nobody receives; heartbeats flow
	select {
	case e := <-ev:
		if e.Type == zmq.EventDisconnected {
			t.Fatalf("disconnected while idle: %v", e.Err)
		}
	default:
	}
	secSend(t, req, "2")
	secExpect(t, rep, "2")
}

// TestReqRepInlineBacklog: a REP's inline writes fill the socket buffer of
// a DEALER that is not reading; the rest goes through the writer, in order.
func TestReqRepInlineBacklog(t *testing.T) {
	const n = 2000
	rep := secSock(t, zmq.Rep, zmq.WithSendHWM(n)) // REP drops replies beyond its HWM
	ep := secBind(t, rep)
	dealer := secSock(t, zmq.Dealer, zmq.WithRecvHWM(5)) // stops reading: the socket buffer fills
	secConnect(t, dealer, ep)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := bytes.Repeat([]byte("x"), 7000) // four of them a reply: inline-sized, 56 MB in all
	go func() {
		for i := range n {
			if err := dealer.Send(ctx, zmq.NewMsg([]byte{}, []byte(fmt.Sprint(i)))); err != nil {
				return
			}
		}
	}()
	for i := range n {
		m, err := rep.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Send(ctx, zmq.NewMsg(m.Frames[0], body, body, body, body)); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	for i := range n {
		m, err := dealer.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Frames) != 6 || string(m.Frames[1]) != fmt.Sprint(i) || !bytes.Equal(m.Frames[2], body) || !bytes.Equal(m.Frames[5], body) {
			t.Fatalf("reply %d out of order or damaged: %q...", i, m.Frames[1])
		}
	}
}
