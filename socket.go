package zmq

import (
	"context"
	"errors"
)

// Socket is a ZeroMQ socket. Its methods are safe for concurrent use.
type Socket struct {
	typ  Type
	opts options
}

var errTODO = errors.New("zmq: not implemented yet")

// NewSocket returns a socket of type t.
func NewSocket(t Type, opts ...Option) (*Socket, error) {
	if !t.valid() {
		return nil, ErrInvalidType
	}
	s := &Socket{typ: t, opts: defaultOptions()}
	for _, o := range opts {
		if err := o(&s.opts); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Type returns the socket's type.
func (s *Socket) Type() Type                            { return s.typ }
func (s *Socket) Bind(endpoint string) error            { return errTODO }
func (s *Socket) Connect(endpoint string) error         { return errTODO }
func (s *Socket) Unbind(endpoint string) error          { return errTODO }
func (s *Socket) Disconnect(endpoint string) error      { return errTODO }
func (s *Socket) Send(ctx context.Context, m Msg) error { return errTODO }
func (s *Socket) Recv(ctx context.Context) (Msg, error) { return Msg{}, errTODO }
func (s *Socket) Subscribe(prefix []byte) error         { return errTODO }
func (s *Socket) Unsubscribe(prefix []byte) error       { return errTODO }
func (s *Socket) LastEndpoint() string                  { return "" }
func (s *Socket) Close() error                          { return nil }
