package broker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// The broker's hot path codec. Requests and the replies the broker sends
// most (direct_message, broadcast, the confirmations, error, pong,
// registration_ack) are parsed and written by hand, without reflection:
// encoding/json took about 4 µs of the broker's 12 µs of CPU per direct
// message (pprof, `zmqgo broker-load`). The bytes are exactly those
// encoding/json writes (the seed's clients and the interop tests read
// them; TestCodecMatchesEncodingJSON and FuzzCodec check it), and whatever
// the fast path is unsure of (escapes, non-ASCII text, a key in another
// case, malformed JSON) goes to encoding/json, which also words the errors.

// parseObject walks the JSON object b, a flat one as the hand codec takes:
// field gets each key (plain ASCII, unescaped) and the index of its value,
// and returns the index after the value, or false to give up. It reports
// whether b was such an object, whole.
func parseObject(b []byte, field func(key []byte, i int) (int, bool)) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		if i, ok = field(key, skipWS(b, i+1)); !ok {
			return false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
			continue
		case '}':
			return skipWS(b, i+1) == len(b)
		}
		return false
	}
}

// rawValue is the valid JSON value at b[i], and the index after it.
func rawValue(b []byte, i int) (json.RawMessage, int, bool) {
	end, ok := skipValue(b, i, 0)
	if !ok {
		return nil, i, false
	}
	return b[i:end:end], end, true
}

// stringValue stores the plain string at b[i] in dst; null leaves dst as
// it is, as encoding/json does. Anything else: false (decode says why).
func stringValue(b []byte, i int, dst *string) (int, bool) {
	if bytes.HasPrefix(b[i:], []byte("null")) {
		return i + 4, true
	}
	s, end, ok := plainString(b, i)
	if ok {
		*dst = intern(s)
	}
	return end, ok
}

// parseRequest parses a request into req, as decode does, and reports
// whether it could; false means: ask decode.
func parseRequest(b []byte, req *request) bool {
	return parseObject(b, func(key []byte, i int) (end int, ok bool) {
		switch string(key) {
		case "type":
			return stringValue(b, i, &req.Type)
		case "name":
			return stringValue(b, i, &req.Name)
		case "target":
			return stringValue(b, i, &req.Target)
		case "node":
			return stringValue(b, i, &req.Node)
		case "content":
			if end, ok = plainContent(b, i); ok {
				req.Content, req.contentPlain = b[i:end:end], true
				return end, true
			}
			req.contentPlain = false
			req.Content, end, ok = rawValue(b, i)
			return end, ok
		case "request_id":
			req.ID, end, ok = rawValue(b, i)
			return end, ok
		case "limits":
			switch {
			case bytes.HasPrefix(b[i:], []byte("true")):
				req.Limits = true
				return i + 4, true
			case bytes.HasPrefix(b[i:], []byte("false")):
				req.Limits = false
				return i + 5, true
			case bytes.HasPrefix(b[i:], []byte("null")): // null leaves a bool as it is
				return i + 4, true
			}
			return i, false
		}
		if foldsToField(key) { // encoding/json matches keys in any case
			return i, false
		}
		return skipValue(b, i, 0)
	})
}

// plainContent returns the index after the string at b[i] if appendRaw
// would copy it as it is: no escape, no control character, nothing that
// encoding/json escapes in a json.RawMessage (<, >, &, U+2028, U+2029).
// The usual content is such a string, and this one scan spares the encoder
// its own (encodeDirect).
func plainContent(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	j := i + 1
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		m := has8(x, '"') | has8(x, '\\') | has8(x, '<') | has8(x, '>') | has8(x, '&') | has8(x, 0xe2) | below8(x, 0x20)
		if m &= msb8; m != 0 {
			j += bits.TrailingZeros64(m) / 8
			return j + 1, b[j] == '"'
		}
	}
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\' || c == '<' || c == '>' || c == '&' || c == 0xe2 || c < ' ':
			return j, false
		}
	}
	return j, false
}

// intern returns s as a string, without allocating for the names of
// message types (every request and reply has one) and of statuses.
func intern(s []byte) string {
	switch string(s) {
	case TypeDirectMessage:
		return TypeDirectMessage
	case TypeBroadcast:
		return TypeBroadcast
	case TypeRegister:
		return TypeRegister
	case TypePing:
		return TypePing
	case TypeListClients:
		return TypeListClients
	// What the broker sends (the client's parseWire): every reply has one.
	case TypeDeliveryConfirmation:
		return TypeDeliveryConfirmation
	case TypeBroadcastConfirmation:
		return TypeBroadcastConfirmation
	case TypeRegistrationAck:
		return TypeRegistrationAck
	case TypePong:
		return TypePong
	case TypeError:
		return TypeError
	case StatusDelivered:
		return StatusDelivered
	case StatusFailed:
		return StatusFailed
	}
	return string(s)
}

func foldsToField(key []byte) bool {
	for _, f := range [...]string{"type", "name", "target", "content", "node", "limits", "request_id"} {
		if len(key) == len(f) && bytes.EqualFold(key, []byte(f)) {
			return true
		}
	}
	return false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString returns the contents of the JSON string at b[i] if it is
// printable ASCII without escapes, and the index after it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	if j := stopByte(b, i+1, true); j < len(b) && b[j] == '"' {
		return b[i+1 : j], j + 1, true
	}
	return nil, i, false
}

// maxDepth bounds the nesting skipValue follows (encoding/json allows
// 10000); deeper content goes to encoding/json.
const maxDepth = 64

// skipValue returns the index after the valid JSON value at b[i].
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxDepth {
		return i, false
	}
	switch c := b[i]; c {
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == end {
			return i + 1, true
		}
		for {
			if c == '{' {
				j, ok := skipString(b, i)
				if !ok {
					return i, false
				}
				i = skipWS(b, j)
				if i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipWS(b, i+1)
			}
			j, ok := skipValue(b, i, depth+1)
			if !ok {
				return i, false
			}
			i = skipWS(b, j)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
				continue
			case end:
				return i + 1, true
			}
			return i, false
		}
	case '"':
		return skipString(b, i)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	}
	return skipNumber(b, i)
}

func literal(b []byte, i int, lit string) (int, bool) {
	if bytes.HasPrefix(b[i:], []byte(lit)) {
		return i + len(lit), true
	}
	return i, false
}

// skipString returns the index after the valid JSON string at b[i]. As
// encoding/json, it accepts any byte from 0x20 up, invalid UTF-8 included.
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for j := i + 1; ; j++ {
		j = stopByte(b, j, false)
		if j >= len(b) {
			return i, false
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < ' ':
			return i, false
		}
		// A backslash.
		j++
		if j >= len(b) {
			return i, false
		}
		switch b[j] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if j+4 >= len(b) {
				return i, false
			}
			for _, h := range b[j+1 : j+5] {
				if !isHex(h) {
					return i, false
				}
			}
			j += 4
		default:
			return i, false
		}
	}
}

// stopByte returns the index of the first byte at or after j that ends a
// string's plain run: a quote, a backslash, a control character or, with
// ascii, any byte of 0x80 and above; len(b) if none. Eight bytes at a time:
// contents are most of a message's bytes.
func stopByte(b []byte, j int, ascii bool) int {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	var high uint64
	if ascii {
		high = msb
	}
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		q, s := x^(lsb*'"'), x^(lsb*'\\')
		// A byte of q or s that is zero, a byte of x below 0x20 (each
		// mask's lowest flag is exact, which is the one that counts).
		m := ((q-lsb)&^q | (s-lsb)&^s | (x-lsb*0x20)&^x | x&high) & msb
		if m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
	}
	for ; j < len(b); j++ {
		if c := b[j]; c == '"' || c == '\\' || c < ' ' || ascii && c >= utf8.RuneSelf {
			return j
		}
	}
	return j
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// skipNumber returns the index after the valid JSON number at b[i].
func skipNumber(b []byte, i int) (int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
	default:
		return i, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		k := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		if j == k {
			return i, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		if j == k {
			return i, false
		}
	}
	return j, true
}

// encode returns v's JSON as encoding/json writes it.
func encode(v any) ([]byte, error) {
	var b []byte
	switch m := v.(type) {
	case directMessage:
		b = encodeDirect(&m)
	case deliveryConfirmation:
		b = encodeConfirmation(&m)
	case broadcastConfirmation:
		b = make([]byte, 0, 64)
		b = strconv.AppendInt(append(b, `{"recipients":`...), int64(m.Recipients), 10)
		b = appendRequestID(b, m.RequestID)
		b = appendString(append(b, `,"type":`...), m.Type)
		b = append(b, '}')
	case errorReply:
		b = make([]byte, 0, 64+len(m.Message))
		b = appendString(append(b, `{"message":`...), m.Message)
		b = appendRequestID(b, m.RequestID)
		b = appendFloat(append(b, `,"timestamp":`...), m.Timestamp)
		b = appendString(append(b, `,"type":`...), m.Type)
		b = append(b, '}')
	case pong:
		b = make([]byte, 0, 128)
		if len(m.RequestID) > 0 {
			b = appendRaw(append(b, `{"request_id":`...), m.RequestID)
			b = append(b, `,"stats":{"errors":`...)
		} else {
			b = append(b, `{"stats":{"errors":`...)
		}
		b = strconv.AppendUint(b, m.Stats.Errors, 10)
		b = strconv.AppendUint(append(b, `,"received":`...), m.Stats.Received, 10)
		b = strconv.AppendUint(append(b, `,"sent":`...), m.Stats.Sent, 10)
		b = appendFloat(append(b, `},"timestamp":`...), m.Timestamp)
		b = appendString(append(b, `,"type":`...), m.Type)
		b = append(b, '}')
	case registrationAck:
		b = make([]byte, 0, 96+2*len(m.ClientID))
		b = appendString(append(b, `{"client_id":`...), m.ClientID)
		if m.MaxMsgSize != 0 {
			b = strconv.AppendInt(append(b, `,"max_msg_size":`...), int64(m.MaxMsgSize), 10)
		}
		b = appendString(append(b, `,"message":`...), m.Message)
		b = appendRequestID(b, m.RequestID)
		b = appendString(append(b, `,"status":`...), m.Status)
		b = appendString(append(b, `,"type":`...), m.Type)
		b = append(b, '}')
	default:
		return json.Marshal(v)
	}
	if b == nil { // a value encoding/json refuses (a NaN timestamp)
		return json.Marshal(v)
	}
	return b, nil
}

// encodeDirect encodes a direct_message or broadcast delivery; nil if
// encoding/json must (a NaN timestamp, content that is not JSON).
func encodeDirect(m *directMessage) []byte {
	b := make([]byte, 0, 80+len(m.Content)+len(m.From))
	b = append(b, `{"content":`...)
	if m.contentPlain {
		b = append(b, m.Content...)
	} else {
		b = appendRaw(b, m.Content)
	}
	b = appendString(append(b, `,"from":`...), m.From)
	if len(m.RoutePath) > 0 {
		b = append(b, `,"route_path":[`...)
		for i, r := range m.RoutePath {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, r)
		}
		b = append(b, ']')
	}
	b = appendFloat(append(b, `,"timestamp":`...), m.Timestamp)
	b = appendString(append(b, `,"type":`...), m.Type)
	if b == nil {
		return nil
	}
	return append(b, '}')
}

// safeASCII marks the bytes encoding/json writes as they are in a string.
var safeASCII = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func encodeConfirmation(m *deliveryConfirmation) []byte {
	b := make([]byte, 0, 96+len(m.Target)+len(m.RequestID)) // one allocation: the fields take 79 bytes and these
	if len(m.RequestID) > 0 {
		b = appendRaw(append(b, `{"request_id":`...), m.RequestID)
		b = append(b, `,"status":`...)
	} else {
		b = append(b, `{"status":`...)
	}
	b = appendString(b, m.Status)
	b = appendString(append(b, `,"target":`...), m.Target)
	b = appendString(append(b, `,"type":`...), m.Type)
	return append(b, '}')
}

// appendRequestID appends a reply's request_id field, if it has one
// (omitempty, as encoding/json).
func appendRequestID(b []byte, id json.RawMessage) []byte {
	if len(id) == 0 {
		return b
	}
	return appendRaw(append(b, `,"request_id":`...), id)
}

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML characters too); anything but plain printable ASCII is left to it.
func appendString(b []byte, s string) []byte {
	if b == nil {
		return nil
	}
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if !safe8(x) {
			break
		}
	}
	for ; i < len(s); i++ {
		if !safeASCII[s[i]] {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends a valid JSON value as encoding/json writes a
// json.RawMessage: compacted, HTML characters escaped.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if b == nil {
		return nil
	}
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	in := false
	for i := 0; i < len(raw); i++ {
		if i&7 == 0 {
			// Eight bytes that need nothing of the loop below (most of a
			// content's) are passed over at once.
			for i+8 <= len(raw) && plain8(binary.LittleEndian.Uint64(raw[i:])) {
				i += 8
			}
			if i == len(raw) {
				break
			}
		}
		c := raw[i]
		if in && safeASCII[c] {
			continue // most of a string's bytes
		}
		switch {
		case c == '<' || c == '>' || c == '&' || c == 0xe2: // 0xe2 starts U+2028 and U+2029
			return appendRawSlow(b, raw)
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return appendRawSlow(b, raw)
		}
	}
	return append(b, raw...)
}

const lsb8, msb8 = 0x0101010101010101, 0x8080808080808080

// has8 sets the high bit of the bytes of x equal to c (and perhaps of
// bytes above one that is): not zero exactly when one is.
func has8(x uint64, c byte) uint64 { v := x ^ (lsb8 * uint64(c)); return (v - lsb8) &^ v }

// below8 is has8 for the bytes of x below c (c at most 0x80).
func below8(x uint64, c byte) uint64 { return (x - lsb8*uint64(c)) &^ x }

// safe8 reports whether x's eight bytes are all safeASCII.
func safe8(x uint64) bool {
	m := has8(x, '"') | has8(x, '\\') | has8(x, '<') | has8(x, '>') | has8(x, '&') | below8(x, 0x20) | x
	return m&msb8 == 0
}

// plain8 reports whether none of x's eight bytes matters to appendRaw: no
// quote, backslash, HTML character, 0xe2 (U+2028, U+2029), space or
// control character.
func plain8(x uint64) bool {
	m := has8(x, '"') | has8(x, '\\') | has8(x, '<') | has8(x, '>') | has8(x, '&') | has8(x, 0xe2) | below8(x, 0x21)
	return m&msb8 == 0
}

func appendRawSlow(b []byte, raw json.RawMessage) []byte {
	var c, h bytes.Buffer
	if json.Compact(&c, raw) != nil {
		return nil
	}
	json.HTMLEscape(&h, c.Bytes())
	return append(b, h.Bytes()...)
}

// appendFloat appends f as encoding/json writes a float64.
func appendFloat(b []byte, f float64) []byte {
	if b == nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil
	}
	if us := math.Round(f * 1e6); f >= 1e-6 && f < 1<<33 && float64(int64(us))/1e6 == f {
		return appendMicros(b, int64(us))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendMicros appends us/1e6 as encoding/json writes the float64 nearest
// to it, for 0 < us/1e6 < 2^33, as a timestamp (unix) is. Below 2^33 two
// float64s are less than 1 µs apart, so that float64's shortest form, which
// encoding/json writes, is us/1e6 itself: its digits, the point six from
// the right, trailing zeros dropped (and the point, for whole seconds).
func appendMicros(b []byte, us int64) []byte {
	b = strconv.AppendInt(b, us/1e6, 10)
	frac := us % 1e6
	if frac == 0 {
		return b
	}
	var d [7]byte
	d[0] = '.'
	for k := 5; k >= 0; k -= 2 {
		d[k], d[k+1] = digitPairs[frac%100*2], digitPairs[frac%100*2+1]
		frac /= 100
	}
	n := len(d)
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
