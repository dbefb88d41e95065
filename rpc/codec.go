package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// A Codec encodes payloads for one content type (hololinked's serializers).
type Codec interface {
	ContentType() string
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes b into v, a pointer. An empty b leaves v unchanged
	// (hololinked sends "null" or nothing for "no value").
	Unmarshal(b []byte, v any) error
}

// The codecs, by content type.
var (
	JSON    Codec = jsonCodec{}
	Msgpack Codec = msgpackCodec{}
	Text    Codec = textCodec{}
)

// CodecFor returns the codec for a content type; "" means JSON.
func CodecFor(contentType string) (Codec, error) {
	switch contentType {
	case ContentJSON, "":
		return JSON, nil
	case ContentMsgpack:
		return Msgpack, nil
	case ContentText:
		return Text, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrContentType, contentType)
}

type jsonCodec struct{}

func (jsonCodec) ContentType() string { return ContentJSON }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return []byte("null"), nil
	case json.RawMessage:
		return x, nil
	}
	if b, ok := appendValue(make([]byte, 0, 64), v); ok {
		return b, nil
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false) // msgspec leaves <, > and & alone
	if err := e.Encode(v); err != nil {
		return nil, fmt.Errorf("rpc: json: %w", err)
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // Encode's newline
}

func (jsonCodec) Unmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	if p, ok := v.(*any); ok && json.Valid(b) {
		if x, ok := parseValue(b); ok {
			*p = x
			return nil
		}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("rpc: json: %w", err)
	}
	return nil
}

type msgpackCodec struct{}

func (msgpackCodec) ContentType() string { return ContentMsgpack }

func (msgpackCodec) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.SetCustomStructTag("json") // one set of tags for both codecs
	e.UseCompactInts(true)
	if err := e.Encode(v); err != nil {
		return nil, fmt.Errorf("rpc: msgpack: %w", err)
	}
	return buf.Bytes(), nil
}

func (msgpackCodec) Unmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	d := msgpack.NewDecoder(bytes.NewReader(b))
	d.SetCustomStructTag("json")
	// Plain int64/uint64/float64 in interface values, as encoding/json's
	// float64: easier to type-check than int8..uint64.
	d.UseLooseInterfaceDecoding(true)
	d.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("rpc: msgpack: %w", err)
	}
	return nil
}

type textCodec struct{}

func (textCodec) ContentType() string { return ContentText }

func (textCodec) Marshal(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	case fmt.Stringer:
		return []byte(x.String()), nil
	}
	return nil, fmt.Errorf("rpc: text/plain encodes strings only, not %T", v)
}

func (textCodec) Unmarshal(b []byte, v any) error {
	switch p := v.(type) {
	case *string:
		*p = string(b)
	case *[]byte:
		*p = append((*p)[:0], b...)
	case *any:
		*p = string(b)
	default:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.String {
			rv.Elem().SetString(string(b))
			return nil
		}
		return fmt.Errorf("rpc: text/plain decodes into strings only, not %T", v)
	}
	return nil
}
