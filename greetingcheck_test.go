package zmq_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

// HTTP or random bytes on a ZMTP port are "not a ZMTP peer"; only bytes
// that really are an old ZMTP greeting are called one.
func TestNotZMTPPeer(t *testing.T) {
	for _, c := range []struct {
		name  string
		bytes []byte
		want  error
		log   string
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), zmtp.ErrNotZMTP, "not a ZMTP peer"},
		{"tls", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, zmtp.ErrNotZMTP, "not a ZMTP peer"},
		{"random-ff", []byte{0xff, 0x13, 0x37, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x00}, zmtp.ErrNotZMTP, "not a ZMTP peer"},
		{"zmtp1.0", []byte{0x01, 0x00}, zmtp.ErrOldVersion, "ZMTP 1.0 peer"},
		{"zmtp1.0-identity", []byte{0x04, 0x00, 'a', 'b', 'c'}, zmtp.ErrOldVersion, "ZMTP 1.0 peer"},
		{"zmtp2.0", []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0x01, 0x05}, zmtp.ErrOldVersion, "ZMTP 2.0 peer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := ctxT(t)
			rec := ztest.NewLogRecorder()
			s := sock(t, zmq.Pull, zmq.WithLogger(rec.Logger()))
			ev := s.Monitor(ctx)
			if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			p, err := ztest.Dial(s.LastEndpoint())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Write(c.bytes); err != nil {
				t.Fatal(err)
			}
			e := waitEvent(t, ctx, ev, zmq.EventHandshakeFailedProtocol)
			if !errors.Is(e.Err, c.want) || !strings.Contains(e.Err.Error(), c.log) {
				t.Fatalf("handshake error %v, want %v (%q)", e.Err, c.want, c.log)
			}
			if _, ok := rec.WaitFor(0, 0, 5*time.Second, "handshake failed", c.log); !ok {
				t.Fatalf("no log line saying %q", c.log)
			}
		})
	}
}

// Connect to a host name that does not exist fails at once, with
// ErrUnknownHost (an ErrInvalidEndpoint), instead of retrying silently.
func TestConnectUnknownHost(t *testing.T) {
	s := sock(t, zmq.Push)
	start := time.Now()
	err := s.Connect("tcp://nohost.invalid:1") // RFC 6761: never resolves
	if !errors.Is(err, zmq.ErrUnknownHost) || !errors.Is(err, zmq.ErrInvalidEndpoint) {
		t.Fatalf("Connect: %v, want ErrUnknownHost", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Connect took %v", d)
	}
	t.Log(err)
	// A name that resolves, and an address, are accepted as before.
	for _, ep := range []string{"tcp://localhost:1", "tcp://127.0.0.1:1"} {
		if err := s.Connect(ep); err != nil {
			t.Errorf("Connect(%s): %v", ep, err)
		}
	}
	// Failed attempts are reported with their error.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := sock(t, zmq.Dealer)
	ev := d.Monitor(ctx)
	d.Connect("tcp://127.0.0.1:1")
	if e := waitEvent(t, ctx, ev, zmq.EventConnectRetried); e.Err == nil {
		t.Error("EventConnectRetried without the error")
	}
}
