package broker

import (
	"bytes"
	"encoding/json"
	"strconv"
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
func parseWire(b []byte, w *wire) bool {
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
		i = skipWS(b, i+1)
		var str *string
		var num *int
		switch string(key) {
		case "type":
			str = &w.Type
		case "from":
			str = &w.From
		case "status":
			str = &w.Status
		case "target":
			str = &w.Target
		case "message":
			str = &w.Text
		case "client_id":
			str = &w.ClientID
		case "error":
			str = &w.Error
		case "destination":
			str = &w.Destination
		case "original_sender":
			str = &w.OriginalSender
		case "failed_destination":
			str = &w.FailedDestination
		case "recipients":
			num = &w.Recipients
		case "total":
			num = &w.Total
		case "max_msg_size":
			num = &w.MaxMsgSize
		case "content", "request_id":
			if bytes.HasPrefix(b[i:], []byte("null")) {
				return false
			}
			end, ok := skipValue(b, i, 0)
			if !ok {
				return false
			}
			raw := json.RawMessage(b[i:end:end])
			if key[0] == 'c' {
				w.Content = raw
			} else {
				w.RequestID = raw
			}
			i = end
		case "timestamp":
			end, ok := skipNumber(b, i)
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(string(b[i:end]), 64)
			if err != nil {
				return false
			}
			w.Timestamp, i = f, end
		default:
			if foldsToWireField(key) { // encoding/json matches keys in any case
				return false
			}
			if fastWireField[string(key)] { // an array or an object of the wire: encoding/json
				return false
			}
			end, ok := skipValue(b, i, 0)
			if !ok {
				return false
			}
			i = end
		}
		switch {
		case str != nil:
			s, end, ok := plainString(b, i)
			if !ok {
				return false
			}
			*str, i = string(s), end
		case num != nil:
			end, ok := skipNumber(b, i)
			if !ok {
				return false
			}
			n, err := strconv.Atoi(string(b[i:end]))
			if err != nil {
				return false // 1.5, 1e3, too large: encoding/json words the error
			}
			*num, i = n, end
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

// decodeWire decodes a message from the broker.
func decodeWire(b []byte, w *wire) error {
	if parseWire(b, w) {
		return nil
	}
	*w = wire{}
	return json.Unmarshal(b, w)
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
func sendRequestLen(content json.RawMessage, target string) int {
	return len(`{"content":,"target":"","type":"`+TypeDirectMessage+`"}`) + len(content) + len(target)
}

// appendSendRequest writes Send's request (target plain) as encoding/json
// writes the struct Send would marshal, with withID's request_id first:
// content is already valid compact JSON (marshalContent).
func appendSendRequest(b []byte, id uint64, content json.RawMessage, target string) []byte {
	b = append(b, `{"request_id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"content":`...)
	b = append(b, content...)
	b = append(b, `,"target":"`...)
	b = append(b, target...)
	return append(b, `","type":"`+TypeDirectMessage+`"}`...)
}
