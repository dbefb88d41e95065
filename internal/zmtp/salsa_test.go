package zmtp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/salsa20/salsa"
)

// salsaPaths lists the keystream paths this machine can run, so that every
// one of them is tested here, not only the one salsaXORKeyStream picks.
func salsaPaths(t testing.TB) []int {
	var ps []int
	for p, name := range salsaPathNames {
		if salsaPathAvailable(p) {
			ps = append(ps, p)
		} else {
			t.Logf("salsa path %s: not supported here, not tested", name)
		}
	}
	return ps
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkSalsa runs path on in (out of place into a buffer with slack, and in
// place) and compares with x/crypto; off shifts the slices' starts.
func checkSalsa(t *testing.T, path int, in []byte, ctr *[16]byte, key *[32]byte, inOff, outOff int) {
	t.Helper()
	want := make([]byte, len(in))
	salsa.XORKeyStream(want, in, ctr, key)

	ctrBefore := *ctr
	src := make([]byte, inOff+len(in))
	copy(src[inOff:], in)
	dst := make([]byte, outOff+len(in)+40)
	for i := range dst {
		dst[i] = 0xa5
	}
	salsaXORKeyStreamPath(path, dst[outOff:], src[inOff:], ctr, key)
	name := salsaPathNames[path]
	if *ctr != ctrBefore {
		t.Fatalf("%s len %d: counter modified", name, len(in))
	}
	if !bytes.Equal(dst[outOff:outOff+len(in)], want) {
		t.Fatalf("%s len %d ctr %x in+%d out+%d: differs from x/crypto at byte %d",
			name, len(in), ctr[8:], inOff, outOff, firstDiff(dst[outOff:], want))
	}
	for i, b := range dst {
		if (i < outOff || i >= outOff+len(in)) && b != 0xa5 {
			t.Fatalf("%s len %d: wrote outside out[:len(in)] at %d", name, len(in), i-outOff)
		}
	}
	if !bytes.Equal(src[inOff:], in) {
		t.Fatalf("%s len %d: modified in", name, len(in))
	}

	// In place.
	copy(src[inOff:], in)
	salsaXORKeyStreamPath(path, src[inOff:], src[inOff:], ctr, key)
	if !bytes.Equal(src[inOff:], want) {
		t.Fatalf("%s len %d ctr %x in place: differs from x/crypto at byte %d",
			name, len(in), ctr[8:], firstDiff(src[inOff:], want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func randKeyCtr(r *rand.Rand) (key [32]byte, ctr [16]byte) {
	copy(key[:], randBytes(r, 32))
	copy(ctr[:], randBytes(r, 16))
	return
}

// Every length up to a few batches, around every batch and block boundary.
func TestSalsaXORLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, path := range salsaPaths(t) {
		for n := 0; n <= 2100; n++ {
			key, ctr := randKeyCtr(r)
			binary.LittleEndian.PutUint64(ctr[8:], r.Uint64N(1<<20))
			in := randBytes(r, n)
			checkSalsa(t, path, in, &ctr, &key, n%3, n%5)
		}
		for _, n := range []int{65536, 65536 + 33, 65536 - 31, 3*1024 + 128, 3*1024 + 129, 5*512 + 129} {
			key, ctr := randKeyCtr(r)
			in := randBytes(r, n)
			checkSalsa(t, path, in, &ctr, &key, 0, 0)
			checkSalsa(t, path, in, &ctr, &key, 1, 3)
		}
	}
}

// The 64-bit block counter carries from its low to its high word inside a
// batch and between batches, and wraps at 2^64, as in x/crypto.
func TestSalsaXORCounterCarry(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	counters := []uint64{
		0, 1<<32 - 1, 1<<32 - 3, 1<<32 - 8, 1<<32 - 15, 1<<32 - 16, 1<<32 - 17, 1<<32 - 40,
		1<<40 - 5, 1<<48 - 9, 1<<56 - 2, 1<<64 - 1, 1<<64 - 2, 1<<64 - 16, 1<<64 - 20, 1<<64 - 70,
		0x00000001_fffffff9, 0xfffffffe_fffffffd,
	}
	lengths := []int{1, 63, 64, 65, 191, 192, 320, 511, 512, 513, 1023, 1024, 1025,
		1500, 2047, 2048, 2049, 3000, 4096 + 17, 5000}
	for _, path := range salsaPaths(t) {
		for _, c := range counters {
			for _, n := range lengths {
				key, ctr := randKeyCtr(r)
				binary.LittleEndian.PutUint64(ctr[8:], c)
				checkSalsa(t, path, randBytes(r, n), &ctr, &key, 1, 3)
			}
		}
	}
}

// out may be longer than in; out shorter than in panics, as in x/crypto.
func TestSalsaXORShortOut(t *testing.T) {
	var key [32]byte
	var ctr [16]byte
	for _, path := range salsaPaths(t) {
		for _, n := range []int{1, 100, 2000} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: out of %d bytes for %d: no panic", salsaPathNames[path], n-1, n)
					}
				}()
				salsaXORKeyStreamPath(path, make([]byte, n-1), make([]byte, n), &ctr, &key)
			}()
		}
		salsaXORKeyStreamPath(path, nil, nil, &ctr, &key) // nothing to do
	}
}

func FuzzSalsaXOR(f *testing.F) {
	f.Add([]byte("hello"), []byte("key"), uint64(0), uint64(0), uint8(0))
	f.Add(make([]byte, 1100), []byte{1, 2, 3}, uint64(7), uint64(1<<32-5), uint8(1))
	f.Add(make([]byte, 2100), []byte{9}, uint64(1), uint64(1<<64-9), uint8(6))
	f.Fuzz(func(t *testing.T, in, keyb []byte, nonce, count uint64, offs uint8) {
		var key [32]byte
		var ctr [16]byte
		copy(key[:], keyb)
		binary.LittleEndian.PutUint64(ctr[:8], nonce)
		binary.LittleEndian.PutUint64(ctr[8:], count)
		for _, path := range salsaPaths(t) {
			checkSalsa(t, path, in, &ctr, &key, int(offs&3), int(offs>>2&7))
		}
	})
}

func BenchmarkSalsaXOR(b *testing.B) {
	var key [32]byte
	var ctr [16]byte
	for _, size := range []int{64 << 10, 1 << 10} {
		buf := make([]byte, size)
		b.Run(fmt.Sprintf("x-crypto/%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				salsa.XORKeyStream(buf, buf, &ctr, &key)
			}
		})
		for _, path := range salsaPaths(b) {
			b.Run(fmt.Sprintf("%s/%d", salsaPathNames[path], size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					salsaXORKeyStreamPath(path, buf, buf, &ctr, &key)
				}
			})
		}
	}
}
