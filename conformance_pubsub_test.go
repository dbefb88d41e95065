package zmq_test

// Conformance: PUB, SUB, XPUB, XSUB (RFC 29).

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

// ------------------------------------------------------------- PUB/SUB

func TestPubSubPrefix(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			pub := newSock(t, zmq.Pub)
			subAB, subAll := newSock(t, zmq.Sub), newSock(t, zmq.Sub)
			link(t, pub, subAB, dir.aBinds)
			if dir.aBinds {
				connectTo(t, subAll, pub.LastEndpoint())
			} else {
				connectTo(t, pub, bindTCP(t, subAll))
			}
			subAB.Subscribe([]byte("ab"))
			subAll.Subscribe(nil)
			syncPubSub(t, pub, "ab", subAB, subAll)
			msgs := [][]string{
				{"a", "bc"},      // topic is the first frame only
				{"abc", "1"},     // prefix match
				{"ab"},           // exact match, one frame
				{"xab", "2"},     // not a prefix
				{"AB", "3"},      // case matters
				{"", "4"},        // empty topic
				{"ab\x00z", "5"}, // binary-safe
				{"ab", "end"},
			}
			for _, m := range msgs {
				mustSend(t, pub, m...)
			}
			for _, want := range [][]string{{"abc", "1"}, {"ab"}, {"ab\x00z", "5"}, {"ab", "end"}} {
				wantFrames(t, recvNoSync(t, subAB), want...)
			}
			for _, want := range msgs {
				wantFrames(t, recvNoSync(t, subAll), want...)
			}
		})
	}
}

func TestPubSubUnsubscribe(t *testing.T) {
	pub, sub := newSock(t, zmq.Pub), newSock(t, zmq.Sub)
	link(t, pub, sub, true)
	sub.Subscribe([]byte("a"))
	syncPubSub(t, pub, "a", sub)
	sub.Unsubscribe([]byte("a"))
	sub.Subscribe([]byte("b"))
	// Once "b" flows, the CANCEL for "a" (sent before) has been applied.
	syncPubSub(t, pub, "b", sub)
	mustSend(t, pub, "a", "late")
	mustSend(t, pub, "b", "end")
	for {
		m := mustRecv(t, sub)
		if string(m.Frames[0]) == "a" && string(m.Frames[1]) == "late" {
			t.Fatal("received a message for a cancelled subscription")
		}
		if eqFrames(m, "b", "end") {
			break
		}
	}
}

func TestPubSubCounting(t *testing.T) {
	pub, sub := newSock(t, zmq.Pub), newSock(t, zmq.Sub)
	link(t, pub, sub, false)
	sub.Subscribe([]byte("a"))
	sub.Subscribe([]byte("a"))
	syncPubSub(t, pub, "a", sub)
	sub.Unsubscribe([]byte("a")) // one count left
	sub.Subscribe([]byte("z"))
	syncPubSub(t, pub, "z", sub)
	mustSend(t, pub, "a", "still")
	mustSend(t, pub, "z", "end")
	wantFrames(t, recvNoSync(t, sub), "a", "still")
	wantFrames(t, recvNoSync(t, sub), "z", "end")
	sub.Unsubscribe([]byte("a")) // now none
	sub.Subscribe([]byte("y"))
	syncPubSub(t, pub, "y", sub)
	mustSend(t, pub, "a", "gone")
	mustSend(t, pub, "y", "end")
	for {
		m := recvNoSync(t, sub)
		if eqFrames(m, "a", "gone") {
			t.Fatal("received after the last Unsubscribe")
		}
		if eqFrames(m, "y", "end") {
			break
		}
	}
}

// The publisher counts each subscriber's subscriptions too: a raw SUB peer
// subscribes twice and cancels once.
func TestPubCountsPeerSubscriptions(t *testing.T) {
	pub := newSock(t, zmq.Pub)
	ep := bindTCP(t, pub)
	p, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Handshake(zmtp.TypeSub, nil); err != nil {
		t.Fatal(err)
	}
	sub := func(on bool, topic string) {
		var b []byte
		if on {
			b = zmtp.AppendSubscribe(nil, []byte(topic))
		} else {
			b = zmtp.AppendCancel(nil, []byte(topic))
		}
		if err := p.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// rawSync publishes [topic, sync] until the raw peer reads one.
	rawSync := func(topic string) {
		deadline := time.Now().Add(long)
		for time.Now().Before(deadline) {
			mustSend(t, pub, topic, "sync")
			m, err := p.ReadMsg(20 * time.Millisecond)
			if err == nil && string(m[0]) == topic {
				return
			}
		}
		t.Fatalf("raw subscriber never got %q", topic)
	}
	// readUntil reads data messages until [end...]; it reports whether
	// [topic, body] came first.
	readUntil := func(endTopic, topic, body string) bool {
		found := false
		for {
			m, err := p.ReadMsg(long)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) == 2 && string(m[0]) == topic && string(m[1]) == body {
				found = true
			}
			if len(m) == 2 && string(m[0]) == endTopic && string(m[1]) == "end" {
				return found
			}
		}
	}
	sub(true, "a")
	sub(true, "a")
	sub(false, "a")
	sub(true, "z")
	rawSync("z")
	mustSend(t, pub, "a", "1")
	mustSend(t, pub, "z", "end")
	if !readUntil("z", "a", "1") {
		t.Fatal("PUB stopped sending after one of two subscriptions was cancelled")
	}
	sub(false, "a")
	sub(true, "y")
	rawSync("y")
	mustSend(t, pub, "a", "2")
	mustSend(t, pub, "y", "end")
	if readUntil("y", "a", "2") {
		t.Fatal("PUB kept sending after both subscriptions were cancelled")
	}
	// The ZMTP 3.0 form (data message \x01topic) works as well.
	if err := p.SendMsg([]byte("\x01w")); err != nil {
		t.Fatal(err)
	}
	rawSync("w")
}

// SUB filters locally: a publisher that sends everything (here a raw peer)
// still only gets matching messages through.
func TestSubFiltersLocally(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sub := newSock(t, zmq.Sub)
	sub.Subscribe([]byte("keep"))
	connectTo(t, sub, "tcp://"+l.Addr().String())
	p, err := ztest.Accept(l)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Handshake(zmtp.TypePub, nil); err != nil {
		t.Fatal(err)
	}
	topic, err := p.ReadCommand(zmtp.CmdSubscribe, long)
	if err != nil || string(topic) != "keep" {
		t.Fatalf("SUBSCRIBE %q, %v; want keep", topic, err)
	}
	for _, m := range [][]string{{"drop", "1"}, {"keep", "1"}, {"kee", "2"}, {"keeper", "2"}, {"other", "3"}} {
		var fr [][]byte
		for _, f := range m {
			fr = append(fr, []byte(f))
		}
		if err := p.SendMsg(fr...); err != nil {
			t.Fatal(err)
		}
	}
	wantFrames(t, mustRecv(t, sub), "keep", "1")
	wantFrames(t, mustRecv(t, sub), "keeper", "2")
	noMsg(t, sub, 100*time.Millisecond)
}

// A subscriber that does not read loses messages at its high-water mark;
// the publisher never blocks.
func TestPubDropsAtHWM(t *testing.T) {
	pub := newSock(t, zmq.Pub, zmq.WithSendHWM(1))
	sub := newSock(t, zmq.Sub, zmq.WithRecvHWM(1))
	link(t, pub, sub, true)
	sub.Subscribe(nil)
	syncPubSub(t, pub, "t", sub)
	const n = 300
	big := make([]byte, 256<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := pub.Send(ctx, zmq.NewMsg([]byte("t"), []byte(fmt.Sprint(i)), big)); err != nil {
			t.Fatalf("publish %d: %v (after %v)", i, err, time.Since(start))
		}
	}
	t.Logf("published %d x 256 KiB in %v", n, time.Since(start))
	got := 0
	last := -1
	for {
		c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		m, err := sub.Recv(c)
		cancel()
		if err != nil {
			break
		}
		if isSync(m) {
			continue
		}
		var i int
		fmt.Sscan(string(m.Frames[1]), &i)
		if i <= last {
			t.Fatalf("message %d after %d: order broken", i, last)
		}
		if len(m.Frames[2]) != len(big) {
			t.Fatalf("message %d truncated to %d bytes", i, len(m.Frames[2]))
		}
		last = i
		got++
	}
	if got >= n {
		t.Fatalf("subscriber received all %d messages: nothing dropped at HWM", got)
	}
	t.Logf("subscriber received %d of %d", got, n)
}
