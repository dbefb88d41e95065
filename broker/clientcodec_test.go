package broker

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"unsafe"
)

// checkClientCodec: parseWire gives what json.Unmarshal gives, or declines;
// the hand-written Send request is byte for byte encoding/json's.
func checkClientCodec(t *testing.T, in []byte, target string) {
	t.Helper()
	var want wire
	werr := json.Unmarshal(in, &want)
	var got wire
	if parseWire(in, &got, nil) {
		if werr != nil {
			t.Fatalf("parseWire accepted %q, which encoding/json refuses: %v", in, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseWire(%q)\n got %+v\nwant %+v", in, got, want)
		}
	}
	var dec wire
	if err := decodeWire(in, &dec, nil); (err != nil) != (werr != nil) || err == nil && !reflect.DeepEqual(dec, want) {
		t.Fatalf("decodeWire(%q) = %+v, %v; encoding/json: %+v, %v", in, dec, err, want, werr)
	}

	if plainTarget(target) {
		// A string content, written straight into the request.
		sold, err := json.Marshal(struct {
			Content string `json:"content"`
			Target  string `json:"target"`
			Type    string `json:"type"`
		}{string(in), target, TypeDirectMessage})
		if err != nil {
			t.Fatal(err)
		}
		sc := sendContent{s: string(in)}
		if n := sendRequestLen(sc, target); n > len(sold) {
			t.Errorf("sendRequestLen = %d for a string, encoding/json wrote %d bytes", n, len(sold))
		}
		if got, want := appendSendRequest(nil, 42, sc, target), withID(42, sold); string(got) != string(want) {
			t.Fatalf("Send request, string content\n got %s\nwant %s", got, want)
		}
		if got, want := sendRequest(sc, target, 42), withID(42, sold); string(got) != string(want) {
			t.Fatalf("sendRequest, string content\n got %s\nwant %s", got, want)
		}
	}

	content, err := marshalContent(json.RawMessage(in))
	if err != nil || !plainTarget(target) {
		return
	}
	old, err := json.Marshal(struct {
		Content json.RawMessage `json:"content"`
		Target  string          `json:"target"`
		Type    string          `json:"type"`
	}{content, target, TypeDirectMessage})
	if err != nil {
		t.Fatal(err)
	}
	sc := sendContent{raw: content, isRaw: true}
	if n := sendRequestLen(sc, target); n != len(old) {
		t.Errorf("sendRequestLen = %d, encoding/json wrote %d bytes", n, len(old))
	}
	if got, want := appendSendRequest(nil, 42, sc, target), withID(42, old); string(got) != string(want) {
		t.Fatalf("Send request\n got %s\nwant %s", got, want)
	}
}

func TestClientCodecMatchesEncodingJSON(t *testing.T) {
	for _, c := range []struct{ in, target string }{
		{`{"type":"direct_message","from":"alice","content":"hi","timestamp":1700000000.25}`, "bob"},
		{`{"request_id":7,"type":"delivery_confirmation","target":"bob","status":"delivered"}`, "b o b"},
		{`{"type":"broadcast_confirmation","recipients":3,"request_id":"x"}`, "<b>"},
		{`{"type":"registration_ack","status":"success","client_id":"00ab","message":"Welcome, a!","max_msg_size":262144}`, "é"},
		{`{"type":"error","message":"rate limit exceeded","timestamp":1e3}`, "a\"b"},
		{` { "Type" : "x" } `, ""},
		{`{"type":"pong","timestamp":1.5,"stats":{"received":1,"sent":2,"errors":0}}`, "x"},
		{`{"type":"client_list","clients":[],"total":0}`, "x"},
		{`{"type":"routing_error","route_path":["a"],"failed_route":["b"],"error":"e"}`, "x"},
		{`{"type":"direct_message","content":{"a":[1,2.5e3,true,null,"<&>"]},"x":{"y":[{}]}}`, "x"},
		{`{"recipients":1.5}`, ""},
		{`{"recipients":1e2}`, ""},
		{`{"total":99999999999999999999}`, ""},
		{`{"timestamp":1e999}`, ""},
		{`{"type":null,"content":null,"request_id":null}`, ""},
		{`{"type":"a\u00e9"}`, ""},
		{`{"type":"a"`, ""},
		{`{"type":1}`, ""},
		{`[]`, ""},
		{`{"content":01}`, ""},
		{`{"type":"a","type":"b"}`, ""},
		{`{"MESSAGE":"x","message":"y"}`, ""},
	} {
		checkClientCodec(t, []byte(c.in), c.target)
	}
}

// go test -run '^$' -fuzz FuzzClientCodec -fuzztime 60s ./broker
func FuzzClientCodec(f *testing.F) {
	f.Add([]byte(`{"type":"direct_message","from":"alice","content":"hi","timestamp":1700000000.25}`), "bob")
	f.Add([]byte(`{"request_id":7,"type":"delivery_confirmation","target":"bob","status":"delivered"}`), "x")
	f.Add([]byte(`{"type":"registration_ack","status":"success","client_id":"00ab","message":"Welcome, a!","max_msg_size":262144}`), "y")
	f.Add([]byte(`{"type":"pong","timestamp":1.5,"stats":{"received":1}}`), "<é>")
	f.Fuzz(func(t *testing.T, in []byte, target string) {
		checkClientCodec(t, in, target)
	})
}

func BenchmarkClientCodec(b *testing.B) {
	in := []byte(`{"type":"direct_message","from":"load-0a1b2c-d0","content":"1234567890123|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","timestamp":1700000000.123456}`)
	b.Run("decode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var w wire
			json.Unmarshal(in, &w)
		}
	})
	b.Run("decode/hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var w wire
			decodeWire(in, &w, nil)
		}
	})
}

// decimalFloat gives what strconv.ParseFloat gives, or declines.
func TestDecimalFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(s string) {
		t.Helper()
		f, ok := decimalFloat([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if ok && (err != nil || f != want) {
			t.Fatalf("decimalFloat(%q) = %v, ParseFloat %v, %v", s, f, want, err)
		}
	}
	for _, s := range []string{"0", "1", "0.5", "1733324400.123456", "999999999999999", "99999999999999.9", ".5", "5.", "1.2.3", "-1", "1e3", "", "1234567890123456", "0.000000000000001", "0.0000000000000001", "9007199254740992", "9007199254740993", "90071992547409.93", "00012.5000", "12345678901234567890"} {
		check(s)
	}
	for range 200000 {
		us := r.Int64N(1 << 51)
		check(strconv.FormatFloat(float64(us)/1e6, 'f', -1, 64))
		check(strconv.FormatInt(us/1e6, 10) + "." + fmt.Sprintf("%06d", us%1e6))
		i := strconv.FormatUint(r.Uint64N(1e15), 10)
		check(i[:1+r.IntN(len(i))] + "." + strconv.FormatUint(r.Uint64N(1e6), 10))
	}
	if f, ok := decimalFloat([]byte("1733324400.123456")); !ok || f != 1733324400.123456 {
		t.Fatalf("a timestamp: %v, %v", f, ok)
	}
}

// The name cache: a name read again is the same string, not a new one;
// another name replaces it; what is decoded is the same as without it.
func TestNameCache(t *testing.T) {
	var nc nameCache
	decode := func(in string) wire {
		t.Helper()
		var w, plain wire
		if err := decodeWire([]byte(in), &w, &nc); err != nil {
			t.Fatal(err)
		}
		if err := decodeWire([]byte(in), &plain, nil); err != nil || !reflect.DeepEqual(w, plain) {
			t.Fatalf("%s: %+v with the cache, %+v without", in, w, plain)
		}
		return w
	}
	a := decode(`{"type":"direct_message","from":"alice","content":"1","timestamp":1}`)
	b := decode(`{"type":"direct_message","from":"alice","content":"2","timestamp":1}`)
	if unsafe.StringData(a.From) != unsafe.StringData(b.From) {
		t.Error("alice read twice: two strings")
	}
	c := decode(`{"type":"direct_message","from":"carol","content":"3","timestamp":1}`)
	if c.From != "carol" || unsafe.StringData(c.From) == unsafe.StringData(a.From) {
		t.Errorf("from %q after alice", c.From)
	}
	d := decode(`{"request_id":1,"status":"delivered","target":"bob","type":"delivery_confirmation"}`)
	e := decode(`{"request_id":2,"status":"delivered","target":"bob","type":"delivery_confirmation"}`)
	if unsafe.StringData(d.Target) != unsafe.StringData(e.Target) || e.From != "" {
		t.Errorf("targets %q, %q", d.Target, e.Target)
	}
	decode(`{"type":"direct_message","from":"a\u00e9","content":"4","timestamp":1}`) // escaped: encoding/json's
	if allocs := testing.AllocsPerRun(100, func() {
		var w wire
		decodeWire([]byte(`{"request_id":3,"status":"delivered","target":"bob","type":"delivery_confirmation"}`), &w, &nc)
	}); allocs > 1 {
		t.Errorf("%.0f allocations to decode a confirmation", allocs)
	}
}
