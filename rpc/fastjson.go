package rpc

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Fast paths for the JSON of every request: headers (flat objects of
// strings and two small objects), execution contexts and payloads. Each
// runs only on input json.Valid accepted, and hands anything unusual
// (escapes, invalid UTF-8) back to encoding/json, so results match it;
// FuzzFastJSON checks that.

// Value kinds seen by scanObject.
const (
	kString = iota // no escapes; val excludes the quotes
	kNumber
	kLiteral // true, false, null
	kRaw     // object or array, val is the whole of it
)

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the end of the string starting at b[i] == '"' (the
// index after the closing quote) and whether it is plain: no escapes and
// valid UTF-8.
func scanString(b []byte, i int) (int, bool) {
	plain, ascii := true, true
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, plain && (ascii || utf8.Valid(b[:i]))
		case c == '\\':
			plain = false
			i++
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return i, false
}

// scanValue returns the end of the value starting at b[i].
func scanValue(b []byte, i int) (end, kind int, plain bool) {
	switch c := b[i]; {
	case c == '"':
		end, plain = scanString(b, i)
		return end, kString, plain
	case c == '{' || c == '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i, _ = scanString(b, i)
				i--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, kRaw, true
				}
			}
		}
		return i, kRaw, false
	case c == 't' || c == 'n':
		return i + 4, kLiteral, true
	case c == 'f':
		return i + 5, kLiteral, true
	}
	for end = i; end < len(b); end++ {
		if c := b[end]; !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
	}
	return end, kNumber, true
}

// scanObject calls fn for each member of the JSON object b, validating as
// it goes (so headers need no json.Valid pass first): keys and string
// values must be plain (no escapes, no control characters, valid UTF-8),
// numbers and literals exact, nested objects and arrays valid. It returns
// false (use encoding/json) when fn does or on anything else, invalid JSON
// included; fn may have been called for earlier members by then.
func scanObject(b []byte, fn func(key, val []byte, kind int) bool) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for i < len(b) {
		if b[i] != '"' {
			return false
		}
		end, ok := strictString(b, i)
		if !ok {
			return false
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return false
		}
		end, kind, ok := strictValue(b, i)
		if !ok {
			return false
		}
		val := b[i:end]
		if kind == kString {
			val = b[i+1 : end-1]
		}
		if !fn(key, val, kind) {
			return false
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case '}':
			return skipWS(b, i+1) == len(b)
		case ',':
			i = skipWS(b, i+1)
		default:
			return false
		}
	}
	return false
}

// strictObject returns the end of the object at b[i] if it is valid JSON
// made of plain strings, numbers, literals and (up to a few levels) such
// objects; false means "not known valid", not "invalid".
func strictObject(b []byte, i, depth int) (int, bool) {
	if depth > 4 {
		return i, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for i < len(b) && b[i] == '"' {
		end, ok := strictString(b, i)
		if !ok {
			return end, false
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return i, false
		}
		if b[i] == '{' {
			end, ok = strictObject(b, i, depth+1)
		} else if b[i] == '[' {
			return i, false
		} else {
			end, _, ok = strictValue(b, i)
		}
		if !ok {
			return end, false
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '}':
			return i + 1, true
		case ',':
			i = skipWS(b, i+1)
		default:
			return i, false
		}
	}
	return i, false
}

// strictString is scanString that also refuses control characters, which
// JSON strings may not hold raw: ok means a valid string without escapes.
func strictString(b []byte, i int) (int, bool) {
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, ascii || utf8.Valid(b[i+1:j])
		case c == '\\' || c < 0x20:
			return j, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return len(b), false
}

// strictValue returns the end and kind of the valid value at b[i], or
// false. Objects and arrays are checked with json.Valid (small, and rare
// in headers: the execution contexts).
func strictValue(b []byte, i int) (end, kind int, ok bool) {
	switch c := b[i]; {
	case c == '"':
		end, ok = strictString(b, i)
		return end, kString, ok
	case c == '{':
		// a nested object of plain members (the execution contexts):
		// checked here; anything else by json.Valid
		if end, ok := strictObject(b, i, 0); ok {
			return end, kRaw, true
		}
		end, kind, ok = scanValue(b, i)
		return end, kind, ok && json.Valid(b[i:end])
	case c == '[':
		end, kind, ok = scanValue(b, i)
		return end, kind, ok && json.Valid(b[i:end])
	case c == 't':
		return i + 4, kLiteral, hasAt(b, i, "true")
	case c == 'f':
		return i + 5, kLiteral, hasAt(b, i, "false")
	case c == 'n':
		return i + 4, kLiteral, hasAt(b, i, "null")
	}
	end, ok = scanNumber(b, i)
	return end, kNumber, ok
}

func hasAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanNumber checks JSON's number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func scanNumber(b []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

// fastRequestHeader decodes a request header without reflection; false
// means "use encoding/json" (which also reports the errors).
func fastRequestHeader(b []byte, h *RequestHeader) bool {
	return scanObject(b, func(key, val []byte, kind int) bool {
		if kind == kRaw {
			if val[0] != '{' {
				return false
			}
			switch string(key) {
			case "serverExecutionContext":
				h.ServerExecutionContext = val
			case "thingExecutionContext":
				h.ThingExecutionContext = val
			default:
				return false
			}
			return true
		}
		if kind != kString {
			return false
		}
		switch string(key) {
		case "messageType":
			h.MessageType = intern(val)
		case "messageID":
			h.MessageID = string(val)
		case "senderID":
			h.SenderID = intern(val)
		case "receiverID":
			h.ReceiverID = intern(val)
		case "thingID":
			h.ThingID = intern(val)
		case "objekt":
			h.Objekt = intern(val)
		case "operation":
			h.Operation = intern(val)
		case "payloadContentType":
			h.PayloadContentType = intern(val)
		case "preencodedPayloadContentType":
			h.PreencodedPayloadContentType = intern(val)
		default:
			return false
		}
		return true
	})
}

// fastResponseHeader decodes a response or event header (the string fields
// of both); false means "use encoding/json".
func fastResponseHeader(b []byte, set func(key, val []byte) bool) bool {
	return scanObject(b, func(key, val []byte, kind int) bool {
		return kind == kString && set(key, val)
	})
}

func (h *ResponseHeader) set(key, val []byte) bool {
	switch string(key) {
	case "messageType":
		h.MessageType = intern(val)
	case "messageID":
		h.MessageID = string(val)
	case "receiverID":
		h.ReceiverID = intern(val)
	case "senderID":
		h.SenderID = intern(val)
	case "payloadContentType":
		h.PayloadContentType = intern(val)
	case "preencodedPayloadContentType":
		h.PreencodedPayloadContentType = intern(val)
	default:
		return false
	}
	return true
}

func (h *EventHeader) set(key, val []byte) bool {
	switch string(key) {
	case "messageType":
		h.MessageType = string(val)
	case "messageID":
		h.MessageID = string(val)
	case "senderID":
		h.SenderID = string(val)
	case "eventID":
		h.EventID = string(val)
	case "payloadContentType":
		h.PayloadContentType = string(val)
	case "preencodedPayloadContentType":
		h.PreencodedPayloadContentType = string(val)
	default:
		return false
	}
	return true
}

// interned holds the header values that repeat from message to message
// (types, ids of peers and Things, names, content types), so decoding a
// header does not allocate them each time. It stops growing at
// maxInterned entries of at most maxInternLen bytes (memory stays bounded
// whatever peers send).
var interned struct {
	sync.RWMutex
	m map[string]string
}

const maxInterned, maxInternLen = 4096, 256

func intern(b []byte) string {
	if len(b) > maxInternLen {
		return string(b)
	}
	interned.RLock()
	s, ok := interned.m[string(b)]
	interned.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	interned.Lock()
	if interned.m == nil {
		interned.m = map[string]string{}
	}
	if len(interned.m) < maxInterned {
		interned.m[s] = s
	}
	interned.Unlock()
	return s
}

// parseValue decodes valid JSON into the values encoding/json gives an
// interface (float64, string, bool, nil, []any, map[string]any).
func parseValue(b []byte) (any, bool) {
	i := skipWS(b, 0)
	v, end, ok := parseAt(b, i)
	return v, ok && skipWS(b, end) == len(b)
}

func parseAt(b []byte, i int) (any, int, bool) {
	switch c := b[i]; c {
	case '{':
		m := map[string]any{}
		i = skipWS(b, i+1)
		if b[i] == '}' {
			return m, i + 1, true
		}
		for {
			end, plain := scanString(b, i)
			if !plain {
				return nil, 0, false
			}
			key := string(b[i+1 : end-1])
			i = skipWS(b, skipWS(b, end)+1)
			v, end, ok := parseAt(b, i)
			if !ok {
				return nil, 0, false
			}
			m[key] = v
			i = skipWS(b, end)
			if b[i] == '}' {
				return m, i + 1, true
			}
			i = skipWS(b, i+1)
		}
	case '[':
		l := []any{}
		i = skipWS(b, i+1)
		if b[i] == ']' {
			return l, i + 1, true
		}
		for {
			v, end, ok := parseAt(b, i)
			if !ok {
				return nil, 0, false
			}
			l = append(l, v)
			i = skipWS(b, end)
			if b[i] == ']' {
				return l, i + 1, true
			}
			i = skipWS(b, i+1)
		}
	case '"':
		end, plain := scanString(b, i)
		if !plain {
			return nil, 0, false
		}
		return string(b[i+1 : end-1]), end, true
	case 't':
		return true, i + 4, true
	case 'f':
		return false, i + 5, true
	case 'n':
		return nil, i + 4, true
	}
	end, _, _ := scanValue(b, i)
	f, err := strconv.ParseFloat(string(b[i:end]), 64)
	if err != nil { // out of range: encoding/json reports it
		return nil, 0, false
	}
	return f, end, true
}

// appendValue appends v as encoding/json would (with SetEscapeHTML(false))
// for the types decoded payloads and simple results use; false means "use
// encoding/json".
func appendValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, x), true
	case string:
		if !utf8.ValidString(x) {
			return b, false
		}
		return appendJSONString(b, x)
	case float64:
		return appendFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case map[string]any:
		var kb [8]string // small maps sort their keys on the stack
		keys := kb[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendValue(b, k); !ok {
				return b, false
			}
			b = append(b, ':')
			if b, ok = appendValue(b, x[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendValue(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return b, false
}

// appendJSONString escapes as encoding/json does with HTML escaping off:
// control characters as \n, \r, \t or \u00XX (and \b, \f in Go 1.22+),
// U+2028 and U+2029 as \u2028, \u2029.
func appendJSONString(b []byte, s string) ([]byte, bool) {
	for _, r := range s {
		if r == '\u2028' || r == '\u2029' {
			return b, false
		}
	}
	return appendString(b, s), true
}

func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return b, false // encoding/json's exponent form
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64), true
}
