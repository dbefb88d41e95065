//go:build amd64 && !purego

package zmtp

import (
	"crypto/subtle"
	"encoding/binary"

	"golang.org/x/crypto/salsa20/salsa"
	"golang.org/x/sys/cpu"
)

// Salsa20 keystream code paths. x/crypto's amd64 stream is 128-bit SSE2;
// the vector kernels here run 16 (AVX-512) or 8 (AVX2) blocks side by side,
// one block per 32-bit vector lane.
const (
	salsaGeneric = iota // x/crypto
	salsaAVX2
	salsaAVX512
)

var salsaPathNames = [...]string{"generic", "avx2", "avx512"}

// salsaPath is the path salsaXORKeyStream uses: the best this CPU (and OS)
// supports. HasAVX512F and HasAVX2 already require the OS to save the
// vector state.
var salsaPath = func() int {
	switch {
	case salsaPathAvailable(salsaAVX512):
		return salsaAVX512
	case salsaPathAvailable(salsaAVX2):
		return salsaAVX2
	}
	return salsaGeneric
}()

func salsaPathAvailable(p int) bool {
	switch p {
	case salsaGeneric:
		return true
	case salsaAVX2:
		return cpu.X86.HasAVX2
	case salsaAVX512:
		// VPROLD and the 32 zmm registers are AVX-512F; nothing else needed.
		return cpu.X86.HasAVX512F
	}
	return false
}

// salsaXOR16AVX512 XORs in with batches*16 keystream blocks into out.
// state is the Salsa20 input matrix; its words 8 and 9 (the 64-bit block
// counter) give the first block, and are not written back.
//
//go:noescape
func salsaXOR16AVX512(out, in *byte, batches int, state *[16]uint32)

// salsaXOR8AVX2 is salsaXOR16AVX512 with batches of 8 blocks.
//
//go:noescape
func salsaXOR8AVX2(out, in *byte, batches int, state *[16]uint32)

// salsaXORKeyStream is x/crypto's salsa.XORKeyStream (Salsa20/20, counter
// = 8-byte nonce then 8-byte little-endian block counter), faster on CPUs
// with AVX2 or AVX-512. out and in must overlap entirely or not at all.
func salsaXORKeyStream(out, in []byte, counter *[16]byte, key *[32]byte) {
	salsaXORKeyStreamPath(salsaPath, out, in, counter, key)
}

// Up to this many bytes (left over after whole batches, or in all), the
// pure-Go salsaBlock is cheaper than a whole batch of keystream; x/crypto's
// stream is slower than both for lengths that are not a multiple of 256.
const salsaSmall = 2 * 64

func salsaXORKeyStreamPath(path int, out, in []byte, counter *[16]byte, key *[32]byte) {
	if len(in) == 0 {
		return
	}
	out = out[:len(in)] // panics, like x/crypto, if out is short

	var batch int
	switch path {
	case salsaAVX512:
		batch = 16 * 64
	case salsaAVX2:
		batch = 8 * 64
	default:
		salsa.XORKeyStream(out, in, counter, key)
		return
	}
	if len(in) <= salsaSmall {
		salsaXORBlocks(out, in, *counter, key)
		return
	}

	le := binary.LittleEndian
	st := [16]uint32{
		0x61707865, le.Uint32(key[0:]), le.Uint32(key[4:]), le.Uint32(key[8:]),
		le.Uint32(key[12:]), 0x3320646e, le.Uint32(counter[0:]), le.Uint32(counter[4:]),
		le.Uint32(counter[8:]), le.Uint32(counter[12:]), 0x79622d32, le.Uint32(key[16:]),
		le.Uint32(key[20:]), le.Uint32(key[24:]), le.Uint32(key[28:]), 0x6b206574,
	}
	// Direct calls, not a func value, so that st and ks stay on the stack.
	kernel := func(out, in *byte, n int, st *[16]uint32) {
		if path == salsaAVX512 {
			salsaXOR16AVX512(out, in, n, st)
		} else {
			salsaXOR8AVX2(out, in, n, st)
		}
	}
	if n := len(in) / batch; n > 0 {
		kernel(&out[0], &in[0], n, &st)
		in, out = in[n*batch:], out[n*batch:]
		// The 64-bit block counter wraps, as in x/crypto.
		c := (uint64(st[8]) | uint64(st[9])<<32) + uint64(n*batch/64)
		st[8], st[9] = uint32(c), uint32(c>>32)
	}
	switch {
	case len(in) == 0:
	case len(in) <= salsaSmall:
		ctr := *counter
		le.PutUint32(ctr[8:], st[8])
		le.PutUint32(ctr[12:], st[9])
		salsaXORBlocks(out, in, ctr, key)
	default:
		// One more batch of keystream (XORed into zeros), then XOR the tail.
		var ks [16 * 64]byte
		kernel(&ks[0], &ks[0], 1, &st)
		subtle.XORBytes(out, in, ks[:len(in)])
		clear(ks[:])
	}
}

// salsaXORBlocks is the stream one block at a time with salsaBlock.
func salsaXORBlocks(out, in []byte, ctr [16]byte, key *[32]byte) {
	var blk [64]byte
	for len(in) > 0 {
		salsaBlock(&blk, &ctr, (*boxKey)(key))
		n := subtle.XORBytes(out, in, blk[:min(len(in), 64)])
		in, out = in[n:], out[n:]
		c := binary.LittleEndian.Uint64(ctr[8:]) + 1
		binary.LittleEndian.PutUint64(ctr[8:], c)
	}
	clear(blk[:])
}
