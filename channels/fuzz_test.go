package channels

import (
	"bytes"
	"testing"
)

// splitFrames turns fuzz input into a multipart message: frames separated
// by 0x1f 0x1e (rare in msgpack, so seeds stay readable).
func splitFrames(b []byte) [][]byte { return bytes.Split(b, []byte{0x1f, 0x1e}) }

func joinFrames(fr ...[]byte) []byte { return bytes.Join(fr, []byte{0x1f, 0x1e}) }

func seedMessages(f *testing.F) {
	id := bytes.Repeat([]byte{1}, 16)
	sub, _ := AppendProps(nil, Props{{"subscriber_name", []byte("chat")}})
	send, _ := AppendProps(nil, Props{{"ttl", int64(60)}, {"ack", true}})
	body, _ := EncodeMessage(Message{"type": "x"})
	ga, _ := AppendProps(nil, Props{{"group_name", []byte("g")}, {"channel_name", []byte("chat")}, {"ack", true}})
	for _, cmd := range []string{CmdSubscribe, CmdUnsubscribe, CmdSend, CmdGroupSend, CmdHeartbeat} {
		p := send
		if cmd == CmdSubscribe || cmd == CmdUnsubscribe {
			p = sub
		}
		f.Add(false, joinFrames([]byte{0, 1, 2, 3, 4}, nil, []byte("chat"), []byte(cmd), id, []byte{0}, p, body))
	}
	for _, cmd := range []string{CmdGroupAdd, CmdGroupDiscard, CmdFlush, CmdPrint, CmdPerformance, CmdHeartbeat, CmdGroupList, CmdChannelInfo} {
		f.Add(true, joinFrames([]byte{0, 1, 2, 3, 5}, nil, id, []byte(cmd), ga))
	}
	f.Add(false, []byte("garbage"))
	f.Add(true, joinFrames([]byte{9}, nil, id, []byte("GROUPADD"), []byte{0x81, 0xa1}))
}

// FuzzServer feeds whole multipart messages to both ports of a server's
// state: nothing panics, and a well-formed request keeps working after.
func FuzzServer(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, sig bool, in []byte) {
		rec := &recorder{}
		cfg, _ := Config{}.withDefaults()
		st := newState(&cfg, rec)
		env, rest, err := splitEnvelope(splitFrames(in))
		if err != nil || len(env) == 0 {
			return
		}
		if sig {
			st.onSignal(env, rest)
		} else {
			st.onData(env, rest)
		}
		st.sweep(st.now())
		_ = st.stats()
		// The server still works: a subscriber gets a message.
		peer := [][]byte{[]byte("other")}
		st.onData(peer, dataFrames(t, "fz.chan", CmdSubscribe, Props{{"subscriber_name", []byte("fz.chan")}}, nil))
		st.onData(peer, dataFrames(t, "fz.chan", CmdSend, Props{{"ttl", int64(60)}}, []byte{0x80}))
		if rec.count(CmdDelivery, "other") == 0 {
			t.Fatal("no delivery after the fuzzed message")
		}
	})
}

func FuzzDecodeProps(f *testing.F) {
	for _, h := range []string{"80", "81a174d7ff0000000000000000", "82a374746ccb3fe0000000000000a361636bc3", "81a16191c40100"} {
		b := make([]byte, len(h)/2)
		for i := range b {
			b[i] = h[2*i]&0xf + 9*(h[2*i]>>6)<<4 | (h[2*i+1]&0xf + 9*(h[2*i+1]>>6))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProps(b)
		if err != nil {
			return
		}
		enc, err := AppendProps(nil, p)
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", p, err)
		}
		p2, err := DecodeProps(enc)
		if err != nil || len(p2) != len(p) {
			t.Fatalf("re-decoding %x: %v %v", enc, p2, err)
		}
		DecodeMessage(b)
	})
}
