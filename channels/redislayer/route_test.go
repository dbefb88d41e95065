package redislayer

import (
	"bytes"
	"testing"
)

func TestPackUnpack(t *testing.T) {
	body, _ := appendMap(nil, map[string]any{"type": "x", "n": int64(3)}, 0)
	for _, ch := range []string{"plain", "specific.abc!def"} {
		b, err := Pack(ch, body)
		if err != nil {
			t.Fatal(err)
		}
		chs, got, err := Unpack(b)
		if err != nil {
			t.Fatal(err)
		}
		m, err := decodeMessage(got)
		if err != nil || m["type"] != "x" || m["n"] != int64(3) {
			t.Fatalf("%s: %v %v", ch, m, err)
		}
		if ch == "plain" && (chs != nil || !bytes.Equal(got, body)) {
			t.Fatalf("plain: %v %x", chs, got)
		}
		if ch != "plain" && (len(chs) != 1 || chs[0] != ch) {
			t.Fatalf("process: %v", chs)
		}
	}
	if _, err := Pack("x", []byte{0x91, 0x01}); err == nil {
		t.Fatal("Pack took a list")
	}
}

// FuzzUnpack: whatever Redis holds, Unpack errors or returns a body that
// decodes as a map, and never panics.
func FuzzUnpack(f *testing.F) {
	body, _ := appendMap(nil, map[string]any{"type": "x"}, 0)
	p1, _ := Pack("plain", body)
	p2, _ := Pack("specific.a!b", body)
	for _, s := range [][]byte{p1, p2, nil, make([]byte, 12), append(make([]byte, 12), 0x81, 0xa1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, body, err := Unpack(b)
		if err != nil {
			return
		}
		if _, err := decodeMessage(body); err != nil {
			t.Fatalf("Unpack's body does not decode: %v", err)
		}
	})
}
