package zmq_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
)

// rawPeer speaks ZMTP by hand so tests can play an old or odd peer.
type rawPeer struct {
	t  *testing.T
	nc net.Conn
	fr *zmtp.Reader
}

// dialRaw connects and completes a NULL handshake announcing the given minor
// version and socket type.
func dialRaw(t *testing.T, endpoint string, minor byte, sockType string) *rawPeer {
	t.Helper()
	nc, err := net.Dial("tcp", endpoint[len("tcp://"):])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	g := zmtp.AppendGreeting(nil, zmtp.MechNull, false)
	g[11] = minor
	if _, err := nc.Write(g); err != nil {
		t.Fatal(err)
	}
	var in [64]byte
	if _, err := io.ReadFull(nc, in[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := zmtp.ParseGreeting(in[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(zmtp.AppendReady(nil, zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte(sockType)}})); err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, nc: nc, fr: zmtp.NewReader(nc, 0, nil)}
	flags, body := p.frame()
	if name, _, _ := zmtp.ParseCommand(body); flags&zmtp.FlagCommand == 0 || string(name) != zmtp.CmdReady {
		t.Fatalf("want READY, got flags %x body %q", flags, body)
	}
	return p
}

func (p *rawPeer) frame() (byte, []byte) {
	p.t.Helper()
	flags, body, _, err := p.fr.ReadFrame()
	if err != nil {
		p.t.Fatal(err)
	}
	return flags, append([]byte(nil), body...)
}

// A ZMTP 3.0 subscriber subscribes with a data message starting with 1; our
// PUB must honour it, and must not treat it as 3.1 SUBSCRIBE-only.
func TestZMTP30SubscriberToPub(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub, _ := zmq.NewSocket(zmq.Pub, zmq.WithLinger(0))
	defer pub.Close()
	if err := pub.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	p := dialRaw(t, pub.LastEndpoint(), 0, zmtp.TypeSub)
	if _, err := p.nc.Write(zmtp.AppendSubscription30(nil, true, []byte("a"))); err != nil {
		t.Fatal(err)
	}
	// The subscription is applied asynchronously: publish until the first
	// matching message shows up on the wire (non-matching ones never may).
	got := make(chan []byte, 1)
	go func() {
		flags, body, _, err := p.fr.ReadFrame()
		if err == nil && flags == 0 {
			got <- append([]byte(nil), body...)
		}
		close(got)
	}()
	for {
		pub.Send(ctx, zmq.NewMsgString("b-no"))
		pub.Send(ctx, zmq.NewMsgString("a-yes"))
		select {
		case b := <-got:
			if string(b) != "a-yes" {
				t.Fatalf("subscriber got %q, want a-yes", b)
			}
			return
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("subscription never applied")
		}
	}
}

// Our SUB tells a 3.0 publisher its subscriptions as data messages, and a
// 3.1 publisher as SUBSCRIBE / CANCEL commands.
func TestSubSendsSubscriptionFormPerVersion(t *testing.T) {
	for _, tc := range []struct {
		minor     byte
		sub, canc []byte
	}{
		{0, zmtp.AppendSubscription30(nil, true, []byte("t")), zmtp.AppendSubscription30(nil, false, []byte("t"))},
		{1, zmtp.AppendSubscribe(nil, []byte("t")), zmtp.AppendCancel(nil, []byte("t"))},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sub, _ := zmq.NewSocket(zmq.Sub, zmq.WithLinger(0))
		sub.Subscribe([]byte("t"))
		sub.Connect("tcp://" + ln.Addr().String())
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		g := zmtp.AppendGreeting(nil, zmtp.MechNull, false)
		g[11] = tc.minor
		nc.Write(g)
		var in [64]byte
		io.ReadFull(nc, in[:])
		nc.Write(zmtp.AppendReady(nil, zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte(zmtp.TypePub)}}))
		fr := zmtp.NewReader(nc, 0, nil)
		fr.ReadFrame() // READY
		want := func(frame []byte) {
			t.Helper()
			flags, body, _, err := fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if got := zmtp.AppendFrame(nil, flags, body); !bytes.Equal(got, frame) {
				t.Fatalf("minor %d: got % x, want % x", tc.minor, got, frame)
			}
		}
		want(tc.sub)
		sub.Unsubscribe([]byte("t"))
		want(tc.canc)
		sub.Close()
		nc.Close()
		ln.Close()
	}
}
