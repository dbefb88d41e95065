package rpc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzFastJSON checks the fast paths against encoding/json: same decoded
// values, same encoding, same headers.
func FuzzFastJSON(f *testing.F) {
	for _, s := range []string{
		`null`, `{}`, `[]`, `{"value":7}`, `{"__args__":[0.05, "x", true, null, {"a":[1,2]}]}`, `"é\n"`, `"\u2028"`,
		`1e400`, `-0`, `0.000001`, `1e21`, `{"a":"\ud800"}`, ` { "k" : [ 1 , 2 ] } `, `"a\u0000b"`, `"\x7f"`,
		`{"invokation_timeout":5.0,"execution_timeout":5.0,"oneway":true}`, `{"oneway":"yes"}`,
		`{"messageType":"OPERATION","messageID":"1","senderID":"s","receiverID":"demo","serverExecutionContext":{},"thingID":"demo","objekt":"count","operation":"readproperty"}`,
		`{"messageType":"REPLY","messageID":"1","receiverID":"x","senderID":"demo","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}`,
	} {
		f.Add([]byte(s))
	}
	for _, v := range loadVectors(f) {
		if len(v.frames) > 3 {
			f.Add(v.frames[2])
			f.Add(v.frames[3])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) { // the header scanners validate by themselves
			var h RequestHeader
			var r ResponseHeader
			if fastRequestHeader(b, &h) || fastResponseHeader(b, r.set) {
				t.Fatalf("a header scanner accepted invalid JSON %q", b)
			}
			if _, ok := scanExecContext(b); ok {
				t.Fatalf("scanExecContext accepted invalid JSON %q", b)
			}
			return
		}
		var want any
		if err := json.Unmarshal(b, &want); err == nil {
			if got, ok := parseValue(b); ok && !reflect.DeepEqual(got, want) {
				t.Fatalf("parseValue(%q) = %#v, encoding/json %#v", b, got, want)
			}
			var buf bytes.Buffer
			e := json.NewEncoder(&buf)
			e.SetEscapeHTML(false)
			if e.Encode(want) == nil {
				if got, ok := appendValue(nil, want); ok && !bytes.Equal(got, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))) {
					t.Fatalf("appendValue(%#v) = %s, encoding/json %s", want, got, buf.Bytes())
				}
			}
		} else if _, ok := parseValue(b); ok {
			t.Fatalf("parseValue accepted %q, encoding/json: %v", b, err)
		}
		var fast, slow RequestHeader
		if fastRequestHeader(b, &fast) {
			if err := decodeStrict(b, &slow); err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("request header %q: fast %+v, slow %+v %v", b, fast, slow, err)
			}
		}
		var fr, sr ResponseHeader
		if fastResponseHeader(b, fr.set) {
			if err := decodeStrict(b, &sr); err != nil || fr != sr {
				t.Fatalf("response header %q: fast %+v, slow %+v %v", b, fr, sr, err)
			}
		}
		if c, ok := fastExecContext(b); ok {
			var m map[string]json.RawMessage
			if json.Unmarshal(b, &m) != nil {
				t.Fatalf("fastExecContext accepted %q", b)
			}
			s, err := ParseExecContext(b) // the fast path again; compare with the map form
			if err != nil || deref(s.InvokationTimeout) != deref(c.InvokationTimeout) {
				t.Fatalf("exec context %q: %+v %v", b, s, err)
			}
			it, _ := seconds(m, "invokation_timeout")
			et, _ := seconds(m, "execution_timeout")
			if deref(it) != deref(c.InvokationTimeout) || deref(et) != deref(c.ExecutionTimeout) {
				t.Fatalf("exec context %q: fast %v %v, slow %v %v", b, deref(c.InvokationTimeout), deref(c.ExecutionTimeout), deref(it), deref(et))
			}
		}
	})
}
