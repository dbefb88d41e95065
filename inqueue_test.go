package zmq

import (
	"context"
	"testing"
	"time"
)

// With messages queued on several pipes, Recv takes one from each in turn
// (libzmq's fq_t), whatever order they arrived in, and keeps each pipe's order.
func TestFairQueuePolicy(t *testing.T) {
	s, err := NewSocket(Pull, WithRecvHWM(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pipes := []*pipe{newPipe("a", 0, false), newPipe("b", 0, false), newPipe("c", 0, false)}
	// a gets 100 messages before b and c get theirs.
	counts := []int{100, 3, 50}
	for i, p := range pipes {
		for k := 0; k < counts[i]; k++ {
			if !s.enqueue(p, Msg{Frames: [][]byte{{byte(i), byte(k)}}}, nil, nil, false) {
				t.Fatal("enqueue refused")
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var order []int
	next := make([]int, len(pipes))
	for range 153 {
		var p *pipe
		m, err := s.recv(ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		i := int(m.Frames[0][0])
		if p != pipes[i] || int(m.Frames[0][1]) != next[i] {
			t.Fatalf("got message %v from pipe %q, want #%d of pipe %d", m.Frames[0], p.endpoint, next[i], i)
		}
		next[i]++
		order = append(order, i)
	}
	// Strict turns while all three have messages: a b c a b c a b c, then a c ...
	want := []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 2, 0, 2}
	for k, w := range want {
		if order[k] != w {
			t.Fatalf("turn order %v, want prefix %v", order[:len(want)], want)
		}
	}
}

// hwmPipe is a PULL socket with a receive high-water mark of hwm and a pipe
// to queue on, closed at the end of the test, and the pipe's quit channel.
func hwmPipe(t *testing.T, hwm int) (*Socket, *pipe, chan struct{}) {
	t.Helper()
	s, err := NewSocket(Pull, WithRecvHWM(hwm))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, newPipe("a", 0, false), make(chan struct{})
}

// A pipe at the receive high-water mark makes its reader wait, and one Recv
// lets it go on.
func TestRecvHWMBlocksReader(t *testing.T) {
	s, p, quit := hwmPipe(t, 2)
	s.enqueue(p, Msg{Frames: [][]byte{{1}}}, nil, quit, false)
	s.enqueue(p, Msg{Frames: [][]byte{{2}}}, nil, quit, false)
	done := make(chan bool)
	go func() { done <- s.enqueue(p, Msg{Frames: [][]byte{{3}}}, nil, quit, false) }()
	select {
	case <-done:
		t.Fatal("enqueue past the high-water mark did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	ctx := context.Background()
	if m, _ := s.recv(ctx, nil); m.Frames[0][0] != 1 {
		t.Fatalf("got %v", m.Frames)
	}
	if !<-done {
		t.Fatal("enqueue failed after room was made")
	}
	for want := byte(2); want <= 3; want++ {
		if m, _ := s.recv(ctx, nil); m.Frames[0][0] != want {
			t.Fatalf("got %v, want %d", m.Frames, want)
		}
	}
	close(quit)
}

// enqueueBatch queues what fits below the receive high-water mark under one
// lock and then waits at the mark as enqueue does: the order holds, every
// message arrives, and closing quit while it waits reports false.
func TestRecvHWMBlocksBatch(t *testing.T) {
	s, p, quit := hwmPipe(t, 2)
	var msgs []Msg
	for i := range 5 {
		msgs = append(msgs, Msg{Frames: [][]byte{{byte(i)}}})
	}
	done := make(chan bool)
	go func() { done <- s.enqueueBatch(p, msgs, nil, quit) }()
	select {
	case <-done:
		t.Fatal("a batch past the high-water mark did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	s.inMu.Lock()
	n := p.in.n
	s.inMu.Unlock()
	if n != 2 {
		t.Fatalf("%d queued at the mark, want 2", n)
	}
	ctx := context.Background()
	for want := range byte(5) {
		if m, _ := s.recv(ctx, nil); m.Frames[0][0] != want {
			t.Fatalf("got %v, want %d", m.Frames, want)
		}
	}
	if !<-done {
		t.Fatal("enqueueBatch failed after room was made")
	}

	go func() { done <- s.enqueueBatch(p, msgs, nil, quit) }()
	select {
	case <-done:
		t.Fatal("a batch past the high-water mark did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	close(quit)
	if <-done {
		t.Fatal("enqueueBatch reported true after quit closed while it waited")
	}
}
