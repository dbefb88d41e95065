package channels

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// freezer is a TCP proxy that can stop forwarding while keeping the
// connections open: a hung process, or a network that drops everything.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, u)
			f.mu.Unlock()
			f.wg.Add(2)
			go f.pipe(c, u)
			go f.pipe(u, c)
		}
	}()
	t.Cleanup(f.close)
	return f
}

func (f *freezer) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		f.mu.Lock()
		frozen := f.frozen
		f.mu.Unlock()
		if frozen {
			continue // swallowed
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

func (f *freezer) freeze() { f.mu.Lock(); f.frozen = true; f.mu.Unlock() }

func (f *freezer) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *freezer) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// A subscriber that stops answering heartbeats (its connection still
// open) is dropped within 3 heartbeat intervals and stops getting
// round-robin deliveries; the live one gets them all (channels #686).
func TestHungSubscriberDropped(t *testing.T) {
	const hb = 50 * time.Millisecond
	s := startServer(t, Config{Heartbeat: hb})
	fz := newFreezer(t, strings.TrimPrefix(s.Addr(), "tcp://"))
	// The hung layer's data port goes through the proxy, its signalling
	// port (unused here) anywhere.
	hl, err := dialEndpoints(fmt.Sprintf("tcp://127.0.0.1:%d", fz.port()), s.SignalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	live := dial(t, s)
	ctx := ctxT(t, 20*time.Second)
	for _, l := range []*Layer{hl, live} {
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		l.Receive(c, "work") // subscribes
		cancel()
	}
	if n := s.ChannelInfo("work").Subscribers; n != 2 {
		t.Fatalf("%d subscribers", n)
	}
	fz.freeze()
	start := time.Now()
	waitSubscribers(t, s, "work", 1, 5*time.Second)
	t.Logf("hung subscriber dropped after %v (heartbeat %v)", time.Since(start).Round(time.Millisecond), hb)
	for i := range 6 {
		if err := live.Send(ctx, "work", Message{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		if m, err := live.Receive(ctx, "work"); err != nil || m["n"] != int64(i) {
			t.Fatal(m, err)
		}
	}
}

// After the server restarts, a waiting Receive subscribes again at once.
func TestLayerResubscribesAfterRestart(t *testing.T) {
	s := startServer(t, Config{})
	addr := s.Addr()
	l := dial(t, s)
	ctx := ctxT(t, 20*time.Second)
	got := make(chan Message, 1)
	go func() {
		m, err := l.Receive(ctx, "survivor")
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	waitSubscribers(t, s, "survivor", 1, 10*time.Second)
	s.Close()
	s2 := startServer(t, Config{Bind: addr})
	waitSubscribers(t, s2, "survivor", 1, 4*time.Second) // the periodic renewal is 5 s
	sender := dial(t, s2)
	if err := sender.Send(ctx, "survivor", Message{"type": "after.restart"}); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m["type"] != "after.restart" {
		t.Fatal(m)
	}
}

// Bytes that are not ZMTP at all, on both ports: those connections go,
// everyone else carries on.
func TestServerNonZMTPGarbage(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	for _, ep := range []string{s.Addr(), s.SignalAddr()} {
		c, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("\xff", 4096)))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // the server hangs up
		c.Close()
	}
	if err := l.Send(ctx, "after.garbage", Message{"ok": true}); err != nil {
		t.Fatal(err)
	}
	if m, err := l.Receive(ctx, "after.garbage"); err != nil || m["ok"] != true {
		t.Fatal(m, err)
	}
}
