//go:build !amd64 || purego

package zmtp

import "golang.org/x/crypto/salsa20/salsa"

// Without the amd64 kernels there is one path: x/crypto's.
const salsaGeneric = 0

var salsaPathNames = [...]string{"generic"}

var salsaPath = salsaGeneric

func salsaPathAvailable(p int) bool { return p == salsaGeneric }

// salsaXORKeyStream is x/crypto's salsa.XORKeyStream (Salsa20/20, counter
// = 8-byte nonce then 8-byte little-endian block counter). out and in must
// overlap entirely or not at all.
func salsaXORKeyStream(out, in []byte, counter *[16]byte, key *[32]byte) {
	salsaXORKeyStreamPath(salsaPath, out, in, counter, key)
}

func salsaXORKeyStreamPath(_ int, out, in []byte, counter *[16]byte, key *[32]byte) {
	salsa.XORKeyStream(out, in, counter, key)
}
