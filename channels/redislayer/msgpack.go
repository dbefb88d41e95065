package redislayer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// The subset of MessagePack that channels_redis messages use, as Python's
// msgpack 1.0 writes (packb(use_bin_type=True)) and reads
// (unpackb(raw=False)) them: str is UTF-8 text, bin is bytes, maps keep
// string keys, ext -1 is a timestamp.

// ErrDecode wraps every malformed-message error.
var ErrDecode = errors.New("redislayer: bad msgpack")

// Ext is a MessagePack extension value other than the timestamp.
type Ext struct {
	Type int8
	Data []byte
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 256

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("redislayer: message nested deeper than %d", maxDepth)
	}
	switch v := v.(type) {
	case nil:
		return append(b, 0xc0), nil
	case bool:
		if v {
			return append(b, 0xc3), nil
		}
		return append(b, 0xc2), nil
	case int:
		return appendInt(b, int64(v)), nil
	case int8:
		return appendInt(b, int64(v)), nil
	case int16:
		return appendInt(b, int64(v)), nil
	case int32:
		return appendInt(b, int64(v)), nil
	case int64:
		return appendInt(b, v), nil
	case uint:
		return appendUint(b, uint64(v)), nil
	case uint8:
		return appendUint(b, uint64(v)), nil
	case uint16:
		return appendUint(b, uint64(v)), nil
	case uint32:
		return appendUint(b, uint64(v)), nil
	case uint64:
		return appendUint(b, v), nil
	case float32:
		// Python has one float type; widen so it reads back the same.
		return appendFloat(b, float64(v)), nil
	case float64:
		return appendFloat(b, v), nil
	case string:
		return appendStr(b, v), nil
	case []byte:
		return appendBin(b, v), nil
	case time.Time:
		return appendTime(b, v), nil
	case Ext:
		return appendExt(b, v.Type, v.Data), nil
	case []any:
		b = appendArrayHeader(b, len(v))
		for _, e := range v {
			var err error
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case []string:
		b = appendArrayHeader(b, len(v))
		for _, e := range v {
			b = appendStr(b, e)
		}
		return b, nil
	case map[string]any:
		return appendMap(b, v, depth)
	case map[any]any:
		b = appendMapHeader(b, len(v))
		for k, e := range v {
			var err error
			if b, err = appendValue(b, k, depth+1); err != nil {
				return nil, err
			}
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("redislayer: cannot encode %T in a message", v)
}

// appendMap writes keys in sorted order, so equal messages encode to equal
// bytes (Go map order is random; Python keeps insertion order, and readers
// do not care).
func appendMap(b []byte, m map[string]any, depth int) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = appendMapHeader(b, len(m))
	for _, k := range keys {
		b = appendStr(b, k)
		var err error
		if b, err = appendValue(b, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

func appendFloat(b []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(v))
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

func appendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

func appendExt(b []byte, typ int8, data []byte) []byte {
	n := len(data)
	switch n {
	case 1:
		b = append(b, 0xd4)
	case 2:
		b = append(b, 0xd5)
	case 4:
		b = append(b, 0xd6)
	case 8:
		b = append(b, 0xd7)
	case 16:
		b = append(b, 0xd8)
	default:
		switch {
		case n <= math.MaxUint8:
			b = append(b, 0xc7, byte(n))
		case n <= math.MaxUint16:
			b = binary.BigEndian.AppendUint16(append(b, 0xc8), uint16(n))
		default:
			b = binary.BigEndian.AppendUint32(append(b, 0xc9), uint32(n))
		}
	}
	return append(append(b, byte(typ)), data...)
}

// appendTime writes the timestamp extension in its smallest form, as
// msgpack.Timestamp.to_bytes does.
func appendTime(b []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), uint32(t.Nanosecond())
	switch {
	case sec >= 0 && sec>>34 == 0 && nsec == 0 && sec <= math.MaxUint32:
		return appendExt(b, -1, binary.BigEndian.AppendUint32(nil, uint32(sec)))
	case sec >= 0 && sec>>34 == 0:
		return appendExt(b, -1, binary.BigEndian.AppendUint64(nil, uint64(nsec)<<34|uint64(sec)))
	}
	d := binary.BigEndian.AppendUint32(nil, nsec)
	return appendExt(b, -1, binary.BigEndian.AppendUint64(d, uint64(sec)))
}

type decoder struct {
	b   []byte
	off int
}

func decodeMessage(b []byte) (map[string]any, error) {
	d := decoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the message", ErrDecode, len(b)-d.off)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: message is %T, not a map with string keys", ErrDecode, v)
	}
	return m, nil
}

func (d *decoder) errf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrDecode, d.off, fmt.Sprintf(format, args...))
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.off {
		return nil, d.errf("truncated (need %d bytes)", n)
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *decoder) uint(n int) (uint64, error) {
	p, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errf("nested deeper than %d", maxDepth)
	}
	p, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := p[0]
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c&0xf0 == 0x80:
		return d.mapBody(int(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.arrayBody(int(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return d.str(int(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		p, err := d.take(int(n))
		if err != nil {
			return nil, err
		}
		return append([]byte(nil), p...), nil
	case 0xc7, 0xc8, 0xc9:
		n, err := d.uint(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		return d.ext(int(n))
	case 0xca:
		v, err := d.uint(4)
		return float64(math.Float32frombits(uint32(v))), err
	case 0xcb:
		v, err := d.uint(8)
		return math.Float64frombits(v), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if v <= math.MaxInt64 {
			return int64(v), nil
		}
		return v, nil
	case 0xd0:
		v, err := d.uint(1)
		return int64(int8(v)), err
	case 0xd1:
		v, err := d.uint(2)
		return int64(int16(v)), err
	case 0xd2:
		v, err := d.uint(4)
		return int64(int32(v)), err
	case 0xd3:
		v, err := d.uint(8)
		return int64(v), err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(1 << (c - 0xd4))
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(int(n))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayBody(int(n), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapBody(int(n), depth)
	}
	return nil, d.errf("unused type byte 0x%02x", c)
}

func (d *decoder) str(n int) (any, error) {
	p, err := d.take(n)
	if err != nil {
		return nil, err
	}
	// raw=False in Python: invalid UTF-8 is an error there too.
	s := string(p)
	if !utf8.ValidString(s) {
		return nil, d.errf("str is not UTF-8")
	}
	return s, nil
}

func (d *decoder) ext(n int) (any, error) {
	p, err := d.take(n + 1)
	if err != nil {
		return nil, err
	}
	typ, data := int8(p[0]), p[1:]
	if typ != -1 {
		return Ext{Type: typ, Data: append([]byte(nil), data...)}, nil
	}
	switch len(data) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(data)), 0).UTC(), nil
	case 8:
		v := binary.BigEndian.Uint64(data)
		nsec := v >> 34
		if nsec > 999999999 {
			return nil, d.errf("timestamp nanoseconds out of range")
		}
		return time.Unix(int64(v&(1<<34-1)), int64(nsec)).UTC(), nil
	case 12:
		nsec := binary.BigEndian.Uint32(data)
		if nsec > 999999999 {
			return nil, d.errf("timestamp nanoseconds out of range")
		}
		return time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(nsec)).UTC(), nil
	}
	return nil, d.errf("timestamp of %d bytes", len(data))
}

func (d *decoder) arrayBody(n, depth int) (any, error) {
	// Every element takes at least one byte: refuse counts the input cannot
	// hold before allocating for them.
	if n > len(d.b)-d.off {
		return nil, d.errf("array of %d elements in %d bytes", n, len(d.b)-d.off)
	}
	a := make([]any, n)
	for i := range a {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a[i] = v
	}
	return a, nil
}

func (d *decoder) mapBody(n, depth int) (any, error) {
	if 2*n > len(d.b)-d.off {
		return nil, d.errf("map of %d entries in %d bytes", n, len(d.b)-d.off)
	}
	m := make(map[string]any, n)
	var other map[any]any // once a key is not a string
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if s, ok := k.(string); ok && other == nil {
			m[s] = v
			continue
		}
		if other == nil {
			other = make(map[any]any, n)
			for ks, vs := range m {
				other[ks] = vs
			}
		}
		switch kk := k.(type) {
		case []byte:
			// Python bytes keys are hashable; a Go []byte is not.
			other[string(kk)] = v
		case []any, map[string]any, map[any]any, Ext:
			return nil, d.errf("unhashable map key %T", k)
		default:
			other[kk] = v
		}
	}
	if other != nil {
		return other, nil
	}
	return m, nil
}
