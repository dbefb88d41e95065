package channels

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"testing"
	"time"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The properties frames DMB's client sends, byte for byte as msgspec 0.3.2
// encodes the dicts of channels_client.py, and what they decode to.
func TestPropsBytes(t *testing.T) {
	ts := time.Unix(1700000000, 123456000)
	cases := []struct {
		name  string
		hex   string
		props Props
	}{
		{"subscribe", "81" + "af" + hex.EncodeToString([]byte("subscriber_name")) + "c404" + hex.EncodeToString([]byte("chat")),
			Props{{"subscriber_name", []byte("chat")}}},
		{"send int ttl", "82" + "a374746c" + "3c" + "a361636b" + "c2", Props{{"ttl", int64(60)}, {"ack", false}}},
		{"send float ttl", "82" + "a374746c" + "cb3fe0000000000000" + "a361636b" + "c3", Props{{"ttl", 0.5}, {"ack", true}}},
		{"group add", "83" + "aa" + hex.EncodeToString([]byte("group_name")) + "c401" + "67" +
			"ac" + hex.EncodeToString([]byte("channel_name")) + "c401" + "63" + "a361636b" + "c3",
			Props{{"group_name", []byte("g")}, {"channel_name", []byte("c")}, {"ack", true}}},
		{"empty", "80", Props{}},
		// msgpack timestamp 64: nanoseconds<<34 | seconds.
		{"expiry", "81" + "a6" + hex.EncodeToString([]byte("expiry")) + "d7ff" + hex.EncodeToString(be64(uint64(123456000)<<34|1700000000)),
			Props{{"expiry", ts}}},
		// timestamp 32: whole seconds.
		{"expiry32", "81" + "a6" + hex.EncodeToString([]byte("expiry")) + "d6ff" + "6553f100", Props{{"expiry", time.Unix(1700000000, 0)}}},
		{"ints", "86" + "a161" + "7f" + "a162" + "cc80" + "a163" + "cd0100" + "a164" + "e0" + "a165" + "d0df" + "a166" + "cf" + "ffffffffffffffff",
			Props{{"a", int64(127)}, {"b", int64(128)}, {"c", int64(256)}, {"d", int64(-32)}, {"e", int64(-33)}, {"f", uint64(math.MaxUint64)}}},
		{"str and nil", "82" + "a9657863657074696f6e" + "a3" + "782829" + "a16e" + "c0", Props{{"exception", "x()"}, {"n", nil}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.hex)
			got, err := AppendProps(nil, c.props)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoded\n %x\nwant\n %x", got, want)
			}
			p, err := DecodeProps(want)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := AppendProps(nil, p)
			if !bytes.Equal(again, want) {
				t.Errorf("decoded %v re-encodes as %x", p, again)
			}
		})
	}
}

func be64(v uint64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[7-i] = byte(v >> (8 * i))
	}
	return b
}

func TestTimestamp96AndMicroseconds(t *testing.T) {
	// Beyond 2514 the 96-bit form; nanoseconds are cut to microseconds as
	// a Python datetime holds them.
	tm := time.Unix(1<<34, 1234567)
	got, err := AppendProps(nil, Props{{"t", tm}})
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, "81a174"+"c70cff"+"0012d450"+"0000000400000000")
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
}

// msgspec 0.3.2 ignores bytes after the value; so do we.
func TestDecodeTrailing(t *testing.T) {
	p, err := DecodeProps(unhex(t, "80ffff"))
	if err != nil || len(p) != 0 {
		t.Fatalf("got %v, %v", p, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, h := range []string{"", "c0", "7b", "81", "81a161", "8101c3", "dfffffffff", "81a161dd7fffffff",
		"81a161" + "91919191919191919191919191919191919191919191919191919191919191919191919191", "81a161c7010501"} {
		if _, err := DecodeProps(unhex(t, h)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err %v, want ErrFormat", h, err)
		}
	}
}

func TestDataFrames(t *testing.T) {
	id := bytes.Repeat([]byte{7}, 16)
	m := DataMessage{Channel: []byte("chat"), Command: CmdComplete, ID: id, Props: Props{}}
	fr, err := m.Frames()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("chat"), []byte("COMPLETE"), id, {0}, {0x80}, []byte("{}")}
	if len(fr) != 6 {
		t.Fatal(len(fr))
	}
	for i := range want {
		if !bytes.Equal(fr[i], want[i]) {
			t.Errorf("frame %d: %x want %x", i, fr[i], want[i])
		}
	}
	back, err := ParseData(fr)
	if err != nil || string(back.Channel) != "chat" || back.Command != CmdComplete || !bytes.Equal(back.Body, EmptyBody) {
		t.Fatalf("%+v %v", back, err)
	}
	if _, err := ParseData(fr[:5]); !errors.Is(err, ErrFormat) {
		t.Fatal(err)
	}
	if _, err := ParseSignal(fr[:2]); !errors.Is(err, ErrFormat) {
		t.Fatal(err)
	}
	env, rest, err := splitEnvelope([][]byte{{0, 1, 2, 3, 4}, {}, []byte("x")})
	if err != nil || len(env) != 1 || len(rest) != 1 {
		t.Fatal(env, rest, err)
	}
}

func TestMessageCodec(t *testing.T) {
	b, err := EncodeMessage(Message{"type": "chat.message", "n": 3, "raw": []byte{1}, "l": []any{"a", int64(1)}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage(b)
	if err != nil || m["type"] != "chat.message" || m["n"] != int64(3) || !bytes.Equal(m["raw"].([]byte), []byte{1}) {
		t.Fatalf("%v %v", m, err)
	}
	// DMB's empty body.
	if b, _ := EncodeMessage(Message{}); string(b) != "{}" {
		t.Fatalf("%q", b)
	}
	if m, err := DecodeMessage([]byte("{}")); err != nil || len(m) != 0 {
		t.Fatal(m, err)
	}
	if _, err := DecodeMessage([]byte{0x93, 1, 2, 3}); !errors.Is(err, ErrFormat) {
		t.Fatal(err)
	}
}

func TestNames(t *testing.T) {
	good := []string{"chat", "a.b-c_d", "specific.abc!def", "x!", "x!é1_"}
	bad := []string{"", "a b", "!x", "a/b", string(bytes.Repeat([]byte("a"), 100)), "a!b!c", "\xff"}
	for _, n := range good {
		if err := ValidChannelName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidChannelName(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q accepted", n)
		}
	}
	if err := ValidGroupName("room!1"); err == nil {
		t.Error("group with !")
	}
	if err := ValidChannelName(string(bytes.Repeat([]byte("a"), 99))); err != nil {
		t.Error(err)
	}
}

func TestCapacityRule(t *testing.T) {
	r, err := ParseCapacityRule("http.response!*=10")
	if err != nil || !r.match("http.response!abc") || r.match("http.request") || r.Capacity != 10 {
		t.Fatal(r, err)
	}
	for _, s := range []string{"x", "=3", "a=0", "a=b", "[=1"} {
		if _, err := ParseCapacityRule(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestPyRepr(t *testing.T) {
	if got := pyRepr("ChannelFull", "it's\n"); got != `ChannelFull('it\'s\n')` {
		t.Fatal(got)
	}
}
