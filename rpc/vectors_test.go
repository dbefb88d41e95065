package rpc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// vector is one captured message of testdata/hololinked-frames.txt, taken
// with hololinked 0.3.12's own client and a pyzmq client against its server.
type vector struct {
	title    string
	dir      string // "send" or "recv"
	frames   [][]byte
	complete bool // no frame was cut short in the capture
	noReply  bool
}

var (
	sectionRE = regexp.MustCompile(`^=== (.*?)\s+\[(send|recv)`)
	frameRE   = regexp.MustCompile(`^\s+\[(\d+)\] \((\d+) bytes\) (b'.*)$`)
)

func loadVectors(t testing.TB) []*vector {
	f, err := os.Open("testdata/hololinked-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []*vector
	var cur *vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			cur = &vector{title: m[1], dir: m[2], complete: true}
			vs = append(vs, cur)
			continue
		}
		m := frameRE.FindStringSubmatch(line)
		if m == nil || cur == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		b, rest, err := pyBytes(m[3])
		if err != nil {
			t.Fatalf("%s: %v", cur.title, err)
		}
		if len(b) != n || rest != "" {
			cur.complete = false
		}
		if len(cur.frames) == 0 && bytes.HasPrefix(b, []byte("<no reply")) {
			cur.noReply = true
		}
		cur.frames = append(cur.frames, b)
	}
	if len(vs) < 40 {
		t.Fatalf("only %d vectors parsed", len(vs))
	}
	return vs
}

// pyBytes decodes a Python bytes literal b'...' and returns what follows it.
func pyBytes(s string) ([]byte, string, error) {
	if !strings.HasPrefix(s, "b'") {
		return nil, "", fmt.Errorf("not a bytes literal: %.20q", s)
	}
	var out []byte
	for i := 2; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\'':
			return out, s[i+1:], nil
		case '\\':
			i++
			switch s[i] {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'x':
				v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return nil, "", err
				}
				out = append(out, byte(v))
				i += 2
			default:
				out = append(out, s[i])
			}
		default:
			out = append(out, c)
		}
	}
	return nil, "", errors.New("unterminated bytes literal")
}

func TestVectorsHeadersRoundTrip(t *testing.T) {
	vs := loadVectors(t)
	var req, resp, ev int
	for _, v := range vs {
		if v.noReply || len(v.frames) < 3 {
			continue
		}
		frames := v.frames
		if len(frames[0]) == 0 { // DEALER: no identity frame
			frames = append([][]byte{[]byte("dealer")}, frames...)
		}
		hdr := frames[2]
		if !bytes.HasPrefix(hdr, []byte(`{"`)) { // the malformed-JSON case: TestVectorsMalformed
			continue
		}
		switch {
		case bytes.Contains(hdr, []byte(`"messageType":"EVENT"`)):
			e, err := ParseEvent(frames)
			if err != nil {
				t.Fatalf("%s: %v", v.title, err)
			}
			if got := e.Header.AppendJSON(nil); !bytes.Equal(got, hdr) {
				t.Errorf("%s: event header\n got %s\nwant %s", v.title, got, hdr)
			}
			if e.Topic != e.Header.EventID {
				t.Errorf("%s: topic %q, eventID %q", v.title, e.Topic, e.Header.EventID)
			}
			ev++
		case bytes.Contains(hdr, []byte(`"receiverID":"demo"`)): // a request
			if len(frames) != MessageLength {
				if _, err := ParseRequest(frames); !errors.Is(err, ErrFrameCount) {
					t.Errorf("%s: %d frames: err %v, want ErrFrameCount", v.title, len(frames), err)
				}
				continue
			}
			r, err := ParseRequest(frames)
			if bytes.Contains(hdr, []byte(`"bogus"`)) {
				if !errors.Is(err, ErrHeader) {
					t.Errorf("%s: unknown key accepted: %v", v.title, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", v.title, err)
			}
			if bytes.Contains(hdr, []byte(`"thingID"`)) { // a complete header re-encodes byte for byte
				if got := r.Header.AppendJSON(nil); !bytes.Equal(got, hdr) {
					t.Errorf("%s: request header\n got %s\nwant %s", v.title, got, hdr)
				}
			}
			req++
		default: // a response
			if len(frames) != MessageLength {
				continue
			}
			r, err := ParseResponse(frames)
			if err != nil {
				t.Fatalf("%s: %v", v.title, err)
			}
			if got := r.Header.AppendJSON(nil); !bytes.Equal(got, hdr) {
				t.Errorf("%s: response header\n got %s\nwant %s", v.title, got, hdr)
			}
			if v.complete && (r.Header.MessageType == MsgException || r.Header.MessageType == MsgInvalid) {
				e, err := ParseException(r.Payload, r.Header.PayloadContentType)
				if err != nil {
					t.Fatalf("%s: %v", v.title, err)
				}
				if got := exceptionPayload(e); !bytes.Equal(got, r.Payload) {
					t.Errorf("%s: exception payload\n got %s\nwant %s", v.title, got, r.Payload)
				}
			}
			resp++
		}
	}
	if req < 20 || resp < 20 || ev < 3 {
		t.Errorf("checked %d requests, %d responses, %d events: too few", req, resp, ev)
	}
}

func TestVectorsMalformed(t *testing.T) {
	for _, v := range loadVectors(t) {
		if v.title == "malformed header JSON" && v.dir == "send" {
			if _, err := ParseRequest(v.frames); !errors.Is(err, ErrHeader) {
				t.Errorf("malformed JSON: %v", err)
			}
		}
		if v.title == "missing serverExecCtx" && v.dir == "send" {
			r, err := ParseRequest(v.frames)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseExecContext(r.Header.ServerExecutionContext); !errors.Is(err, ErrHeader) {
				t.Errorf("missing context: %v", err)
			}
		}
	}
}

func TestExecContext(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		raw  string
		want ExecContext
	}{
		{`{"invokation_timeout":5.0,"execution_timeout":5.0}`, ExecContext{f(5), f(5), false}},
		{`{"invokation_timeout":5.0,"execution_timeout":5.0,"oneway":true}`, ExecContext{f(5), f(5), true}},
		{`{"invocation_timeout":5.0,"execution_timeout":1.0}`, ExecContext{nil, f(1), false}}, // ZMQProperty.get's typo
		{`{"invokationTimeout":5,"executionTimeout":5,"oneway":false}`, ExecContext{}},        // struct default: ignored
		{`{"Invokation_Timeout":1}`, ExecContext{}},                                           // keys are exact
		{`{}`, ExecContext{}},
		{`{"invokation_timeout":null}`, ExecContext{}},
	} {
		got, err := ParseExecContext([]byte(tc.raw))
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if fmt.Sprint(deref(got.InvokationTimeout), deref(got.ExecutionTimeout), got.Oneway) !=
			fmt.Sprint(deref(tc.want.InvokationTimeout), deref(tc.want.ExecutionTimeout), tc.want.Oneway) {
			t.Errorf("%s: got %+v", tc.raw, got)
		}
	}
	for _, bad := range []string{`{"invokation_timeout":"5"}`, `{"execution_timeout":-1}`, `[]`, `{"oneway":1}`, ``, `null`} {
		if _, err := ParseExecContext([]byte(bad)); !errors.Is(err, ErrHeader) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	if got := string(EncodeExecContext(5, 5, false)); got != `{"invokation_timeout":5.0,"execution_timeout":5.0}` {
		t.Errorf("encode: %s", got)
	}
	if got := string(EncodeExecContext(5, 0.25, true)); got != `{"invokation_timeout":5.0,"execution_timeout":0.25,"oneway":true}` {
		t.Errorf("encode: %s", got)
	}
	if got := string(EncodeExecContext(-1, -1, false)); got != `{}` {
		t.Errorf("encode: %s", got)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestCodecs(t *testing.T) {
	// msgpack 0x07 is 7, as the captured writeproperty sent it.
	var v any
	if err := Msgpack.Unmarshal([]byte{0x07}, &v); err != nil || v != int64(7) {
		t.Fatalf("msgpack 7: %v %T %v", v, v, err)
	}
	b, err := Msgpack.Marshal(map[string]any{"slept": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := Msgpack.Unmarshal(b, &m); err != nil || m["slept"] != 0.5 {
		t.Fatalf("msgpack map: %v %v", m, err)
	}
	if b, _ := JSON.Marshal("<a&b>"); string(b) != `"<a&b>"` {
		t.Errorf("json escapes HTML: %s", b)
	}
	if b, _ := JSON.Marshal(nil); string(b) != "null" {
		t.Errorf("json nil: %s", b)
	}
	if b, _ := Text.Marshal("héllo"); string(b) != "héllo" {
		t.Errorf("text: %s", b)
	}
	var s string
	if err := Text.Unmarshal([]byte("hi"), &s); err != nil || s != "hi" {
		t.Errorf("text decode: %q %v", s, err)
	}
	if _, err := CodecFor("application/x-pickle"); !errors.Is(err, ErrContentType) {
		t.Errorf("pickle: %v", err)
	}
	if _, err := Text.Marshal(3); err == nil {
		t.Error("text/plain encoded a number")
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       `"plain"`,
		"q\"b\\":      `"q\"b\\"`,
		"a\nb\tc\x01": `"a\nb\tc\u0001"`,
		"µ/é":         `"µ/é"`,
		"bad\xff":     "\"bad\ufffd\"",
	} {
		if got := string(appendString(nil, in)); got != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}

func TestAddresses(t *testing.T) {
	if got := Sanitize(`a<b>:"c/d\e|f?g*h`); got != "a_b_c_d_e_f_g_h" {
		t.Errorf("sanitize: %q", got)
	}
	if got := Sanitize("__x//y__"); got != "x_y" {
		t.Errorf("sanitize: %q", got)
	}
	req, ev := IPCEndpoints("/tmp/h", "demo")
	if req != "ipc:///tmp/h/sockets/demo.ipc" || ev != "ipc:///tmp/h/sockets/demo.event-publisher.ipc" {
		t.Errorf("ipc: %s %s", req, ev)
	}
	for in, want := range map[string]string{
		"tcp://localhost:61000": "tcp://localhost:61001",
		"tcp://[::1]:5":         "tcp://[::1]:6",
		"ipc:///x/demo.ipc":     "ipc:///x/demo.event-publisher.ipc",
		"inproc://demo":         "inproc://demo/event-publisher",
		"tcp://host":            "",
		"udp://x":               "",
	} {
		if got := EventEndpoint(in); got != want {
			t.Errorf("EventEndpoint(%s) = %q, want %q", in, got, want)
		}
	}
}
