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
