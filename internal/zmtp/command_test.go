package zmtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		body       []byte
		name, data string
		err        error
	}{
		{[]byte("\x05READY"), "READY", "", nil},
		{[]byte("\x04PINGxyz"), "PING", "xyz", nil},
		{[]byte("\x01A"), "A", "", nil},
		{append([]byte{255}, bytes.Repeat([]byte("N"), 255)...), strings.Repeat("N", 255), "", nil},
		{nil, "", "", ErrMalformedCommand},
		{[]byte{}, "", "", ErrMalformedCommand},
		{[]byte{0}, "", "", ErrMalformedCommand},
		{[]byte("\x00data"), "", "", ErrMalformedCommand},
		{[]byte("\x05READ"), "", "", ErrMalformedCommand},
		{[]byte{255, 'a'}, "", "", ErrMalformedCommand},
	} {
		name, data, err := ParseCommand(tc.body)
		if !errors.Is(err, tc.err) || tc.err == nil && err != nil || string(name) != tc.name || string(data) != tc.data {
			t.Errorf("ParseCommand(%q) = %q, %q, %v; want %q, %q, %v", tc.body, name, data, err, tc.name, tc.data, tc.err)
		}
	}
}

func TestAppendCommandFrame(t *testing.T) {
	for _, dataLen := range []int{0, 1, 100, 255 - 6, 255 - 5, 1000} {
		data := pattern(dataLen)
		f := AppendCommandFrame(nil, CmdReady, data)
		flags, body, n, err := ParseFrame(f, 0)
		if err != nil || n != len(f) || flags&^FlagLong != FlagCommand {
			t.Fatalf("data %d: %#x %d %v", dataLen, flags, n, err)
		}
		if (flags&FlagLong != 0) != (len(body) > MaxShortSize) {
			t.Errorf("data %d: flags %#x for body %d", dataLen, flags, len(body))
		}
		name, got, err := ParseCommand(body)
		if err != nil || string(name) != CmdReady || !bytes.Equal(got, data) {
			t.Fatalf("data %d: %q %v", dataLen, name, err)
		}
	}
}

func TestMetadata(t *testing.T) {
	md := Metadata{
		{PropSocketType, []byte("DEALER")},
		{PropIdentity, nil},
		{"X-Custom_name.v+1", []byte("value")},
		{strings.Repeat("L", 255), pattern(300)},
	}
	b := AppendMetadata([]byte("pre"), md)
	if string(b[:3]) != "pre" || len(b)-3 != MetadataSize(md) {
		t.Fatalf("AppendMetadata wrote %d bytes, MetadataSize %d", len(b)-3, MetadataSize(md))
	}
	b = b[3:]
	got, err := ParseMetadata(b)
	if err != nil || !metadataEqual(got, md) {
		t.Fatalf("ParseMetadata = %s, %v", fmtMetadata(got), err)
	}
	// Values are copied out of the input.
	for i := range b {
		b[i] = 0xee
	}
	if !metadataEqual(got, md) {
		t.Fatalf("ParseMetadata result aliases input")
	}
	if m, err := ParseMetadata(nil); err != nil || len(m) != 0 {
		t.Errorf("ParseMetadata(nil) = %v, %v", m, err)
	}
	if MetadataSize(nil) != 0 || len(AppendMetadata(nil, nil)) != 0 {
		t.Errorf("empty metadata not empty")
	}
}

func TestMetadataGet(t *testing.T) {
	md := Metadata{{PropSocketType, []byte("ROUTER")}, {PropIdentity, nil}, {"x", []byte("1")}, {"X", []byte("2")}}
	for _, name := range []string{"Socket-Type", "socket-type", "SOCKET-TYPE", "sOcKeT-tYpE"} {
		if v, ok := md.Get(name); !ok || string(v) != "ROUTER" {
			t.Errorf("Get(%q) = %q, %v", name, v, ok)
		}
	}
	if v, ok := md.Get("identity"); !ok || len(v) != 0 {
		t.Errorf("Get(identity) = %q, %v", v, ok)
	}
	if v, ok := md.Get("X"); !ok || string(v) != "1" {
		t.Errorf("Get(X) = %q, %v; want the first match", v, ok)
	}
	for _, name := range []string{"Socket-Typ", "Socket-Type ", "", "User-Id"} {
		if v, ok := md.Get(name); ok {
			t.Errorf("Get(%q) = %q, true", name, v)
		}
	}
	var empty Metadata
	if _, ok := empty.Get(PropSocketType); ok {
		t.Error("Get on nil metadata")
	}
}

func TestParseMetadataErrors(t *testing.T) {
	prop := func(name string, vlen uint32, value string) []byte {
		b := append([]byte{byte(len(name))}, name...)
		b = binary.BigEndian.AppendUint32(b, vlen)
		return append(b, value...)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"name cut", []byte{5, 'a', 'b'}},
		{"length byte only", []byte{11}},
		{"value length cut", append([]byte{1, 'a'}, 0, 0, 0)},
		{"value cut", prop("a", 5, "abcd")},
		{"value length huge", prop("a", 0xffffffff, "abcd")},
		{"empty name", prop("", 0, "")},
		{"space in name", prop("a b", 0, "")},
		{"colon in name", prop("a:b", 0, "")},
		{"NUL in name", prop("a\x00", 0, "")},
		{"non-ASCII name", prop("é", 0, "")},
		{"second property bad", append(prop("Socket-Type", 3, "SUB"), prop("bad name", 0, "")...)},
		{"trailing byte", append(prop("Socket-Type", 3, "SUB"), 1)},
	} {
		md, err := ParseMetadata(tc.b)
		if !errors.Is(err, ErrMalformedMetadata) || md != nil {
			t.Errorf("%s: ParseMetadata(%x) = %v, %v; want ErrMalformedMetadata", tc.name, tc.b, md, err)
		}
	}
	// Punctuation allowed by RFC 23 (and letters of both cases).
	for _, name := range []string{"a", "Z", "0", "-", "_", ".", "+", "Aa-Zz_09.+"} {
		if _, err := ParseMetadata(prop(name, 1, "v")); err != nil {
			t.Errorf("name %q rejected: %v", name, err)
		}
	}

	// Every proper prefix of a valid block: fine at property boundaries,
	// ErrMalformedMetadata elsewhere.
	md := Metadata{{PropSocketType, []byte("DEALER")}, {PropIdentity, nil}, {"k", []byte("v")}}
	b := AppendMetadata(nil, md)
	bounds := map[int]int{0: 0}
	off := 0
	for i, p := range md {
		off += MetadataSize(Metadata{p})
		bounds[off] = i + 1
	}
	for i := 0; i < len(b); i++ {
		got, err := ParseMetadata(b[:i])
		if n, ok := bounds[i]; ok {
			if err != nil || !metadataEqual(got, md[:n]) {
				t.Errorf("prefix %d: %s, %v", i, fmtMetadata(got), err)
			}
		} else if !errors.Is(err, ErrMalformedMetadata) {
			t.Errorf("prefix %d: %v, want ErrMalformedMetadata", i, err)
		}
	}
}

func TestReadyAndError(t *testing.T) {
	md := Metadata{{PropSocketType, []byte(TypeReq)}, {PropIdentity, []byte("id")}}
	f := AppendReady([]byte{9}, md)[1:]
	_, body, _, err := ParseFrame(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	name, data, err := ParseCommand(body)
	if err != nil || string(name) != CmdReady {
		t.Fatal(name, err)
	}
	if got, err := ParseMetadata(data); err != nil || !metadataEqual(got, md) {
		t.Fatalf("READY metadata %s %v", fmtMetadata(got), err)
	}

	for _, reason := range []string{"", "x", "Socket type mismatch", strings.Repeat("r", 255), strings.Repeat("s", 300)} {
		f := AppendError(nil, reason)
		_, body, n, err := ParseFrame(f, 0)
		if err != nil || n != len(f) {
			t.Fatalf("ERROR frame: %v", err)
		}
		name, data, err := ParseCommand(body)
		if err != nil || string(name) != CmdError {
			t.Fatalf("ERROR command: %q %v", name, err)
		}
		got, err := ParseError(data)
		want := reason
		if len(want) > 255 {
			want = want[:255]
		}
		if err != nil || got != want {
			t.Fatalf("ParseError = %q, %v; want %q", got, err, want)
		}
	}
	if !bytes.Equal(AppendError(nil, "no"), []byte("\x04\x09\x05ERROR\x02no")) {
		t.Errorf("AppendError = %x", AppendError(nil, "no"))
	}
	for _, data := range [][]byte{nil, {}, {1}, {5, 'a', 'b'}, {255}} {
		if _, err := ParseError(data); !errors.Is(err, ErrMalformedCommand) {
			t.Errorf("ParseError(%x) = %v", data, err)
		}
	}
}

func TestPingPong(t *testing.T) {
	for ctxLen := 0; ctxLen <= MaxPingContext+2; ctxLen++ {
		ctx := pattern(ctxLen)
		f := AppendPing(nil, 0x1234, ctx)
		_, body, n, err := ParseFrame(f, 0)
		if err != nil || n != len(f) {
			t.Fatal(err)
		}
		name, data, err := ParseCommand(body)
		if err != nil || string(name) != CmdPing {
			t.Fatal(name, err)
		}
		ttl, got, err := ParsePing(data)
		want := ctx
		if len(want) > MaxPingContext {
			want = want[:MaxPingContext] // AppendPing cuts long contexts
		}
		if err != nil || ttl != 0x1234 || !bytes.Equal(got, want) {
			t.Fatalf("ctx %d: ParsePing = %#x %x %v", ctxLen, ttl, got, err)
		}
		pong := AppendPong(nil, got)
		_, body, _, _ = ParseFrame(pong, 0)
		name, data, err = ParseCommand(body)
		if err != nil || string(name) != CmdPong || !bytes.Equal(data, want) {
			t.Fatalf("PONG = %q %x %v", name, data, err)
		}
	}
	for _, n := range []int{0, 1, 2 + MaxPingContext + 1, 100} {
		if _, _, err := ParsePing(make([]byte, n)); !errors.Is(err, ErrMalformedCommand) {
			t.Errorf("ParsePing(%d bytes) = %v", n, err)
		}
	}
}

func TestSubscriptions(t *testing.T) {
	for _, tc := range []struct {
		got, want []byte
	}{
		{AppendSubscribe(nil, nil), []byte("\x04\x0a\x09SUBSCRIBE")},
		{AppendCancel(nil, nil), []byte("\x04\x07\x06CANCEL")},
		{AppendSubscription30(nil, true, []byte("AB")), []byte("\x00\x03\x01AB")},
		{AppendSubscription30(nil, false, []byte("AB")), []byte("\x00\x03\x00AB")},
		{AppendSubscription30(nil, true, nil), []byte("\x00\x01\x01")},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("got %x, want %x", tc.got, tc.want)
		}
	}
	long := pattern(400)
	f := AppendSubscribe(nil, long)
	flags, body, _, err := ParseFrame(f, 0)
	if err != nil || flags != FlagCommand|FlagLong {
		t.Fatal(flags, err)
	}
	if name, data, err := ParseCommand(body); err != nil || string(name) != CmdSubscribe || !bytes.Equal(data, long) {
		t.Fatal(name, err)
	}
}
