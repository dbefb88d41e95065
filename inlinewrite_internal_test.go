//go:build unix

package zmq

import (
	"io"
	"net"
	"testing"
)

// TestInlineWriterNoAlloc: an inline write allocates nothing (a closure
// per write would escape through RawConn.Write), and writes what it says.
func TestInlineWriterNoAlloc(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rc := rawConn(a)
	if rc == nil {
		t.Fatal("no RawConn for a tcp connection")
	}
	var w inlineWriter
	msg := []byte("hello")
	const runs = 100
	allocs := testing.AllocsPerRun(runs, func() {
		if n, err := w.write(rc, msg); n != len(msg) || err != nil {
			t.Fatalf("write = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per inline write, want 0", allocs)
	}
	got := make([]byte, (runs+1)*len(msg)) // AllocsPerRun runs it once more to warm up
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(got); i += len(msg) {
		if string(got[i:i+len(msg)]) != "hello" {
			t.Fatalf("read %q at %d", got[i:i+len(msg)], i)
		}
	}
}
