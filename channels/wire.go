package channels

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Commands of the data port: the third frame after the delimiter.
const (
	CmdSubscribe   = "SUBCHANX" // client: subscribe subscriber_name to the channel
	CmdUnsubscribe = "USUBCHAN" // client: remove that subscription
	CmdSend        = "SENDCHAN" // client: queue the body on the channel
	CmdGroupSend   = "SENDGRPX" // client: queue the body on every channel of the group
	CmdDelivery    = "DELIVERY" // server: a message for the subscriber named in frame 1
	CmdComplete    = "COMPLETE" // server: the request (ack) succeeded; both ports
	CmdException   = "EXCEPTON" // server: the request failed; props["exception"]; both ports
	CmdHeartbeat   = "HARTBEAT" // both ways, both ports: answered with HARTBEAT, same id
)

// Commands of the signalling port: the second frame after the delimiter.
const (
	CmdGroupAdd     = "GROUPADD" // add channel_name to group_name (optional ttl seconds)
	CmdGroupDiscard = "GROUPDIS" // remove channel_name from group_name
	CmdFlush        = "FLUSHXXX" // drop every message, subscription and group
	CmdPrint        = "PRINTXXX" // log the stores (DMB printed them on stdout)
	CmdPerformance  = "PERFMNCE" // ask for a PERFRPRT
	CmdPerfReport   = "PERFRPRT" // server: counters and counts in the properties
	CmdFlushClient  = "FLUSHCXX" // server: a flush happened, drop local queues
	// Ours; DMB's client never sends them. Both always get a COMPLETE
	// carrying the answer in its properties, or an EXCEPTON.
	CmdGroupList   = "GROUPLST" // group_name -> channels (array of str, sorted)
	CmdChannelInfo = "CHANINFO" // channel_name -> subscribers, queued, capacity, groups
)

// Limits and sizes of the protocol.
const (
	// MaxBodySize is the largest body DMB's client sends (its
	// DJANGO_CHANNELS_DATABASE_MAX_MESSAGE_SIZE); bigger ones are refused.
	MaxBodySize = 1024000
	// MaxNameLength bounds channel and group names, as channels does:
	// a valid name is shorter.
	MaxNameLength = 100
	maxDepth      = 32 // nesting of decoded property values
)

// EmptyBody is what DMB sends for an empty body: the ASCII text "{}", not
// msgpack (msgspec 0.3.2 decodes it as the integer 123, ignoring the rest).
var EmptyBody = []byte("{}")

// zeroSeq is the sequence frame DMB always sends: msgpack 0.
var zeroSeq = []byte{0x00}

// ErrFormat is wrapped by every decoding error.
var ErrFormat = errors.New("channels: malformed message")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// KV is one property.
type KV struct {
	Key   string
	Value any
}

// Props are a message's properties: a msgpack map with string keys, kept
// in order so a re-encoding matches what msgspec (insertion order) sends.
// Values decode as nil, bool, int64, uint64 (above MaxInt64), float64,
// string, []byte (bin), time.Time (timestamp extension), []any or
// map[string]any.
type Props []KV

// Get returns the value of key.
func (p Props) Get(key string) (any, bool) {
	for _, kv := range p {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Set replaces key's value in place or appends it, as a Python dict does.
func (p *Props) Set(key string, v any) {
	for i := range *p {
		if (*p)[i].Key == key {
			(*p)[i].Value = v
			return
		}
	}
	*p = append(*p, KV{key, v})
}

// truthy reports key's value as Python's bool() would.
func (p Props) truthy(key string) bool {
	v, ok := p.Get(key)
	if !ok {
		return false
	}
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case int64:
		return v != 0
	case uint64:
		return v != 0
	case float64:
		return v != 0
	case string:
		return v != ""
	case []byte:
		return len(v) > 0
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// name returns a name property (bytes or str).
func (p Props) name(key string) (string, bool) {
	switch v, _ := p.Get(key); v := v.(type) {
	case []byte:
		return string(v), true
	case string:
		return v, true
	}
	return "", false
}

// seconds returns a duration property given in seconds (int or float).
// ok is false when absent; err when present but not a positive number.
func (p Props) seconds(key string) (d time.Duration, ok bool, err error) {
	v, ok := p.Get(key)
	if !ok {
		return 0, false, nil
	}
	var f float64
	switch v := v.(type) {
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	case float64:
		f = v
	default:
		return 0, true, fmt.Errorf("%s must be a number of seconds, not %s", key, typeName(v))
	}
	if !(f > 0) || f > 1e9 || math.IsInf(f, 0) {
		return 0, true, fmt.Errorf("%s must be a positive number of seconds up to 1e9, not %v", key, f)
	}
	return time.Duration(f * float64(time.Second)), true, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, uint64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case time.Time:
		return "datetime"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// AppendProps appends p encoded as msgspec 0.3.2 encodes a dict: a map in
// key order, the smallest int encodings, float64, bytes as bin, time as
// the timestamp extension (microseconds, as Python's datetime holds).
func AppendProps(dst []byte, p Props) ([]byte, error) {
	w := bytes.NewBuffer(dst)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(w)
	enc.UseCompactInts(true)
	if err := enc.EncodeMapLen(len(p)); err != nil {
		return nil, err
	}
	for _, kv := range p {
		if err := enc.EncodeString(kv.Key); err != nil {
			return nil, err
		}
		if err := encodeValue(enc, kv.Value, 0); err != nil {
			return nil, err
		}
	}
	return w.Bytes(), nil
}

func encodeValue(enc *msgpack.Encoder, v any, depth int) error {
	if depth > maxDepth {
		return errors.New("channels: property values nested too deep")
	}
	switch v := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(v)
	case int:
		return enc.EncodeInt(int64(v))
	case int64:
		return enc.EncodeInt(v)
	case uint64:
		return enc.EncodeUint(v)
	case float64:
		return enc.EncodeFloat64(v)
	case string:
		return enc.EncodeString(v)
	case []byte:
		return enc.EncodeBytes(v)
	case time.Time:
		return enc.EncodeTime(v.Truncate(time.Microsecond))
	case []any:
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, e := range v {
			if err := encodeValue(enc, e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case [][]byte:
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, e := range v {
			if err := enc.EncodeBytes(e); err != nil {
				return err
			}
		}
		return nil
	case []string:
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, e := range v {
			if err := enc.EncodeString(e); err != nil {
				return err
			}
		}
		return nil
	case Props:
		if err := enc.EncodeMapLen(len(v)); err != nil {
			return err
		}
		for _, kv := range v {
			if err := enc.EncodeString(kv.Key); err != nil {
				return err
			}
			if err := encodeValue(enc, kv.Value, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if err := enc.EncodeMapLen(len(v)); err != nil {
			return err
		}
		// Sorted: Go maps have no order, and the same message should
		// encode the same way every time.
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
			if err := encodeValue(enc, v[k], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("channels: cannot encode a %T property", v)
}

// DecodeProps decodes a properties frame: one msgpack map with str keys.
// Like msgspec 0.3.2, bytes after the map are ignored.
func DecodeProps(b []byte) (Props, error) {
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(b))
	n, err := dec.DecodeMapLen()
	if err != nil {
		return nil, formatErr("properties: %v", err)
	}
	if n < 0 {
		return nil, formatErr("properties are nil, not a map")
	}
	if n > len(b) {
		return nil, formatErr("properties: map of %d entries in %d bytes", n, len(b))
	}
	p := make(Props, 0, n)
	for range n {
		if c, err := dec.PeekCode(); err != nil || !msgpcode.IsString(c) {
			return nil, formatErr("property keys must be str")
		}
		k, err := readBlob(dec, len(b))
		if err != nil {
			return nil, formatErr("property key: %v", err)
		}
		v, err := decodeValue(dec, len(b), 0)
		if err != nil {
			return nil, formatErr("property %q: %v", k, err)
		}
		p = append(p, KV{string(k), v})
	}
	return p, nil
}

// decodeValue decodes any msgpack value, bounding nesting and counts so
// hostile input cannot exhaust the stack or memory.
func decodeValue(dec *msgpack.Decoder, size, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deep")
	}
	c, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if n > size {
			return nil, fmt.Errorf("array of %d in %d bytes", n, size)
		}
		a := make([]any, 0, n)
		for range n {
			v, err := decodeValue(dec, size, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		if n > size {
			return nil, fmt.Errorf("map of %d in %d bytes", n, size)
		}
		m := make(map[string]any, min(n, 64))
		for range n {
			k, err := decodeValue(dec, size, depth+1)
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec, size, depth+1)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(keyString(k))] = v
		}
		return m, nil
	case c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32:
		b, err := readBlob(dec, size)
		if b == nil && err == nil {
			b = []byte{}
		}
		return b, err
	case msgpcode.IsString(c):
		b, err := readBlob(dec, size)
		return string(b), err
	case msgpcode.IsExt(c):
		return readTimestamp(dec)
	}
	v, err := dec.DecodeInterfaceLoose()
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case nil, bool, int64, uint64, float64, string, []byte:
		return v, nil
	}
	return nil, fmt.Errorf("unexpected %T", v)
}

// readBlob reads a str or bin, refusing lengths beyond the input.
func readBlob(dec *msgpack.Decoder, size int) ([]byte, error) {
	n, err := dec.DecodeBytesLen()
	if err != nil || n < 0 {
		return nil, err
	}
	if n > size {
		return nil, fmt.Errorf("%d bytes claimed in %d", n, size)
	}
	b := make([]byte, n)
	return b, dec.ReadFull(b)
}

// readTimestamp reads the msgpack timestamp extension (type -1) in its
// 32, 64 and 96-bit forms; other extensions are refused.
func readTimestamp(dec *msgpack.Decoder) (time.Time, error) {
	id, n, err := dec.DecodeExtHeader()
	if err != nil {
		return time.Time{}, err
	}
	if id != -1 || (n != 4 && n != 8 && n != 12) {
		return time.Time{}, fmt.Errorf("extension %d of %d bytes: only the timestamp extension is understood", id, n)
	}
	b := make([]byte, n)
	if err := dec.ReadFull(b); err != nil {
		return time.Time{}, err
	}
	switch n {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0), nil
	case 8:
		v := binary.BigEndian.Uint64(b)
		if v>>34 > 999999999 {
			return time.Time{}, errors.New("timestamp nanoseconds out of range")
		}
		return time.Unix(int64(v&(1<<34-1)), int64(v>>34)), nil
	}
	ns := binary.BigEndian.Uint32(b)
	if ns > 999999999 {
		return time.Time{}, errors.New("timestamp nanoseconds out of range")
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(ns)), nil
}

func keyString(k any) any {
	if b, ok := k.([]byte); ok {
		return string(b)
	}
	return k
}

// checkValue reports whether b starts with one well-formed msgpack value
// (the sequence frame; DMB decodes it and sends back whatever it held).
func checkValue(b []byte) error {
	if len(b) > 0 && b[0] < 0x80 {
		return nil // a positive fixint: DMB's 0, without a decoder
	}
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(b))
	_, err := decodeValue(dec, len(b), 0)
	return err
}

// DataMessage is a message on the data port:
//
//	[envelope..., "", channel, command, id, sequence, properties, body]
//
// Channel is the channel, group or (DELIVERY) subscriber name; Seq is the
// msgpack sequence frame and Body the encoded body, both passed through
// untouched.
type DataMessage struct {
	Channel []byte
	Command string
	ID      []byte
	Seq     []byte
	Props   Props
	Body    []byte
}

// SignalMessage is a message on the signalling port:
//
//	[envelope..., "", id, command, properties]
type SignalMessage struct {
	ID      []byte
	Command string
	Props   Props
}

// splitEnvelope splits a received multipart message at its first empty
// frame, as DMB does: the routing envelope before it, the message after.
func splitEnvelope(frames [][]byte) (env, rest [][]byte, err error) {
	for i, f := range frames {
		if len(f) == 0 {
			return frames[:i], frames[i+1:], nil
		}
	}
	return nil, nil, formatErr("no empty delimiter frame")
}

// ParseData decodes the frames after the delimiter of a data message.
// It fails only when the frame count is wrong; a message with a bad
// sequence or properties frame is returned with the error, so the
// request can be answered by id.
func ParseData(frames [][]byte) (DataMessage, error) {
	if len(frames) != 6 {
		return DataMessage{}, formatErr("a data message has 6 frames after the delimiter, not %d", len(frames))
	}
	m := DataMessage{Channel: frames[0], Command: string(frames[1]), ID: frames[2], Seq: frames[3], Body: frames[5]}
	if err := checkValue(m.Seq); err != nil {
		return m, formatErr("sequence: %v", err)
	}
	p, err := DecodeProps(frames[4])
	m.Props = p
	return m, err
}

// ParseSignal decodes the frames after the delimiter of a signalling
// message, as ParseData does.
func ParseSignal(frames [][]byte) (SignalMessage, error) {
	if len(frames) != 3 {
		return SignalMessage{}, formatErr("a signalling message has 3 frames after the delimiter, not %d", len(frames))
	}
	m := SignalMessage{ID: frames[0], Command: string(frames[1])}
	p, err := DecodeProps(frames[2])
	m.Props = p
	return m, err
}

// Frames encodes m as the frames after the delimiter; an empty Seq is
// sent as 0 and an empty Body as EmptyBody, as DMB does.
func (m DataMessage) Frames() ([][]byte, error) {
	props, err := AppendProps(nil, m.Props)
	if err != nil {
		return nil, err
	}
	return m.frames(props), nil
}

func (m DataMessage) frames(props []byte) [][]byte {
	seq, body := m.Seq, m.Body
	if len(seq) == 0 {
		seq = zeroSeq
	}
	if len(body) == 0 {
		body = EmptyBody
	}
	return [][]byte{m.Channel, []byte(m.Command), m.ID, seq, props, body}
}

// Frames encodes m as the frames after the delimiter.
func (m SignalMessage) Frames() ([][]byte, error) {
	props, err := AppendProps(nil, m.Props)
	if err != nil {
		return nil, err
	}
	return [][]byte{m.ID, []byte(m.Command), props}, nil
}

// pyRepr formats an error as Python's repr of an exception, as DMB's
// "exception" property reads: Name('text').
func pyRepr(name, text string) string {
	var b bytes.Buffer
	b.WriteString(name)
	b.WriteString("('")
	for _, r := range text {
		switch r {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString("')")
	return b.String()
}
