package broker

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// checkCodec compares the hand codec with encoding/json on one input:
// content is a request's bytes (and, if valid JSON, a message's content);
// text goes into every string field.
func checkCodec(t *testing.T, content []byte, text string, ts float64) {
	t.Helper()
	var fast, slow request
	if parseRequest(content, &fast) {
		if err := decode(content, &slow); err != nil {
			t.Fatalf("%q: parsed, but encoding/json says %v", content, err)
		}
		plain := fast.contentPlain
		fast.contentPlain = false
		if !reflect.DeepEqual(fast, slow) && !(len(fast.Content) == 0 && len(slow.Content) == 0) {
			t.Fatalf("%q: parsed %+v, encoding/json %+v", content, fast, slow)
		}
		if plain && !(fast.Content[0] == '"' && bytes.Equal(appendRaw([]byte{}, fast.Content), fast.Content)) {
			t.Fatalf("%q: content %q taken as plain: %v", content, fast.Content, plain)
		}
		// What encodeDirect makes of a plain content, copied as it is.
		for _, m := range []directMessage{
			{Type: TypeDirectMessage, From: text, Content: fast.Content, Timestamp: ts, contentPlain: plain},
			{Type: TypeBroadcast, From: text, Content: fast.Content, Timestamp: ts, contentPlain: plain},
		} {
			if !plain {
				break
			}
			want, werr := json.Marshal(m)
			if got := encodeDirect(&m); werr == nil && !bytes.Equal(got, want) {
				t.Fatalf("%q: encodeDirect %s, encoding/json %s", content, got, want)
			}
		}
	}
	raw := json.RawMessage(content)
	if !json.Valid(content) {
		raw = json.RawMessage(`"x"`)
	}
	for _, v := range []any{
		directMessage{Type: TypeDirectMessage, From: text, Content: raw, Timestamp: ts},
		directMessage{Type: TypeBroadcast, From: text, Content: raw, Timestamp: ts, RoutePath: []string{text, "b"}},
		deliveryConfirmation{Type: TypeDeliveryConfirmation, Target: text, Status: StatusDelivered},
		broadcastConfirmation{Type: TypeBroadcastConfirmation, Recipients: len(text)},
		errorReply{Type: TypeError, Message: text, Timestamp: ts},
		pong{Type: TypePong, Timestamp: ts, Stats: PongStats{Errors: 1, Received: uint64(len(text)), Sent: math.MaxUint64}},
		registrationAck{Type: TypeRegistrationAck, Status: "success", ClientID: text, Message: "Welcome, " + text + "!"},
		// The Go client's request_id, echoed, and the limits it asks for.
		deliveryConfirmation{RequestID: raw, Type: TypeDeliveryConfirmation, Target: text, Status: StatusDelivered},
		broadcastConfirmation{RequestID: raw, Type: TypeBroadcastConfirmation, Recipients: len(text)},
		errorReply{RequestID: raw, Type: TypeError, Message: text, Timestamp: ts},
		pong{RequestID: raw, Type: TypePong, Timestamp: ts},
		registrationAck{RequestID: raw, MaxMsgSize: len(text) + 1, Type: TypeRegistrationAck, Status: "success", ClientID: text},
	} {
		want, werr := json.Marshal(v)
		got, gerr := encode(v)
		if !bytes.Equal(got, want) || (werr == nil) != (gerr == nil) {
			t.Fatalf("%T %q/%q:\n got %s, %v\nwant %s, %v", v, content, text, got, gerr, want, werr)
		}
	}
}

// The hand codec writes exactly what encoding/json writes, and parses
// what it parses the same way (or leaves it to encoding/json).
func TestCodecMatchesEncodingJSON(t *testing.T) {
	for _, c := range []struct {
		content, text string
		ts            float64
	}{
		{`{"type":"direct_message","target":"bob","content":"hi"}`, "alice", 1700000000.25},
		{` { "type" : "register" , "name" : "x" } `, "", 0},
		{`{"type":"direct_message","target":"bob","content":{"a": [1, 2.5e3, true, null, "<&>"]}}`, "a<b>&c", 1e-7},
		{`{"Type":"ping"}`, "é", 1e21},
		{`{"type":"ping","type":"register","name":null}`, "\u2028\x01\"\\", -0.000001},
		{`{"content":"\u2028 \ud800","x":{"y":[{}]}}`, "\xff", 123456789.123456789},
		{`{"type":1}`, "", 1},
		{`{"type":"a"`, "", 1},
		{`[]`, "", 1},
		{`{"content":01}`, "", 1},
		{`{"content":1.}`, "", 1},
		{`{"content":"\x"}`, "", 1},
		{`{"request_id":17,"type":"register","name":"a","limits":true}`, "", 1},
		{`{"request_id": "x y" ,"limits":false,"type":"ping"}`, "", 1},
		{`{"request_id":null,"limits":null}`, "", 1},
		{`{"limits":1}`, "", 1},
		{`{"Request_ID":1}`, "", 1},
	} {
		checkCodec(t, []byte(c.content), c.text, c.ts)
	}
}

// go test -run '^$' -fuzz FuzzCodec -fuzztime 60s ./broker
func FuzzCodec(f *testing.F) {
	f.Add([]byte(`{"type":"direct_message","target":"bob","content":"hi"}`), "alice", 1700000000.25)
	f.Add([]byte(`{"type":"x","content":{"a":[1,-2.5E+3,true,false,null,"\u00e9\n"]},"other":{}}`), "<é>", 1e-9)
	f.Add([]byte(` {"NAME":"x"} `), "\x00", 0.0)
	f.Add([]byte(`{"request_id":42,"type":"register","name":"a","limits":true}`), "a", 1.5)
	// Contents longer than eight bytes, with what appendRaw must see at
	// every offset of its eight-byte steps.
	f.Add([]byte(`{"content":"abcdefgh\\\"ijklmnop<q>rstuvw&xyz0123456 789 abcdefghijklmnopq"}`), "b", 1700000000.123456)
	f.Add([]byte(`{"content":{"k1":"aaaaaaaaaaaa", "k2" : [1,  2,3], "k3":"\u003c>\\","k4":"â¨ â©"}}`), "c", 2.0)
	f.Add([]byte(`{"content":"1234567\"1234567\\123456&"}`), "d", 3.0)
	f.Fuzz(func(t *testing.T, content []byte, text string, ts float64) {
		checkCodec(t, content, text, ts)
	})
}

func BenchmarkCodec(b *testing.B) {
	in := []byte(`{"type":"direct_message","target":"load-0a1b2c-d1","content":"1234567890123|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	b.Run("decode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r request
			decode(in, &r)
		}
	})
	b.Run("decode/hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r request
			parseRequest(in, &r)
		}
	})
	var r request
	parseRequest(in, &r)
	m := directMessage{Type: TypeDirectMessage, From: "load-0a1b2c-d0", Content: r.Content, Timestamp: 1700000000.123456}
	c := deliveryConfirmation{Type: TypeDeliveryConfirmation, Target: r.Target, Status: StatusDelivered}
	b.Run("encode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(m)
			json.Marshal(c)
		}
	})
	b.Run("encode/hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeDirect(&m)
			encodeConfirmation(&c)
		}
	})
}
