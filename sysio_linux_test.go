package zmq

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// connPair is a connected pair over tcp or ipc: a is read, b is the peer.
func connPair(t *testing.T, network string) (a, b net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	b, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a = <-ch
	if a == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestRawReader: connReader reads tcp and ipc connections with raw system
// calls, and what it returns is what the net.Conn's own Read would: the
// bytes, io.EOF, and the same errors (an *net.OpError saying "read", with
// net.ErrClosed, os.ErrDeadlineExceeded, ECONNRESET inside).
func TestRawReader(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			t.Run("data", func(t *testing.T) {
				a, b := connPair(t, network)
				r := connReader(a)
				if _, ok := r.(*rawReader); !ok {
					t.Fatalf("connReader gave %T, want *rawReader", r)
				}
				want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: many reads, some waits
				go func() {
					b.Write(want)
					b.Close()
				}()
				got, err := io.ReadAll(r) // stops at io.EOF
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
				}
				if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
					t.Fatalf("after the end: %d, %v; want 0, io.EOF", n, err)
				}
				if n, err := r.Read(nil); n != 0 || err != nil {
					t.Fatalf("empty read: %d, %v", n, err)
				}
			})
			t.Run("deadline", func(t *testing.T) {
				a, b := connPair(t, network)
				r := connReader(a)
				a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				_, err := r.Read(make([]byte, 8))
				a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				_, want := a.Read(make([]byte, 8))
				sameErr(t, err, want)
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("got %v, want os.ErrDeadlineExceeded", err)
				}
				// Nothing is lost to the timeout: a later read gets the data.
				a.SetReadDeadline(time.Time{})
				b.Write([]byte("after"))
				buf := make([]byte, 8)
				n, err := r.Read(buf)
				if err != nil || string(buf[:n]) != "after" {
					t.Fatalf("after the deadline: %q, %v", buf[:n], err)
				}
			})
			t.Run("closed", func(t *testing.T) {
				a, _ := connPair(t, network)
				r := connReader(a)
				errc := make(chan error, 1)
				go func() {
					_, err := r.Read(make([]byte, 8)) // waits on the poller
					errc <- err
				}()
				time.Sleep(10 * time.Millisecond) // let it wait: a read that starts after Close fails the same way
				a.Close()
				err := <-errc
				_, want := a.Read(make([]byte, 8))
				sameErr(t, err, want)
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("got %v, want net.ErrClosed", err)
				}
			})
		})
	}
	t.Run("reset", func(t *testing.T) {
		a, b := connPair(t, "tcp")
		r := connReader(a)
		b.(*net.TCPConn).SetLinger(0) // close sends RST
		b.Close()
		_, err := r.Read(make([]byte, 8))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %v, want ECONNRESET", err)
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "read" || op.Addr == nil || !strings.Contains(err.Error(), "read tcp ") {
			t.Fatalf("error %q is not net.Conn.Read's kind", err)
		}
		if !isDisconnect(err) {
			t.Fatalf("isDisconnect(%v) = false", err)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		a, _ := net.Pipe()
		defer a.Close()
		if r := connReader(a); r != io.Reader(a) {
			t.Fatalf("connReader(net.Pipe) = %T, want the conn itself", r)
		}
	})
}

// sameErr: err and want read the same, but for the ports.
func sameErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil || want == nil {
		t.Fatalf("errors %v and %v: want both", err, want)
	}
	if err.Error() != want.Error() {
		t.Fatalf("raw read's error %q, net.Conn.Read's %q", err, want)
	}
}

// TestRawReaderNoAlloc: a raw read allocates nothing.
func TestRawReaderNoAlloc(t *testing.T) {
	a, b := connPair(t, "tcp")
	r := connReader(a)
	buf := make([]byte, 64)
	msg := []byte("ping")
	allocs := testing.AllocsPerRun(200, func() {
		b.Write(msg)
		if n, err := io.ReadFull(r, buf[:len(msg)]); err != nil || n != len(msg) {
			t.Fatal(n, err)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Fatalf("%.1f allocations per read", allocs)
	}
}
