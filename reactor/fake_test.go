package reactor

import (
	"context"
	"sync"

	"github.com/zmqgo/zmq"
)

// fakeSocket is an in-memory stand-in for a zmq socket, so timer logic can
// run inside a synctest bubble (which cannot hold real network I/O). What
// the connection sends goes to out, bounded like a high-water mark; what the
// test puts in in, the connection receives.
type fakeSocket struct {
	typ  zmq.Type
	in   chan zmq.Msg
	out  chan zmq.Msg
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	subs []string
}

// fakeNet makes fake sockets and hands each to the test.
type fakeNet struct {
	hwm   int
	socks chan *fakeSocket
}

func newFakeNet(hwm int) *fakeNet { return &fakeNet{hwm: hwm, socks: make(chan *fakeSocket, 16)} }

func (n *fakeNet) maker(t zmq.Type, _ ...zmq.Option) (socket, error) {
	s := &fakeSocket{typ: t, in: make(chan zmq.Msg, 16), out: make(chan zmq.Msg, n.hwm), done: make(chan struct{})}
	n.socks <- s
	return s, nil
}

func (s *fakeSocket) Bind(string) error    { return nil }
func (s *fakeSocket) Connect(string) error { return nil }
func (s *fakeSocket) LastEndpoint() string { return "" }

func (s *fakeSocket) Send(ctx context.Context, m zmq.Msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.done:
		return zmq.ErrClosed
	default:
	}
	select {
	case s.out <- m:
		return nil
	default:
	}
	// Full: wait like the engine does.
	select {
	case s.out <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return zmq.ErrClosed
	}
}

func (s *fakeSocket) TrySend(m zmq.Msg) error {
	select {
	case <-s.done:
		return zmq.ErrClosed
	case s.out <- m:
		return nil
	default:
		return zmq.ErrWouldBlock
	}
}

func (s *fakeSocket) Recv(ctx context.Context) (zmq.Msg, error) {
	select {
	case m := <-s.in:
		return m, nil
	case <-ctx.Done():
		return zmq.Msg{}, ctx.Err()
	case <-s.done:
		return zmq.Msg{}, zmq.ErrClosed
	}
}

func (s *fakeSocket) Subscribe(p []byte) error {
	s.mu.Lock()
	s.subs = append(s.subs, "+"+string(p))
	s.mu.Unlock()
	return nil
}

func (s *fakeSocket) Unsubscribe(p []byte) error {
	s.mu.Lock()
	s.subs = append(s.subs, "-"+string(p))
	s.mu.Unlock()
	return nil
}

func (s *fakeSocket) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}
