package zmtp

import (
	"encoding/binary"
	"math/bits"

	"golang.org/x/crypto/poly1305" //nolint:staticcheck // SA1019: the MAC of NaCl's secretbox, used exactly as secretbox does
	"golang.org/x/crypto/salsa20/salsa"
)

// The data phase seals and opens MESSAGEs with NaCl's secretbox
// (XSalsa20-Poly1305), producing exactly the bytes nacl/secretbox would
// (tests check this against it). It is built here from its parts because
// CURVE's MESSAGE nonces share a fixed 16-byte prefix per direction, so the
// XSalsa20 subkey, HSalsa20(prefix, key), is the same for every message and
// is computed once; and because small messages fit in the first keystream
// block, which a plain Go Salsa20 core makes far cheaper than the assembly
// stream (built for long runs). Opening works in place.

// boxKey is one direction's XSalsa20 subkey.
type boxKey [32]byte

// newBoxKey derives the subkey for nonces that start with prefix (16 bytes)
// under the precomputed box key.
func newBoxKey(prefix string, shared *[32]byte) boxKey {
	var in [16]byte
	copy(in[:], prefix)
	var k [32]byte
	salsa.HSalsa20(&k, &in, shared, &salsa.Sigma)
	return boxKey(k)
}

// salsaBlock computes Salsa20/20 keystream block in (8-byte nonce, 8-byte
// little-endian block counter) under key.
func salsaBlock(out *[64]byte, in *[16]byte, key *boxKey) {
	const (
		s0 = 0x61707865 // "expa"
		s1 = 0x3320646e // "nd 3"
		s2 = 0x79622d32 // "2-by"
		s3 = 0x6b206574 // "te k"
	)
	le := binary.LittleEndian
	j0, j1, j2, j3 := uint32(s0), le.Uint32(key[0:]), le.Uint32(key[4:]), le.Uint32(key[8:])
	j4, j5, j6, j7 := le.Uint32(key[12:]), uint32(s1), le.Uint32(in[0:]), le.Uint32(in[4:])
	j8, j9, j10, j11 := le.Uint32(in[8:]), le.Uint32(in[12:]), uint32(s2), le.Uint32(key[16:])
	j12, j13, j14, j15 := le.Uint32(key[20:]), le.Uint32(key[24:]), le.Uint32(key[28:]), uint32(s3)
	x0, x1, x2, x3, x4, x5, x6, x7 := j0, j1, j2, j3, j4, j5, j6, j7
	x8, x9, x10, x11, x12, x13, x14, x15 := j8, j9, j10, j11, j12, j13, j14, j15
	rl := bits.RotateLeft32
	for range 10 {
		// Column round.
		x4 ^= rl(x0+x12, 7)
		x8 ^= rl(x4+x0, 9)
		x12 ^= rl(x8+x4, 13)
		x0 ^= rl(x12+x8, 18)
		x9 ^= rl(x5+x1, 7)
		x13 ^= rl(x9+x5, 9)
		x1 ^= rl(x13+x9, 13)
		x5 ^= rl(x1+x13, 18)
		x14 ^= rl(x10+x6, 7)
		x2 ^= rl(x14+x10, 9)
		x6 ^= rl(x2+x14, 13)
		x10 ^= rl(x6+x2, 18)
		x3 ^= rl(x15+x11, 7)
		x7 ^= rl(x3+x15, 9)
		x11 ^= rl(x7+x3, 13)
		x15 ^= rl(x11+x7, 18)
		// Row round.
		x1 ^= rl(x0+x3, 7)
		x2 ^= rl(x1+x0, 9)
		x3 ^= rl(x2+x1, 13)
		x0 ^= rl(x3+x2, 18)
		x6 ^= rl(x5+x4, 7)
		x7 ^= rl(x6+x5, 9)
		x4 ^= rl(x7+x6, 13)
		x5 ^= rl(x4+x7, 18)
		x11 ^= rl(x10+x9, 7)
		x8 ^= rl(x11+x10, 9)
		x9 ^= rl(x8+x11, 13)
		x10 ^= rl(x9+x8, 18)
		x12 ^= rl(x15+x14, 7)
		x13 ^= rl(x12+x15, 9)
		x14 ^= rl(x13+x12, 13)
		x15 ^= rl(x14+x13, 18)
	}
	le.PutUint32(out[0:], x0+j0)
	le.PutUint32(out[4:], x1+j1)
	le.PutUint32(out[8:], x2+j2)
	le.PutUint32(out[12:], x3+j3)
	le.PutUint32(out[16:], x4+j4)
	le.PutUint32(out[20:], x5+j5)
	le.PutUint32(out[24:], x6+j6)
	le.PutUint32(out[28:], x7+j7)
	le.PutUint32(out[32:], x8+j8)
	le.PutUint32(out[36:], x9+j9)
	le.PutUint32(out[40:], x10+j10)
	le.PutUint32(out[44:], x11+j11)
	le.PutUint32(out[48:], x12+j12)
	le.PutUint32(out[52:], x13+j13)
	le.PutUint32(out[56:], x14+j14)
	le.PutUint32(out[60:], x15+j15)
}

// boxFirst returns the stream's counter block for short nonce n and its
// first keystream block (the Poly1305 key, then 32 bytes of stream).
func boxFirst(n uint64, key *boxKey) (ctr [16]byte, blk [64]byte) {
	binary.BigEndian.PutUint64(ctr[:8], n) // the nonce's last 8 bytes, as sent
	salsaBlock(&blk, &ctr, key)
	return ctr, blk
}

// boxSeal appends secretbox(head + body) under key and short nonce n:
// the 16-byte tag, then the ciphertext. head is one byte (MESSAGE flags).
func boxSeal(dst []byte, head byte, body []byte, n uint64, key *boxKey) []byte {
	ctr, blk := boxFirst(n, key)
	tagAt := len(dst)
	dst = append(dst, make([]byte, poly1305.TagSize)...)
	ct := len(dst)
	dst = append(dst, head^blk[32])
	first := body[:min(len(body), 31)]
	for i, b := range first {
		dst = append(dst, b^blk[33+i])
	}
	if rest := body[len(first):]; len(rest) > 0 {
		at := len(dst)
		dst = append(dst, rest...) // grows dst; the stream overwrites it in place
		ctr[8] = 1
		salsaXORKeyStream(dst[at:], dst[at:], &ctr, (*[32]byte)(key))
	}
	var tag [poly1305.TagSize]byte
	poly1305.Sum(&tag, dst[ct:], (*[32]byte)(blk[:32]))
	copy(dst[tagAt:], tag[:])
	clear(blk[:])
	return dst
}

// boxOpen authenticates and decrypts sealed (tag + ciphertext) in place and
// returns the plaintext, which aliases sealed[16:].
func boxOpen(sealed []byte, n uint64, key *boxKey) ([]byte, bool) {
	if len(sealed) < poly1305.TagSize {
		return nil, false
	}
	ctr, blk := boxFirst(n, key)
	tag := (*[poly1305.TagSize]byte)(sealed[:poly1305.TagSize])
	ct := sealed[poly1305.TagSize:]
	if !poly1305.Verify(tag, ct, (*[32]byte)(blk[:32])) {
		return nil, false
	}
	first := ct[:min(len(ct), 32)]
	for i := range first {
		first[i] ^= blk[32+i]
	}
	if rest := ct[len(first):]; len(rest) > 0 {
		ctr[8] = 1
		salsaXORKeyStream(rest, rest, &ctr, (*[32]byte)(key))
	}
	clear(blk[:])
	return ct, true
}
