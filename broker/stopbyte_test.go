package broker

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// stopByte's eight-at-a-time scan finds exactly the byte the plain loop
// finds, for every start, in strings where the stop bytes and their
// neighbours (0x1f/0x20, 0x21/0x23, 0x5b/0x5d, 0x7f/0x80, 0x00, 0xff) sit at
// every place of a word.
func TestStopByte(t *testing.T) {
	naive := func(b []byte, j int, ascii bool) int {
		for ; j < len(b); j++ {
			if c := b[j]; c == '"' || c == '\\' || c < ' ' || ascii && c >= utf8.RuneSelf {
				return j
			}
		}
		return j
	}
	special := []byte{0x00, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 0x7f, 0x80, 0xff, 'a'}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 40; n++ {
		for range 300 {
			b := make([]byte, n)
			for i := range b {
				if r.IntN(4) == 0 {
					b[i] = special[r.IntN(len(special))]
				} else {
					b[i] = byte('a' + r.IntN(26))
				}
			}
			for j := 0; j <= n; j++ {
				for _, ascii := range []bool{false, true} {
					if got, want := stopByte(b, j, ascii), naive(b, j, ascii); got != want {
						t.Fatalf("stopByte(%q, %d, %v) = %d, want %d", b, j, ascii, got, want)
					}
				}
			}
		}
	}
}

// plainContent's eight-at-a-time scan agrees with the plain loop, with
// every byte that ends a plain content (and its neighbours) at every place
// of a word, and the string's end at every place too.
func TestPlainContent(t *testing.T) {
	naive := func(b []byte, i int) (int, bool) {
		for j := i + 1; j < len(b); j++ {
			switch c := b[j]; {
			case c == '"':
				return j + 1, true
			case c == '\\' || c == '<' || c == '>' || c == '&' || c == 0xe2 || c < ' ':
				return j, false
			}
		}
		return len(b), false
	}
	special := []byte{0x00, 0x1f, 0x20, '"', '\\', '<', '=', '>', '&', '%', 0xe1, 0xe2, 0xe3, 0x7f, 0x80, 0xff, 'a'}
	r := rand.New(rand.NewPCG(3, 4))
	for n := 1; n < 40; n++ {
		for range 300 {
			b := make([]byte, n)
			b[0] = '"'
			for i := 1; i < n; i++ {
				if r.IntN(5) == 0 {
					b[i] = special[r.IntN(len(special))]
				} else {
					b[i] = byte('a' + r.IntN(26))
				}
			}
			gotEnd, gotOK := plainContent(b, 0)
			wantEnd, wantOK := naive(b, 0)
			if gotOK != wantOK || gotOK && gotEnd != wantEnd {
				t.Fatalf("plainContent(%q) = %d, %v; want %d, %v", b, gotEnd, gotOK, wantEnd, wantOK)
			}
		}
	}
	for _, b := range []string{``, `x`, `1`, `{"a":1}`} {
		if _, ok := plainContent([]byte(b), 0); ok {
			t.Fatalf("plainContent(%q) took it for a string", b)
		}
	}
}
