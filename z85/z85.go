// Package z85 implements Z85, the ZeroMQ Base-85 encoding (ZeroMQ RFC 32),
// in which CURVE keys are usually written: a 32-byte key is 40 printable
// characters that are safe in source code, JSON and on the command line.
//
// Z85 encodes 4 bytes as 5 characters and does no padding: Encode accepts
// only lengths divisible by 4 and Decode only lengths divisible by 5.
package z85

import (
	"errors"
	"fmt"
)

// alphabet maps the values 0..84 to characters (RFC 32).
const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// decodeMap maps a character to its value plus one; 0 means invalid.
var decodeMap = func() (m [256]byte) {
	for i := 0; i < len(alphabet); i++ {
		m[alphabet[i]] = byte(i + 1)
	}
	return m
}()

// ErrLength means the input's length is not a multiple of 4 (Encode) or 5
// (Decode). The returned error wraps it and names the length.
var ErrLength = errors.New("z85: bad length")

// CorruptInputError is returned by Decode for a character outside the Z85
// alphabet, or a group of five characters whose value exceeds 32 bits. Its
// value is the byte offset of the offending character (the group's first
// character for an overflow).
type CorruptInputError struct {
	Offset   int
	Char     byte // the offending character; 0 for an overflowing group
	Overflow bool // the group encodes a value above 2^32-1
}

func (e CorruptInputError) Error() string {
	if e.Overflow {
		return fmt.Sprintf("z85: group at offset %d encodes a value above 32 bits", e.Offset)
	}
	return fmt.Sprintf("z85: invalid character %q at offset %d", e.Char, e.Offset)
}

// EncodedLen returns the length of the encoding of n bytes (n must be a
// multiple of 4).
func EncodedLen(n int) int { return n / 4 * 5 }

// DecodedLen returns the length of the decoding of n characters (n must be a
// multiple of 5).
func DecodedLen(n int) int { return n / 5 * 4 }

// Encode returns the Z85 encoding of src, whose length must be a multiple of 4.
func Encode(src []byte) (string, error) {
	b, err := AppendEncode(make([]byte, 0, EncodedLen(len(src))), src)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendEncode appends the Z85 encoding of src to dst.
func AppendEncode(dst, src []byte) ([]byte, error) {
	if len(src)%4 != 0 {
		return dst, fmt.Errorf("%w: %d bytes to encode, want a multiple of 4", ErrLength, len(src))
	}
	for i := 0; i < len(src); i += 4 {
		v := uint32(src[i])<<24 | uint32(src[i+1])<<16 | uint32(src[i+2])<<8 | uint32(src[i+3])
		var g [5]byte
		for j := 4; j >= 0; j-- {
			g[j] = alphabet[v%85]
			v /= 85
		}
		dst = append(dst, g[:]...)
	}
	return dst, nil
}

// Decode returns the bytes that the Z85 string s encodes. Its length must be
// a multiple of 5.
func Decode(s string) ([]byte, error) {
	return AppendDecode(make([]byte, 0, DecodedLen(len(s))), []byte(s))
}

// AppendDecode appends the bytes that the Z85 text src encodes to dst.
func AppendDecode(dst, src []byte) ([]byte, error) {
	if len(src)%5 != 0 {
		return dst, fmt.Errorf("%w: %d characters to decode, want a multiple of 5", ErrLength, len(src))
	}
	for i := 0; i < len(src); i += 5 {
		var v uint64
		for j := 0; j < 5; j++ {
			c := src[i+j]
			d := decodeMap[c]
			if d == 0 {
				return dst, CorruptInputError{Offset: i + j, Char: c}
			}
			v = v*85 + uint64(d-1)
		}
		if v > 0xffffffff {
			return dst, CorruptInputError{Offset: i, Overflow: true}
		}
		dst = append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return dst, nil
}
