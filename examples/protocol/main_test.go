package main

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, nil, &out, nil); err != nil {
		t.Fatal(err)
	}
	want := `-> HELLO v2
<- WELCOME (seq 1): session s1 on zmqgo-protocol-demo, version 2
-> DATA v2, 100 bytes
<- DATA_ACK (seq 2): 100 bytes, crc32 ` + crc(strings.Repeat("x", 100)) + `
-> DATA v2, 10320 bytes (zlib-compressed on the wire)
<- DATA_ACK (seq 3): 10320 bytes, crc32 ` + crc(strings.Repeat("all work and no play makes jack a dull boy\n", 240)) + `
-> DATA v1, 10320 bytes
<- DATA_ACK (seq 4): 10320 bytes, crc32 ` + crc(strings.Repeat("all work and no play makes jack a dull boy\n", 240)) + `
-> PING v2, 14 bytes
<- PONG (seq 5): "are you there?"
-> DATA v3, 15 bytes
<- ERROR (seq 6): unsupported_version: version 3; supported: [1 2]
-> FROB v2
<- ERROR (seq 7): unknown_type: unknown message type "FROB"
-> BYE v2
<- BYE_ACK (seq 8)
-> DATA v2, 9 bytes
<- ERROR (seq 9): no_session: send HELLO first
-> "{\"version\":2,\"type\":\"DATA\",\"seq\":99,\"compression\":\"zlib\",\"length\":5}"
<- ERROR (seq 99): bad_payload: zlib: zlib: invalid header
-> "not json"
<- ERROR (seq 0): bad_header: header is not a JSON object with a type
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func crc(s string) string { return fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(s))) }

func mustEncode(h Header, p []byte) [][]byte {
	f, err := Encode(h, p)
	if err != nil {
		panic(err)
	}
	return f
}

func TestEncodeDecode(t *testing.T) {
	small := []byte("hello")
	big := bytes.Repeat([]byte("abc"), 1000)
	for _, c := range []struct {
		version    int
		payload    []byte
		compressed bool
	}{{2, small, false}, {2, big, true}, {1, big, false}, {2, bytes.Repeat([]byte("x"), CompressAbove), false}, {2, nil, false}} {
		frames := mustEncode(Header{Version: c.version, Type: "DATA", Seq: 1}, c.payload)
		if got := len(frames[1]) < len(c.payload); got != c.compressed {
			t.Fatalf("v%d %d bytes: compressed %v", c.version, len(c.payload), got)
		}
		h, p, err := Decode(frames)
		if err != nil || !bytes.Equal(p, c.payload) || h.Type != "DATA" {
			t.Fatalf("round trip: %+v %d %v", h, len(p), err)
		}
	}
	// Every bad input is a protocol error with its code.
	for code, frames := range map[string][][]byte{
		ErrBadFrames:          {[]byte(`{"version":2,"type":"DATA"}`)},
		ErrBadHeader:          {[]byte(`[]`), nil},
		ErrUnsupportedVersion: {[]byte(`{"version":0,"type":"DATA"}`), nil},
		ErrBadCompression:     {[]byte(`{"version":2,"type":"DATA","compression":"lz4","length":1}`), []byte("x")},
		ErrLengthMismatch:     {[]byte(`{"version":2,"type":"DATA","length":4}`), []byte("x")},
	} {
		_, _, err := Decode(frames)
		if pe, ok := err.(*protoError); !ok || pe.code != code {
			t.Errorf("%s: got %v", code, err)
		}
	}
	v1 := mustEncode(Header{Version: 2, Type: "DATA"}, big)
	v1[0] = bytes.Replace(v1[0], []byte(`"version":2`), []byte(`"version":1`), 1)
	if _, _, err := Decode(v1); err == nil || err.(*protoError).code != ErrBadCompression {
		t.Fatalf("compressed v1: %v", err)
	}
}

func TestRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srvCtx, stop := context.WithCancel(ctx)
	lines := make(ztest.LineWriter, 10)
	done := make(chan error, 1)
	go func() { done <- run(srvCtx, nil, lines, []string{"-role", "server", "-bind", "tcp://127.0.0.1:0"}) }()
	addr := strings.TrimSpace(strings.TrimPrefix(<-lines, "server listening on "))
	var out bytes.Buffer
	in := io.MultiReader(strings.NewReader("one\n"), strings.NewReader(strings.Repeat("y", 2000)+"\n"))
	if err := run(ctx, in, &out, []string{"-role", "client", "-connect", addr, "-name", "t"}); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"WELCOME (seq 1)", "DATA_ACK (seq 2): 4 bytes", "DATA_ACK (seq 3): 2001 bytes", "PONG (seq 4)", "BYE_ACK (seq 5)"} {
		if !strings.Contains(got, want) {
			t.Fatalf("missing %q in\n%s", want, got)
		}
	}
}
