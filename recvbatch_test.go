package zmq_test

import (
	"context"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

// A tcp reader hands messages over in batches, reading on only while the
// next whole message is already buffered: messages that arrived whole are
// received at once even when the stream then stops in the middle of a
// message (here after a PING, a whole message and half a frame header),
// and the message completed later arrives whole.
func TestRecvBatchNeverWaitsForStream(t *testing.T) {
	for _, typ := range []zmq.Type{zmq.Pull, zmq.Sub} {
		t.Run(typ.String(), func(t *testing.T) {
			s, err := zmq.NewSocket(typ, zmq.WithLinger(0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			peerType := "PUSH"
			if typ == zmq.Sub {
				peerType = "PUB"
				if err := s.Subscribe(nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			p, err := ztest.Dial(s.LastEndpoint())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Handshake(peerType, nil); err != nil {
				t.Fatal(err)
			}
			var stream []byte
			for _, b := range []string{"one", "two", "three"} {
				stream = append(stream, ztest.Msg([]byte(b))...)
			}
			stream = append(stream, zmtp.AppendCommandFrame(nil, "PING", []byte{0, 0})...)
			stream = append(stream, ztest.Msg([]byte("four"))...)
			last := append(ztest.Frame(zmtp.FlagMore, []byte("five")), ztest.Frame(0, []byte("!"))...)
			cut := len(stream) + len(ztest.Frame(zmtp.FlagMore, []byte("five"))) + 1 // inside the second frame's header
			stream = append(stream, last...)
			if err := p.Write(stream[:cut]); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, want := range []string{"one", "two", "three", "four"} {
				m, err := s.Recv(ctx)
				if err != nil {
					t.Fatalf("waiting for %q while the stream is cut: %v", want, err)
				}
				if m.String() != want {
					t.Fatalf("got %q, want %q", m.String(), want)
				}
			}
			if err := p.Write(stream[cut:]); err != nil {
				t.Fatal(err)
			}
			m, err := s.Recv(ctx)
			if err != nil || len(m.Frames) != 2 || string(m.Frames[0]) != "five" || string(m.Frames[1]) != "!" {
				t.Fatalf("the completed message: %q, %v", m.Frames, err)
			}
		})
	}
}
