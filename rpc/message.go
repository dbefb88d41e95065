package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Message types (the header's messageType).
const (
	MsgHandshake = "HANDSHAKE"       // client→server and its answer
	MsgOperation = "OPERATION"       // client→server: do thingID.objekt.operation
	MsgExit      = "EXIT"            // client→server: stop the server
	MsgReply     = "REPLY"           // server→client: the result
	MsgTimeout   = "TIMEOUT"         // server→client: payload "invokation" or "execution"
	MsgException = "EXCEPTION"       // server→client: the Thing raised
	MsgInvalid   = "INVALID_MESSAGE" // server→client: the request could not be taken
	MsgEvent     = "EVENT"           // PUB: an event
)

// Operations (the header's operation).
const (
	OpReadProperty           = "readproperty"
	OpWriteProperty          = "writeproperty"
	OpDeleteProperty         = "deleteproperty"
	OpInvokeAction           = "invokeaction"
	OpReadMultipleProperties = "readmultipleproperties"
	OpReadAllProperties      = "readallproperties"
	OpWriteMultiple          = "writemultipleproperties"
	OpWriteAllProperties     = "writeallproperties"
)

// Content types.
const (
	ContentJSON    = "application/json"
	ContentMsgpack = "application/msgpack"
	ContentText    = "text/plain"
)

// MessageLength is the number of frames of every message at the ROUTER API.
const MessageLength = 5

// RequestHeader is a client's header, fields in hololinked's order. The two
// execution contexts are kept as raw JSON: hololinked's server reads them as
// plain dicts with snake_case keys (see ExecContext), and a nil context is
// left out of the encoding.
type RequestHeader struct {
	MessageType                  string          `json:"messageType"`
	MessageID                    string          `json:"messageID"`
	SenderID                     string          `json:"senderID"`
	ReceiverID                   string          `json:"receiverID"`
	ServerExecutionContext       json.RawMessage `json:"serverExecutionContext,omitempty"`
	ThingExecutionContext        json.RawMessage `json:"thingExecutionContext,omitempty"`
	ThingID                      string          `json:"thingID"`
	Objekt                       string          `json:"objekt"`
	Operation                    string          `json:"operation"`
	PayloadContentType           string          `json:"payloadContentType"`
	PreencodedPayloadContentType string          `json:"preencodedPayloadContentType"`
}

// ResponseHeader is a server's reply header, fields in hololinked's order.
type ResponseHeader struct {
	MessageType                  string `json:"messageType"`
	MessageID                    string `json:"messageID"`
	ReceiverID                   string `json:"receiverID"`
	SenderID                     string `json:"senderID"`
	PayloadContentType           string `json:"payloadContentType"`
	PreencodedPayloadContentType string `json:"preencodedPayloadContentType"`
}

// EventHeader is an event's header, fields in hololinked's order.
type EventHeader struct {
	MessageType                  string `json:"messageType"`
	MessageID                    string `json:"messageID"`
	SenderID                     string `json:"senderID"`
	EventID                      string `json:"eventID"`
	PayloadContentType           string `json:"payloadContentType"`
	PreencodedPayloadContentType string `json:"preencodedPayloadContentType"`
}

// ExecContext is the server execution context as hololinked's client sends
// it: {"invokation_timeout":5.0,"execution_timeout":5.0,"oneway":true}.
// A nil timeout means none. hololinked's own struct default uses camelCase
// keys, which its server ignores; so do we.
type ExecContext struct {
	InvokationTimeout *float64 `json:"invokation_timeout"`
	ExecutionTimeout  *float64 `json:"execution_timeout"`
	Oneway            bool     `json:"oneway"`
}

// Defaults hololinked's struct puts in HANDSHAKE headers (camelCase: no
// timeouts as far as the server is concerned).
var (
	handshakeServerCtx = json.RawMessage(`{"invokationTimeout":5,"executionTimeout":5,"oneway":false}`)
	defaultThingCtx    = json.RawMessage(`{"fetch_execution_logs":false}`)
)

// Request is a client→server message.
type Request struct {
	Header     RequestHeader
	Payload    []byte // encoded with Header.PayloadContentType; "null" when empty
	Preencoded []byte // raw bytes, usually empty
}

// Response is a server→client message.
type Response struct {
	Header     ResponseHeader
	Payload    []byte
	Preencoded []byte
}

// EventMessage is a published event.
type EventMessage struct {
	Topic      string
	Header     EventHeader
	Payload    []byte
	Preencoded []byte
}

// Frames returns the request as sent on a ROUTER to the server with
// identity to: [to, "", header, payload, preencoded].
func (r *Request) Frames(to []byte) [][]byte {
	return [][]byte{to, nil, r.Header.AppendJSON(make([]byte, 0, 512)), orNull(r.Payload), r.Preencoded}
}

// Frames returns the response as sent on the server's ROUTER:
// [receiverID, "", header, payload, preencoded].
func (r *Response) Frames() [][]byte {
	return [][]byte{[]byte(r.Header.ReceiverID), nil, r.Header.AppendJSON(nil), orNull(r.Payload), r.Preencoded}
}

// Frames returns the event as published: [topic, "", header, payload, preencoded].
func (e *EventMessage) Frames() [][]byte {
	return [][]byte{[]byte(e.Topic), nil, e.Header.AppendJSON(nil), orNull(e.Payload), e.Preencoded}
}

func orNull(p []byte) []byte {
	if len(p) == 0 {
		return []byte("null")
	}
	return p
}

// AppendJSON appends the header as compact JSON, keys in hololinked's order.
func (h *RequestHeader) AppendJSON(b []byte) []byte {
	b = appendField(b, '{', "messageType", h.MessageType)
	b = appendField(b, ',', "messageID", h.MessageID)
	b = appendField(b, ',', "senderID", h.SenderID)
	b = appendField(b, ',', "receiverID", h.ReceiverID)
	if h.ServerExecutionContext != nil {
		b = append(b, `,"serverExecutionContext":`...)
		b = append(b, h.ServerExecutionContext...)
	}
	if h.ThingExecutionContext != nil {
		b = append(b, `,"thingExecutionContext":`...)
		b = append(b, h.ThingExecutionContext...)
	}
	b = appendField(b, ',', "thingID", h.ThingID)
	b = appendField(b, ',', "objekt", h.Objekt)
	b = appendField(b, ',', "operation", h.Operation)
	b = appendField(b, ',', "payloadContentType", h.PayloadContentType)
	b = appendField(b, ',', "preencodedPayloadContentType", h.PreencodedPayloadContentType)
	return append(b, '}')
}

// AppendJSON appends the header as compact JSON, keys in hololinked's order.
func (h *ResponseHeader) AppendJSON(b []byte) []byte {
	b = appendField(b, '{', "messageType", h.MessageType)
	b = appendField(b, ',', "messageID", h.MessageID)
	b = appendField(b, ',', "receiverID", h.ReceiverID)
	b = appendField(b, ',', "senderID", h.SenderID)
	b = appendField(b, ',', "payloadContentType", h.PayloadContentType)
	b = appendField(b, ',', "preencodedPayloadContentType", h.PreencodedPayloadContentType)
	return append(b, '}')
}

// AppendJSON appends the header as compact JSON, keys in hololinked's order.
func (h *EventHeader) AppendJSON(b []byte) []byte {
	b = appendField(b, '{', "messageType", h.MessageType)
	b = appendField(b, ',', "messageID", h.MessageID)
	b = appendField(b, ',', "senderID", h.SenderID)
	b = appendField(b, ',', "eventID", h.EventID)
	b = appendField(b, ',', "payloadContentType", h.PayloadContentType)
	b = appendField(b, ',', "preencodedPayloadContentType", h.PreencodedPayloadContentType)
	return append(b, '}')
}

func appendField(b []byte, sep byte, key, val string) []byte {
	b = append(b, sep, '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, val)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string escaped as msgspec does: quote,
// backslash and control characters only; non-ASCII stays UTF-8 (invalid
// bytes become U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			j := i + 1 // append the run of plain bytes at once
			for j < len(s) && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' && s[j] < utf8.RuneSelf {
				j++
			}
			b = append(b, s[i:j]...)
			i = j
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, "\ufffd"...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
	}
	return append(b, '"')
}

// appendSeconds appends a duration in seconds as Python prints a float
// (5.0, 0.25), which is what hololinked's client sends.
func appendSeconds(b []byte, s float64) []byte {
	if s == math.Trunc(s) && math.Abs(s) < 1e15 {
		b = strconv.AppendFloat(b, s, 'f', 1, 64)
		return b
	}
	return strconv.AppendFloat(b, s, 'g', -1, 64)
}

// EncodeExecContext returns the snake_case server execution context that
// hololinked's client sends. A negative timeout is left out (no timer).
func EncodeExecContext(invokation, execution float64, oneway bool) json.RawMessage {
	b := make([]byte, 0, 72)
	b = append(b, '{')
	sep := false
	if invokation >= 0 {
		b = append(b, `"invokation_timeout":`...)
		b = appendSeconds(b, invokation)
		sep = true
	}
	if execution >= 0 {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"execution_timeout":`...)
		b = appendSeconds(b, execution)
		sep = true
	}
	if oneway {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"oneway":true`...)
	}
	return append(b, '}')
}

// ParseExecContext decodes a server execution context. Keys other than the
// three snake_case ones are ignored, as hololinked's server ignores them.
func ParseExecContext(raw json.RawMessage) (ExecContext, error) {
	var c ExecContext
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return c, fmt.Errorf("%w: serverExecutionContext missing", ErrHeader)
	}
	if c, ok := fastExecContext(raw); ok {
		return c, nil
	}
	// encoding/json matches keys case-insensitively; hololinked's dict.get
	// does not, so decode into a map and look keys up exactly.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return c, fmt.Errorf("%w: serverExecutionContext: %v", ErrHeader, err)
	}
	var err error
	if c.InvokationTimeout, err = seconds(m, "invokation_timeout"); err != nil {
		return c, err
	}
	if c.ExecutionTimeout, err = seconds(m, "execution_timeout"); err != nil {
		return c, err
	}
	if v, ok := m["oneway"]; ok && !bytes.Equal(v, []byte("null")) {
		if err := json.Unmarshal(v, &c.Oneway); err != nil {
			return c, fmt.Errorf("%w: serverExecutionContext.oneway: %v", ErrHeader, err)
		}
	}
	return c, nil
}

// execCtx is ExecContext without pointers, so the server decodes each
// request's context without allocating.
type execCtx struct {
	inv, exe       float64
	hasInv, hasExe bool
	oneway         bool
}

func (c execCtx) public() ExecContext {
	var e ExecContext
	if c.hasInv {
		e.InvokationTimeout = &c.inv
	}
	if c.hasExe {
		e.ExecutionTimeout = &c.exe
	}
	e.Oneway = c.oneway
	return e
}

// parseExecCtx is ParseExecContext for the server: the fast scan, else the
// map form.
func parseExecCtx(raw json.RawMessage) (execCtx, error) {
	if len(raw) > 0 {
		if c, ok := scanExecContext(raw); ok {
			return c, nil
		}
	}
	e, err := ParseExecContext(raw)
	if err != nil {
		return execCtx{}, err
	}
	var c execCtx
	if e.InvokationTimeout != nil {
		c.inv, c.hasInv = *e.InvokationTimeout, true
	}
	if e.ExecutionTimeout != nil {
		c.exe, c.hasExe = *e.ExecutionTimeout, true
	}
	c.oneway = e.Oneway
	return c, nil
}

// fastExecContext is ParseExecContext without maps or reflection for the
// usual {"invokation_timeout":5.0,"execution_timeout":5.0} form.
func fastExecContext(raw []byte) (ExecContext, bool) {
	c, ok := scanExecContext(raw)
	return c.public(), ok
}

func scanExecContext(raw []byte) (execCtx, bool) {
	var c execCtx
	ok := scanObject(raw, func(key, val []byte, kind int) bool {
		var p *float64
		var has *bool
		switch string(key) {
		case "invokation_timeout":
			p, has = &c.inv, &c.hasInv
		case "execution_timeout":
			p, has = &c.exe, &c.hasExe
		case "oneway":
			switch string(val) {
			case "true":
				c.oneway = true
			case "false", "null":
				c.oneway = false
			default:
				return false
			}
			return true
		default:
			return true // ignored, as hololinked ignores other keys
		}
		if string(val) == "null" {
			*p, *has = 0, false
			return true
		}
		if kind != kNumber {
			return false
		}
		f, err := strconv.ParseFloat(string(val), 64)
		if err != nil || f < 0 {
			return false
		}
		*p, *has = f, true
		return true
	})
	return c, ok
}

func seconds(m map[string]json.RawMessage, key string) (*float64, error) {
	v, ok := m[key]
	if !ok || bytes.Equal(v, []byte("null")) {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f < 0 || math.IsNaN(f) {
		return nil, fmt.Errorf("%w: serverExecutionContext.%s: not a number of seconds: %s", ErrHeader, key, v)
	}
	return &f, nil
}

// ParseRequest decodes a request as received on the server's ROUTER:
// [identity, "", header, payload, preencoded]. The header is decoded as
// hololinked's msgspec struct is: unknown keys and missing required ones
// (messageType, messageID, senderID, receiverID) are errors (ErrHeader).
// The returned slices alias frames.
func ParseRequest(frames [][]byte) (*Request, error) {
	if len(frames) != MessageLength {
		return nil, fmt.Errorf("%w: got %d", ErrFrameCount, len(frames))
	}
	r := &Request{}
	if err := parseRequest(frames, r); err != nil {
		if errors.Is(err, errMissing) {
			return r, err
		}
		return nil, err
	}
	return r, nil
}

var errMissing = fmt.Errorf("%w: messageType, messageID, senderID and receiverID are required", ErrHeader)

// parseRequest is ParseRequest into r (the server keeps r on its stack);
// frames has MessageLength frames.
func parseRequest(frames [][]byte, r *Request) error {
	r.Payload, r.Preencoded = frames[3], frames[4]
	if !fastRequestHeader(frames[2], &r.Header) {
		h, err := decodeRequestHeader(frames[2])
		if err != nil {
			return err
		}
		r.Header = *h
	}
	h := &r.Header
	if h.MessageType == "" || h.MessageID == "" || h.SenderID == "" || h.ReceiverID == "" {
		return errMissing
	}
	if h.PayloadContentType == "" {
		h.PayloadContentType = ContentJSON
	}
	if h.PreencodedPayloadContentType == "" {
		h.PreencodedPayloadContentType = ContentText
	}
	return nil
}

// ParseResponse decodes a reply as received on the client's ROUTER:
// [server identity, "", header, payload, preencoded].
func ParseResponse(frames [][]byte) (*Response, error) {
	if len(frames) != MessageLength {
		return nil, fmt.Errorf("%w: got %d", ErrFrameCount, len(frames))
	}
	r := &Response{Payload: frames[3], Preencoded: frames[4]}
	if !fastResponseHeader(frames[2], r.Header.set) {
		r.Header = ResponseHeader{}
		if err := decodeStrict(frames[2], &r.Header); err != nil {
			return nil, err
		}
	}
	if r.Header.MessageType == "" || r.Header.MessageID == "" {
		return nil, fmt.Errorf("%w: messageType and messageID are required", ErrHeader)
	}
	if r.Header.PayloadContentType == "" {
		r.Header.PayloadContentType = ContentJSON
	}
	return r, nil
}

// ParseEvent decodes an event as received on a SUB: [topic, "", header,
// payload, preencoded].
func ParseEvent(frames [][]byte) (*EventMessage, error) {
	if len(frames) != MessageLength {
		return nil, fmt.Errorf("%w: got %d", ErrFrameCount, len(frames))
	}
	e := &EventMessage{Topic: string(frames[0]), Payload: frames[3], Preencoded: frames[4]}
	if !fastResponseHeader(frames[2], e.Header.set) {
		e.Header = EventHeader{}
		if err := decodeStrict(frames[2], &e.Header); err != nil {
			return nil, err
		}
	}
	if e.Header.MessageType != MsgEvent {
		return nil, fmt.Errorf("%w: event messageType %q", ErrHeader, e.Header.MessageType)
	}
	if e.Header.PayloadContentType == "" {
		e.Header.PayloadContentType = ContentJSON
	}
	return e, nil
}

// decodeRequestHeader is the encoding/json path of parseRequest, apart so
// that the header it fills (and so the caller's Request) need not be on the
// heap on the fast path.
func decodeRequestHeader(b []byte) (*RequestHeader, error) {
	h := new(RequestHeader)
	return h, decodeStrict(b, h)
}

func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrHeader, err)
	}
	if d.More() {
		return fmt.Errorf("%w: trailing data after the header", ErrHeader)
	}
	return nil
}

// peekIDs pulls messageID and senderID out of a header that failed strict
// decoding, so the server can still tell the sender what was wrong.
func peekIDs(b []byte) (messageID, senderID string) {
	var m struct {
		MessageID any `json:"messageID"`
		SenderID  any `json:"senderID"`
	}
	if json.Unmarshal(b, &m) != nil {
		return "", ""
	}
	messageID, _ = m.MessageID.(string)
	senderID, _ = m.SenderID.(string)
	return messageID, senderID
}

// exceptionPayload encodes {"exception":{...}} as hololinked does.
func exceptionPayload(e *Exception) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"exception":{"message":`...)
	b = appendString(b, e.Message)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"traceback":`...)
	b = appendStrings(b, e.Traceback)
	b = append(b, `,"notes":`...)
	if e.Notes == nil {
		b = append(b, "null"...)
	} else {
		b = appendStrings(b, e.Notes)
	}
	return append(b, "}}"...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// ParseException decodes an EXCEPTION or INVALID_MESSAGE payload.
func ParseException(payload []byte, contentType string) (*Exception, error) {
	var w struct {
		Exception *Exception `json:"exception" msgpack:"exception"`
	}
	c, err := CodecFor(contentType)
	if err != nil {
		return nil, err
	}
	if err := c.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("rpc: exception payload: %w", err)
	}
	if w.Exception == nil {
		return nil, fmt.Errorf("rpc: exception payload lacks \"exception\": %.100q", payload)
	}
	return w.Exception, nil
}
