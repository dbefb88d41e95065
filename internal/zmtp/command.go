package zmtp

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Command names used by ZMTP 3.x and its mechanisms.
const (
	CmdReady     = "READY"
	CmdError     = "ERROR"
	CmdSubscribe = "SUBSCRIBE"
	CmdCancel    = "CANCEL"
	CmdPing      = "PING"
	CmdPong      = "PONG"
	CmdHello     = "HELLO"
	CmdWelcome   = "WELCOME"
	CmdInitiate  = "INITIATE"
	CmdMessage   = "MESSAGE"
)

// Metadata property names libzmq sends and reads (it compares them case-sensitively).
const (
	PropSocketType = "Socket-Type"
	PropIdentity   = "Identity"
	PropUserID     = "User-Id"
)

// MaxPingContext is the longest context a PING may carry (RFC 37).
const MaxPingContext = 16

var (
	// ErrMalformedCommand means a command body could not be decoded.
	ErrMalformedCommand = protocolErr("zmtp: malformed command")
	// ErrMalformedMetadata means a metadata block could not be decoded.
	ErrMalformedMetadata = protocolErr("zmtp: malformed metadata")
)

// AppendCommandFrame appends a command frame whose body is name-length, name and
// data.
func AppendCommandFrame(dst []byte, name string, data []byte) []byte {
	dst = AppendFrameHeader(dst, FlagCommand, 1+len(name)+len(data))
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	return append(dst, data...)
}

// ParseCommand splits a command frame's body into name and data. Both alias body.
func ParseCommand(body []byte) (name, data []byte, err error) {
	if len(body) < 1 {
		return nil, nil, fmt.Errorf("%w: empty body", ErrMalformedCommand)
	}
	n := int(body[0])
	if n == 0 || len(body) < 1+n {
		return nil, nil, fmt.Errorf("%w: bad name length %d", ErrMalformedCommand, n)
	}
	return body[1 : 1+n], body[1+n:], nil
}

// Property is one metadata property.
type Property struct {
	Name  string
	Value []byte
}

// Metadata is a list of properties as they appear on the wire.
type Metadata []Property

// Get returns the value of the named property, compared case-insensitively
// as RFC 23 asks, and whether it was present.
func (m Metadata) Get(name string) ([]byte, bool) {
	for _, p := range m {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return nil, false
}

func validPropName(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}

// AppendMetadata appends properties in wire form: name-length (1), name,
// value-length (4, big-endian), value.
func AppendMetadata(dst []byte, md Metadata) []byte {
	for _, p := range md {
		dst = append(dst, byte(len(p.Name)))
		dst = append(dst, p.Name...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.Value)))
		dst = append(dst, p.Value...)
	}
	return dst
}

// MetadataSize is the wire size of md.
func MetadataSize(md Metadata) int {
	n := 0
	for _, p := range md {
		n += 1 + len(p.Name) + 4 + len(p.Value)
	}
	return n
}

// ParseMetadata decodes a metadata block. Values are copied, so the result
// does not alias b.
func ParseMetadata(b []byte) (Metadata, error) {
	var md Metadata
	for len(b) > 0 {
		n := int(b[0])
		if len(b) < 1+n+4 {
			return nil, fmt.Errorf("%w: truncated property", ErrMalformedMetadata)
		}
		name := b[1 : 1+n]
		if !validPropName(name) {
			return nil, fmt.Errorf("%w: invalid property name %q", ErrMalformedMetadata, name)
		}
		vl := binary.BigEndian.Uint32(b[1+n:])
		b = b[1+n+4:]
		if uint64(len(b)) < uint64(vl) {
			return nil, fmt.Errorf("%w: property %q value truncated", ErrMalformedMetadata, name)
		}
		md = append(md, Property{Name: string(name), Value: append([]byte(nil), b[:vl]...)})
		b = b[vl:]
	}
	return md, nil
}

// AppendReady appends a READY command frame carrying md.
func AppendReady(dst []byte, md Metadata) []byte {
	dst = AppendFrameHeader(dst, FlagCommand, 1+len(CmdReady)+MetadataSize(md))
	dst = append(dst, byte(len(CmdReady)))
	dst = append(dst, CmdReady...)
	return AppendMetadata(dst, md)
}

// AppendError appends an ERROR command frame. Reasons are cut at 255 bytes.
func AppendError(dst []byte, reason string) []byte {
	if len(reason) > 255 {
		reason = reason[:255]
	}
	dst = AppendFrameHeader(dst, FlagCommand, 1+len(CmdError)+1+len(reason))
	dst = append(dst, byte(len(CmdError)))
	dst = append(dst, CmdError...)
	dst = append(dst, byte(len(reason)))
	return append(dst, reason...)
}

// ParseError decodes an ERROR command's data into its reason.
func ParseError(data []byte) (string, error) {
	if len(data) < 1 || len(data) < 1+int(data[0]) {
		return "", fmt.Errorf("%w: ERROR reason truncated", ErrMalformedCommand)
	}
	return string(data[1 : 1+int(data[0])]), nil
}

// AppendPing appends a PING command: TTL in tenths of a second, then up to 16
// bytes of context.
func AppendPing(dst []byte, ttl uint16, context []byte) []byte {
	if len(context) > MaxPingContext {
		context = context[:MaxPingContext]
	}
	dst = AppendFrameHeader(dst, FlagCommand, 1+len(CmdPing)+2+len(context))
	dst = append(dst, byte(len(CmdPing)))
	dst = append(dst, CmdPing...)
	dst = binary.BigEndian.AppendUint16(dst, ttl)
	return append(dst, context...)
}

// ParsePing decodes a PING command's data. The context aliases data.
func ParsePing(data []byte) (ttl uint16, context []byte, err error) {
	if len(data) < 2 || len(data) > 2+MaxPingContext {
		return 0, nil, fmt.Errorf("%w: PING of %d bytes", ErrMalformedCommand, len(data))
	}
	return binary.BigEndian.Uint16(data), data[2:], nil
}

// AppendPong appends a PONG command echoing a PING's context.
func AppendPong(dst []byte, context []byte) []byte {
	return AppendCommandFrame(dst, CmdPong, context)
}

// AppendSubscribe appends a ZMTP 3.1 SUBSCRIBE command.
func AppendSubscribe(dst []byte, topic []byte) []byte {
	return AppendCommandFrame(dst, CmdSubscribe, topic)
}

// AppendCancel appends a ZMTP 3.1 CANCEL command.
func AppendCancel(dst []byte, topic []byte) []byte {
	return AppendCommandFrame(dst, CmdCancel, topic)
}

// AppendSubscription30 appends the ZMTP 3.0 form of a subscription: a data
// frame whose first byte is 1 (subscribe) or 0 (cancel).
func AppendSubscription30(dst []byte, subscribe bool, topic []byte) []byte {
	dst = AppendFrameHeader(dst, 0, 1+len(topic))
	if subscribe {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	return append(dst, topic...)
}
