package zmq

import (
	"context"
	"time"
)

// TrySend sends m if that needs no waiting, and returns ErrWouldBlock
// otherwise (libzmq's ZMQ_DONTWAIT): when no peer has room in its queue for
// PUSH, DEALER, REQ and PAIR, or a mandatory ROUTER's peer is full. Types
// that never wait (PUB, and ROUTER without RouterMandatory) behave as Send.
func (s *Socket) TrySend(m Msg) error { return s.send(tryCtx{}, m) }

// TryRecv returns a message if one is waiting, and ErrWouldBlock otherwise.
func (s *Socket) TryRecv() (Msg, error) { return s.Recv(tryCtx{}) }

// tryCtx is a context that is done from the start, with ErrWouldBlock as its
// error: every place that would wait gives up at once, after trying.
type tryCtx struct{}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (tryCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (tryCtx) Done() <-chan struct{}       { return closedChan }
func (tryCtx) Err() error                  { return ErrWouldBlock }
func (tryCtx) Value(any) any               { return nil }

var _ context.Context = tryCtx{}
