package broker

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync/atomic"
)

// The client's side of the hand codec (codec.go): what a Client receives
// most (direct_message, delivery_confirmation, broadcast and its
// confirmation, error) is parsed without reflection, and Send's request is
// written by hand. encoding/json took a quarter of `zmqgo broker-load`'s
// CPU. The result is exactly what encoding/json gives
// (TestClientCodecMatchesEncodingJSON, FuzzClientCodec); whatever the fast
// path is unsure of (escapes, non-ASCII, null, arrays and objects other
// than the content, a key in another case) goes to encoding/json.

// parseWire parses a message from the broker into w, as json.Unmarshal
// does, and reports whether it could; false means: ask json.Unmarshal.
// Unlike a request's, a null here goes to encoding/json.
func parseWire(b []byte, w *wire, names *nameCache) bool {
	return parseObject(b, func(key []byte, i int) (end int, ok bool) {
		if bytes.HasPrefix(b[i:], []byte("null")) {
			return i, false
		}
		switch string(key) {
		case "type":
			return stringValue(b, i, &w.Type)
		case "from":
			if names != nil {
				return nameValue(b, i, &w.From, &names.from)
			}
			return stringValue(b, i, &w.From)
		case "status":
			return stringValue(b, i, &w.Status)
		case "target":
			if names != nil {
				return nameValue(b, i, &w.Target, &names.target)
			}
			return stringValue(b, i, &w.Target)
		case "message":
			return stringValue(b, i, &w.Text)
		case "client_id":
			return stringValue(b, i, &w.ClientID)
		case "error":
			return stringValue(b, i, &w.Error)
		case "destination":
			return stringValue(b, i, &w.Destination)
		case "original_sender":
			return stringValue(b, i, &w.OriginalSender)
		case "failed_destination":
			return stringValue(b, i, &w.FailedDestination)
		case "recipients":
			return intValue(b, i, &w.Recipients)
		case "total":
			return intValue(b, i, &w.Total)
		case "max_msg_size":
			return intValue(b, i, &w.MaxMsgSize)
		case "content":
			w.Content, end, ok = rawValue(b, i)
			return end, ok
		case "request_id":
			w.RequestID, end, ok = rawValue(b, i)
			return end, ok
		case "timestamp":
			if end, ok = skipNumber(b, i); !ok {
				return i, false
			}
			if f, ok := decimalFloat(b[i:end]); ok {
				w.Timestamp = f
				return end, true
			}
			f, err := strconv.ParseFloat(string(b[i:end]), 64)
			w.Timestamp = f
			return end, err == nil
		}
		if foldsToWireField(key) || fastWireField[string(key)] {
			return i, false // a key in another case, or an array or object of the wire: encoding/json
		}
		return skipValue(b, i, 0)
	})
}

// decimalFloat parses a number with or without a fraction whose digits,
// read as an integer, are at most 2^53 (a timestamp: 1733324400.123456)
// exactly as strconv.ParseFloat does, without its generality: that integer
// is exact in a float64, and so is the power of ten, so one division
// rounds correctly. Anything else (a sign, an exponent, more digits,
// more than 15 after the point): false.
func decimalFloat(b []byte) (float64, bool) {
	var n uint64
	digits, frac := 0, -1
	for j, c := range b {
		switch {
		case c >= '0' && c <= '9' && digits < 19: // 19 digits never overflow
			n = n*10 + uint64(c-'0')
			digits++
		case c == '.' && frac < 0 && j > 0:
			frac = 0
			continue
		default:
			return 0, false
		}
		if frac >= 0 {
			frac++
		}
	}
	if digits == 0 || n > 1<<53 || frac == 0 || frac >= len(pow10) {
		return 0, false
	}
	f := float64(n)
	if frac > 0 {
		f /= pow10[frac]
	}
	return f, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// intValue stores the integer at b[i] in dst; 1.5, 1e3 or one too large
// for an int: false (encoding/json words the error).
func intValue(b []byte, i int, dst *int) (int, bool) {
	end, ok := skipNumber(b, i)
	if !ok {
		return i, false
	}
	n, err := strconv.Atoi(string(b[i:end]))
	*dst = n
	return end, err == nil
}

// wireFields are the JSON names of wire's fields (Message's included).
var wireFields = [...]string{"type", "from", "content", "route_path", "destination", "original_sender",
	"error", "failed_destination", "failed_route", "timestamp", "status", "client_id", "message",
	"target", "recipients", "clients", "total", "stats", "max_msg_size", "request_id"}

// fastWireField holds the fields parseWire leaves to encoding/json.
var fastWireField = map[string]bool{"route_path": true, "failed_route": true, "clients": true, "stats": true}

// foldsToWireField reports a key that is not a field's name as written but
// one that encoding/json would match to it (case-insensitively).
func foldsToWireField(key []byte) bool {
	for _, f := range wireFields {
		if len(key) == len(f) && string(key) != f && bytes.EqualFold(key, []byte(f)) {
			return true
		}
	}
	return false
}

// nameCache keeps the last from and target a client decoded: a client
// hears from the same few peers, and a name read again is not allocated
// again. A nil *nameCache keeps nothing.
type nameCache struct {
	from, target atomic.Pointer[string] // atomic: a reconnecting client's two connections may decode at once
}

// nameValue is stringValue for a name, through last (a nameCache's).
func nameValue(b []byte, i int, dst *string, last *atomic.Pointer[string]) (int, bool) {
	s, end, ok := plainString(b, i)
	if !ok {
		return stringValue(b, i, dst) // null, or not plain: as stringValue does
	}
	if p := last.Load(); p != nil && *p == string(s) {
		*dst = *p
		return end, true
	}
	n := string(s)
	*dst = n
	last.Store(&n)
	return end, true
}

// decodeWire decodes a message from the broker; names may be nil.
func decodeWire(b []byte, w *wire, names *nameCache) error {
	if parseWire(b, w, names) {
		return nil
	}
	nw := new(wire) // not w: through encoding/json's interface, w would leave the caller's stack
	err := json.Unmarshal(b, nw)
	*w = *nw
	return err
}

// plainTarget reports a target name that encoding/json writes as it is
// (printable ASCII, nothing it escapes).
func plainTarget(target string) bool {
	for i := 0; i < len(target); i++ {
		if c := target[i]; c < ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// sendRequestLen is the size of Send's request without its request_id.
func sendRequestLen(content sendContent, target string) int {
	return len(`{"content":,"target":"","type":"`+TypeDirectMessage+`"}`) + content.size() + len(target)
}

// appendSendRequest writes Send's request (target plain) as encoding/json
// writes the struct Send would marshal, with withID's request_id first:
// a raw content is already valid compact JSON (marshalContent).
func appendSendRequest(b []byte, id uint64, content sendContent, target string) []byte {
	b = append(b, `{"request_id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"content":`...)
	b = content.appendTo(b)
	b = append(b, `,"target":"`...)
	b = append(b, target...)
	return append(b, `","type":"`+TypeDirectMessage+`"}`...)
}
