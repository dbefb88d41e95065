package rpc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// newUUID returns a random (version 4) UUID string, hololinked's messageID.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hexDigits[c>>4]
		b[j+1] = hexDigits[c&0xf]
		j += 2
	}
	return string(b[:])
}

// shortID returns 8 random hex digits (hololinked's uuid_hex).
func shortID() string {
	var u [4]byte
	rand.Read(u[:])
	b := make([]byte, 8)
	for i, c := range u {
		b[2*i] = hexDigits[c>>4]
		b[2*i+1] = hexDigits[c&0xf]
	}
	return string(b)
}

// idGen makes message ids shaped like hololinked's (version 4 UUID
// strings) cheaply: a random base per client, its last 48 bits counting.
type idGen struct {
	base [16]byte
	n    atomic.Uint64
}

func newIDGen() *idGen {
	g := &idGen{}
	rand.Read(g.base[:])
	g.base[6] = g.base[6]&0x0f | 0x40
	g.base[8] = g.base[8]&0x3f | 0x80
	return g
}

func (g *idGen) next() string {
	u := g.base
	var c [8]byte
	copy(c[2:], u[10:])
	binary.BigEndian.PutUint64(c[:], binary.BigEndian.Uint64(c[:])+g.n.Add(1))
	copy(u[10:], c[2:])
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hexDigits[c>>4]
		b[j+1] = hexDigits[c&0xf]
		j += 2
	}
	return string(b[:])
}
