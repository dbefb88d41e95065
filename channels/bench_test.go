package channels

import (
	"fmt"
	"testing"
	"time"
)

// nullSink counts what the server would send.
type nullSink struct{ n int }

func (s *nullSink) send(sig bool, msg [][]byte) error { s.n++; return nil }

func benchState(b *testing.B) (*state, *nullSink) {
	cfg, _ := Config{}.withDefaults()
	out := &nullSink{}
	return newState(&cfg, out), out
}

// The server's own cost of one SENDCHAN delivered to a subscriber
// (decode, expiry, queue, DELIVERY frames), without sockets.
func BenchmarkServerSend(b *testing.B) {
	st, out := benchState(b)
	st.onData(env("r"), dataFrames(b, "bench", CmdSubscribe, Props{{"subscriber_name", []byte("bench")}}, nil))
	body, _ := EncodeMessage(Message{"type": "bench.message", "text": "0123456789012345678901234567890123456789012345678901234567890123"})
	frames := dataFrames(b, "bench", CmdSend, Props{{"ttl", int64(60)}, {"ack", false}}, body)
	b.ReportAllocs()
	for b.Loop() {
		st.onData(env("s"), frames)
	}
	if out.n != b.N {
		b.Fatal(out.n, b.N)
	}
}

// One SENDGRPX to a group of 1,000 subscribed channels.
func BenchmarkServerGroupSend1000(b *testing.B) {
	st, out := benchState(b)
	for i := range 1000 {
		ch := fmt.Sprint("c", i)
		st.onData(env("r"), dataFrames(b, ch, CmdSubscribe, Props{{"subscriber_name", []byte(ch)}}, nil))
		st.onSignal(env("r"), sigFrames(b, CmdGroupAdd, Props{{"group_name", "g"}, {"channel_name", ch}}))
	}
	out.n = 0
	body, _ := EncodeMessage(Message{"type": "bench.message"})
	frames := dataFrames(b, "g", CmdGroupSend, Props{{"ttl", int64(60)}}, body)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		st.onData(env("s"), frames)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(out.n), "ns/delivery")
}

// Send (acked, as the Go client always asks) and Receive over tcp, one
// message at a time: the Go client's round trip through the server.
func BenchmarkLayerSendReceive(b *testing.B) {
	s := startServer(b, Config{})
	send, recv := dial(b, s), dial(b, s)
	ctx := ctxT(b, 5*time.Minute)
	msg := Message{"type": "bench.message", "text": "0123456789012345678901234567890123456789012345678901234567890123"}
	b.ReportAllocs()
	for b.Loop() {
		if err := send.Send(ctx, "bench.layer", msg); err != nil {
			b.Fatal(err)
		}
		if _, err := recv.Receive(ctx, "bench.layer"); err != nil {
			b.Fatal(err)
		}
	}
}
