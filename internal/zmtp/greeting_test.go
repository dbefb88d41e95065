package zmtp

import (
	"bytes"
	"errors"
	"testing"
)

func TestGreetingRoundTrip(t *testing.T) {
	for _, mech := range []string{MechNull, "PLAIN", "CURVE", "GSSAPI", "A", "X-9_.+", "ABCDEFGHIJKLMNOPQRST"} {
		for _, asServer := range []bool{false, true} {
			b := AppendGreeting([]byte("keep"), mech, asServer)
			if string(b[:4]) != "keep" || len(b) != 4+GreetingSize {
				t.Fatalf("AppendGreeting(%q) appended %d bytes", mech, len(b)-4)
			}
			b = b[4:]
			g, err := ParseGreeting(b)
			want := Greeting{Major: MajorVersion, Minor: MinorVersion, Mechanism: mech, AsServer: asServer}
			if err != nil || g != want {
				t.Fatalf("ParseGreeting(AppendGreeting(%q, %v)) = %+v, %v", mech, asServer, g, err)
			}
			if !bytes.Equal(b[SignatureSize+1:], AppendRest(nil, mech, asServer)) || len(AppendRest(nil, mech, asServer)) != RestSize {
				t.Fatalf("AppendRest(%q) differs from AppendGreeting's tail", mech)
			}
			if !bytes.Equal(b[33:], make([]byte, 31)) {
				t.Fatalf("filler not zero: %x", b[33:])
			}
		}
	}
	sig := Signature()
	if !bytes.Equal(sig[:], []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f}) {
		t.Fatalf("Signature = %x", sig)
	}
}

// greeting builds a 64-byte greeting from libzmq's NULL greeting with edits.
func greeting(edit func(b []byte)) []byte {
	b := AppendGreeting(nil, MechNull, false)
	if edit != nil {
		edit(b)
	}
	return b
}

func TestParseGreetingErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
		g    Greeting
	}{
		{"libzmq", greeting(nil), nil, Greeting{3, 1, "NULL", false}},
		{"as-server", greeting(func(b []byte) { b[32] = 1 }), nil, Greeting{3, 1, "NULL", true}},
		{"minor 0", greeting(func(b []byte) { b[11] = 0 }), nil, Greeting{3, 0, "NULL", false}},
		{"minor 2", greeting(func(b []byte) { b[11] = 2 }), nil, Greeting{3, 2, "NULL", false}},
		{"minor 255", greeting(func(b []byte) { b[11] = 255 }), nil, Greeting{3, 255, "NULL", false}},
		{"major 4", greeting(func(b []byte) { b[10] = 4 }), nil, Greeting{4, 1, "NULL", false}},
		{"padding ignored", greeting(func(b []byte) { copy(b[1:9], "\x12\x34\x56\x78\x9a\xbc\xde\xf0") }), nil, Greeting{3, 1, "NULL", false}},
		{"signature byte 9 other bits", greeting(func(b []byte) { b[9] = 0x01 }), nil, Greeting{3, 1, "NULL", false}},
		{"filler ignored", greeting(func(b []byte) { b[40] = 0xaa }), nil, Greeting{3, 1, "NULL", false}},

		{"ZMTP 1.0 first byte", greeting(func(b []byte) { b[0] = 0x01 }), ErrOldVersion, Greeting{}},
		{"ZMTP 1.0 byte 9 bit 0", greeting(func(b []byte) { b[9] = 0x7e }), ErrOldVersion, Greeting{}},
		{"ZMTP 1.0 byte 9 zero", greeting(func(b []byte) { b[9] = 0 }), ErrOldVersion, Greeting{}},
		{"major 0", greeting(func(b []byte) { b[10] = 0 }), ErrOldVersion, Greeting{}},
		{"major 1", greeting(func(b []byte) { b[10] = 1 }), ErrOldVersion, Greeting{}},
		{"major 2", greeting(func(b []byte) { b[10] = 2 }), ErrOldVersion, Greeting{}},

		{"lowercase mechanism", greeting(func(b []byte) { copy(b[12:], "null") }), ErrBadMechanism, Greeting{}},
		{"space in mechanism", greeting(func(b []byte) { copy(b[12:], "NU LL") }), ErrBadMechanism, Greeting{}},
		{"empty mechanism", greeting(func(b []byte) { copy(b[12:], "\x00\x00\x00\x00") }), ErrBadMechanism, Greeting{}},
		{"garbage after NUL", greeting(func(b []byte) { b[12+10] = 'X' }), ErrBadMechanism, Greeting{}},
		{"byte 0xff in mechanism", greeting(func(b []byte) { b[13] = 0xff }), ErrBadMechanism, Greeting{}},

		{"short", greeting(nil)[:63], ErrBadSignature, Greeting{}},
		{"empty", nil, ErrBadSignature, Greeting{}},
	} {
		g, err := ParseGreeting(tc.b)
		if tc.err == nil && err != nil || !errors.Is(err, tc.err) || g != tc.g {
			t.Errorf("%s: ParseGreeting = %+v, %v; want %+v, %v", tc.name, g, err, tc.g, tc.err)
		}
	}
}

func TestGreetingPieces(t *testing.T) {
	// A 1.0 peer is recognisable from its first 10 bytes, before we have sent
	// more than our signature.
	if err := CheckSignature([]byte{0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrOldVersion) {
		t.Errorf("1.0 signature: %v", err)
	}
	sig := Signature()
	if err := CheckSignature(sig[:]); err != nil {
		t.Errorf("our signature: %v", err)
	}
	if err := CheckSignature(sig[:9]); !errors.Is(err, ErrBadSignature) {
		t.Errorf("9 bytes: %v", err)
	}
	for major := 0; major < 256; major++ {
		err := CheckMajor(byte(major))
		if (major < 3) != errors.Is(err, ErrOldVersion) || (major >= 3) != (err == nil) {
			t.Errorf("CheckMajor(%d) = %v", major, err)
		}
	}
	if _, err := ParseRest(3, make([]byte, RestSize-1)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("short rest: %v", err)
	}
	g, err := ParseRest(7, AppendRest(nil, "CURVE", true))
	if err != nil || g != (Greeting{7, 1, "CURVE", true}) {
		t.Errorf("ParseRest = %+v, %v", g, err)
	}
}

// Every byte value in each mechanism position: only A-Z 0-9 - _ . + are
// accepted, and NUL only as padding after a non-empty name.
func TestMechanismCharset(t *testing.T) {
	for c := 0; c < 256; c++ {
		valid := c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+'
		b := greeting(func(b []byte) { b[12+4] = byte(c) }) // "NULL" + c
		g, err := ParseGreeting(b)
		switch {
		case c == 0:
			if err != nil || g.Mechanism != "NULL" {
				t.Errorf("NUL: %v", err)
			}
		case valid:
			if err != nil || g.Mechanism != "NULL"+string(rune(c)) {
				t.Errorf("%q: %q %v", rune(c), g.Mechanism, err)
			}
		default:
			if !errors.Is(err, ErrBadMechanism) {
				t.Errorf("%#x: %v, want ErrBadMechanism", c, err)
			}
		}
	}
}
