package z85

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// RFC 32's test case.
func TestRFCVector(t *testing.T) {
	src := []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}
	s, err := Encode(src)
	if err != nil || s != "HelloWorld" {
		t.Fatalf("Encode = %q, %v; want HelloWorld", s, err)
	}
	b, err := Decode("HelloWorld")
	if err != nil || !bytes.Equal(b, src) {
		t.Fatalf("Decode = %x, %v; want %x", b, err, src)
	}
}

// A CURVE key pair from libzmq's test suite, checked with pyzmq
// (zmq.curve_public): both halves are 40 characters and round-trip.
func TestCurveKeys(t *testing.T) {
	for _, k := range []string{
		"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
		"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
	} {
		b, err := Decode(k)
		if err != nil || len(b) != 32 {
			t.Fatalf("Decode(%q) = %d bytes, %v", k, len(b), err)
		}
		s, err := Encode(b)
		if err != nil || s != k {
			t.Fatalf("Encode(Decode(%q)) = %q, %v", k, s, err)
		}
	}
}

func TestEdges(t *testing.T) {
	for _, c := range []struct {
		b []byte
		s string
	}{
		{nil, ""},
		{[]byte{0, 0, 0, 0}, "00000"},
		{[]byte{0xff, 0xff, 0xff, 0xff}, "%nSc0"},
	} {
		s, err := Encode(c.b)
		if err != nil || s != c.s {
			t.Errorf("Encode(%x) = %q, %v; want %q", c.b, s, err, c.s)
		}
		b, err := Decode(c.s)
		if err != nil || !bytes.Equal(b, c.b) {
			t.Errorf("Decode(%q) = %x, %v; want %x", c.s, b, err, c.b)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 64; n += 4 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		s, err := Encode(b)
		if err != nil || len(s) != EncodedLen(n) {
			t.Fatalf("Encode(%d bytes) = %q, %v", n, s, err)
		}
		d, err := Decode(s)
		if err != nil || !bytes.Equal(d, b) || len(d) != DecodedLen(len(s)) {
			t.Fatalf("Decode(Encode(%x)) = %x, %v", b, d, err)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 31, 33} {
		if _, err := Encode(make([]byte, n)); !errors.Is(err, ErrLength) {
			t.Errorf("Encode(%d bytes): %v, want ErrLength", n, err)
		}
	}
	for _, s := range []string{"1", "1234", "123456", "HelloWorl"} {
		if _, err := Decode(s); !errors.Is(err, ErrLength) {
			t.Errorf("Decode(%q): %v, want ErrLength", s, err)
		}
	}
	for _, c := range []struct {
		s   string
		off int
		ch  byte
	}{
		{"Hello Worl", 5, ' '},
		{"\"elloWorld", 0, '"'},
		{"HelloWorl~", 9, '~'},
		{"Hello\x00orld", 5, 0},
		{"Hell\xffWorld", 4, 0xff},
		{"abcd'", 4, '\''},
		{"abcd,", 4, ','},
		{"abcd;", 4, ';'},
		{"abcd\\", 4, '\\'},
		{"abcd_", 4, '_'},
		{"abcd`", 4, '`'},
		{"abcd|", 4, '|'},
	} {
		_, err := Decode(c.s)
		var ce CorruptInputError
		if !errors.As(err, &ce) || ce.Offset != c.off || ce.Char != c.ch || ce.Overflow {
			t.Errorf("Decode(%q): %v, want invalid %q at %d", c.s, err, c.ch, c.off)
		}
	}
	// "%nSc0" is 2^32-1; "%nSc1" is 2^32 and "#####" far above.
	for _, s := range []string{"%nSc1", "00000#####"} {
		_, err := Decode(s)
		var ce CorruptInputError
		if !errors.As(err, &ce) || !ce.Overflow {
			t.Errorf("Decode(%q): %v, want overflow", s, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("HelloWorld")
	f.Add("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
	f.Add("%nSc1")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err != nil {
			return
		}
		e, err := Encode(b)
		if err != nil || e != s {
			t.Fatalf("Encode(Decode(%q)) = %q, %v", s, e, err)
		}
	})
}

func BenchmarkEncodeKey(b *testing.B) {
	k := make([]byte, 32)
	dst := make([]byte, 0, 40)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = AppendEncode(dst[:0], k)
	}
}
