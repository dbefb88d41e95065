package redislayer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The vectors of channels_redis 4.0's test_serialize and test_deserialize.
func TestSerializeVector(t *testing.T) {
	b, err := encode(map[string]any{"a": true, "b": nil, "c": map[string]any{"d": []any{}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("\x83\xa1a\xc3\xa1b\xc0\xa1c\x81\xa1d\x90")
	if len(b) != randomPrefixLen+len(want) || !bytes.Equal(b[randomPrefixLen:], want) {
		t.Fatalf("encode = % x, want 12 random bytes then % x", b, want)
	}
	b2, _ := encode(map[string]any{})
	if bytes.Equal(b[:randomPrefixLen], b2[:randomPrefixLen]) {
		t.Fatal("two messages got the same random prefix")
	}
	m, err := decode([]byte("Q\x0c\xbb?Q\xbc\xe3|D\xfd9\x00\x83\xa1a\xc3\xa1b\xc0\xa1c\x81\xa1d\x90"))
	if err != nil {
		t.Fatal(err)
	}
	wantM := map[string]any{"a": true, "b": nil, "c": map[string]any{"d": []any{}}}
	if !reflect.DeepEqual(m, wantM) {
		t.Fatalf("decode = %#v, want %#v", m, wantM)
	}
}

func TestMsgpackRoundTrip(t *testing.T) {
	ts := time.Date(2026, 12, 4, 5, 6, 7, 890, time.UTC)
	in := map[string]any{
		"ints":   []any{0, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, int64(math.MinInt64)},
		"big":    uint64(math.MaxUint64),
		"float":  1.5,
		"f32":    float32(0.25),
		"str":    strings.Repeat("é", 40),
		"long":   strings.Repeat("x", 70000),
		"bin":    []byte{0, 1, 2},
		"bigbin": bytes.Repeat([]byte{7}, 300),
		"list":   []string{"a", "b"},
		"map":    map[string]any{"k": []any{nil, false}},
		"int":    map[any]any{int64(1): "one"},
		"time":   ts,
		"sec":    time.Unix(1700000000, 0).UTC(),
		"old":    time.Unix(-5, 3).UTC(),
		"ext":    Ext{Type: 5, Data: []byte("abc")},
	}
	b, err := encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"ints": []any{int64(0), int64(127), int64(128), int64(255), int64(256), int64(65535), int64(65536), int64(math.MaxUint32), int64(math.MaxUint32 + 1),
			int64(-1), int64(-32), int64(-33), int64(-128), int64(-129), int64(-32768), int64(-32769), int64(math.MinInt32), int64(math.MinInt32 - 1), int64(math.MinInt64)},
		"big": uint64(math.MaxUint64), "float": 1.5, "f32": 0.25,
		"str": in["str"], "long": in["long"], "bin": []byte{0, 1, 2}, "bigbin": in["bigbin"],
		"list": []any{"a", "b"}, "map": map[string]any{"k": []any{nil, false}},
		"int": map[any]any{int64(1): "one"}, "time": ts, "sec": in["sec"], "old": in["old"],
		"ext": in["ext"],
	}
	if !reflect.DeepEqual(out, want) {
		for k := range want {
			if !reflect.DeepEqual(out[k], want[k]) {
				t.Errorf("%s: got %#v, want %#v", k, out[k], want[k])
			}
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	if _, err := encode(map[string]any{"c": make(chan int)}); err == nil {
		t.Fatal("encoded a channel")
	}
	deep := map[string]any{}
	cur := deep
	for range maxDepth + 2 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	if _, err := encode(deep); err == nil {
		t.Fatal("encoded past the depth limit")
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, h := range map[string]string{
		"short prefix":    "0102",
		"not a map":       "000000000000000000000000" + "90",
		"truncated str":   "000000000000000000000000" + "81a161a5616263",
		"trailing":        "000000000000000000000000" + "80c0",
		"huge array":      "000000000000000000000000" + "81a161ddffffffff",
		"huge map":        "000000000000000000000000" + "dfffffffff",
		"bad utf8":        "000000000000000000000000" + "81a2c328c0",
		"unused byte":     "000000000000000000000000" + "81a161c1",
		"unhashable key":  "000000000000000000000000" + "8190c0",
		"bad timestamp":   "000000000000000000000000" + "81a161d6ff" + "0000",
		"nsec over range": "000000000000000000000000" + "81a161d7ff" + "ffffffff00000000",
	} {
		b, _ := hex.DecodeString(h)
		if _, err := decode(b); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: err = %v, want ErrDecode", name, err)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, maxDepth+5)
	if _, err := decodeMessage(append([]byte{0x81, 0xa1, 'a'}, append(deep, 0xc0)...)); !errors.Is(err, ErrDecode) {
		t.Errorf("deep nesting: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("Q\x0c\xbb?Q\xbc\xe3|D\xfd9\x00\x83\xa1a\xc3\xa1b\xc0\xa1c\x81\xa1d\x90"))
	b, _ := encode(map[string]any{"type": "chat.message", "__asgi_channel__": []string{"a", "b!c"}, "n": -3, "b": []byte{1}, "t": time.Unix(5, 6)})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes and decodes to the same.
		b2, err := encode(m)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", m, err)
		}
		m2, err := decode(b2)
		if err != nil || !reflect.DeepEqual(normNaN(m), normNaN(m2)) {
			t.Fatalf("round trip: %#v -> %#v (%v)", m, m2, err)
		}
	})
}

// normNaN makes NaN floats comparable for DeepEqual.
func normNaN(v any) any {
	switch v := v.(type) {
	case float64:
		if v != v {
			return "NaN"
		}
	case map[string]any:
		o := map[string]any{}
		for k, x := range v {
			o[k] = normNaN(x)
		}
		return o
	case map[any]any:
		o := map[any]any{}
		for k, x := range v {
			o[k] = normNaN(x)
		}
		return o
	case []any:
		o := make([]any, len(v))
		for i, x := range v {
			o[i] = normNaN(x)
		}
		return o
	}
	return v
}
