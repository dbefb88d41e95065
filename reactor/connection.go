package reactor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/zmqgo/zmq"
)

// inflight is how many received messages a connection may have waiting
// for the loop. Past that it stops taking messages from its socket, so the
// socket's receive high-water mark, and then TCP, push back on the peers.
const inflight = 256

// Connection is what every connection type has in common (txZMQ's
// ZmqConnection): a zmq socket of the pattern's type, its endpoints, and a
// goroutine that takes messages off the socket and hands them to the
// connection's handler on the factory's loop. The typed connections
// (PubConnection, SubConnection, ...) embed it.
type Connection struct {
	f    *Factory
	kind string
	typ  zmq.Type
	sock socket
	cfg  connConfig

	// onMsg handles a message on the loop; direct, if set, instead handles
	// it on the receiving goroutine (ReqConnection resolves futures there,
	// so a Wait on the loop cannot deadlock). Neither: a send-only type.
	onMsg   func(zmq.Msg)
	direct  func(zmq.Msg)
	onClose func()

	mu        sync.Mutex
	endpoints []Endpoint
	closed    bool

	ctx      context.Context
	cancel   context.CancelFunc
	slots    chan struct{}
	recvDone chan struct{}
	shutOnce sync.Once
}

// newConnection makes the socket and registers the connection with the
// factory; start then binds/connects and starts receiving. The two steps
// let the typed connection finish wiring itself before any message arrives.
func newConnection(f *Factory, kind string, typ zmq.Type, opts []Option, extra ...zmq.Option) (*Connection, error) {
	c := &Connection{f: f, kind: kind, typ: typ, cfg: connConfig{separator: []byte{0}}}
	for _, o := range opts {
		if o != nil {
			o.applyConn(&c.cfg)
		}
	}
	for _, e := range c.cfg.endpoints {
		if err := e.check(); err != nil {
			return nil, err
		}
	}
	// The type's own settings (extra) go before the user's WithSocketOptions,
	// which thus have the last word.
	zopts := c.cfg.socketOptions(f, extra...)
	s, err := f.newSocket(typ, zopts...)
	if err != nil {
		return nil, fmt.Errorf("reactor: %s: %w", kind, err)
	}
	c.sock = s
	if err := f.add(c); err != nil {
		s.Close()
		return nil, err
	}
	return c, nil
}

// start binds and connects the configured endpoints and, for types that
// receive, starts the receiving goroutine. On error the connection is shut
// down.
func (c *Connection) start() error {
	if c.onMsg != nil || c.direct != nil {
		c.ctx, c.cancel = context.WithCancel(context.Background())
		c.slots = make(chan struct{}, inflight)
		c.recvDone = make(chan struct{})
		go c.recvLoop()
	}
	if err := c.AddEndpoints(c.cfg.endpoints...); err != nil {
		c.Shutdown()
		return err
	}
	return nil
}

func (c *Connection) recvLoop() {
	defer close(c.recvDone)
	for {
		if c.direct == nil {
			select {
			case c.slots <- struct{}{}:
			case <-c.ctx.Done():
				return
			}
		}
		m, err := c.sock.Recv(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil || errors.Is(err, zmq.ErrClosed) {
				return
			}
			c.f.logger.Error("reactor: receive failed; connection stops receiving", "connection", c.kind, "err", err)
			return
		}
		if c.direct != nil {
			c.direct(m)
			continue
		}
		if !c.f.post(func() {
			defer func() { <-c.slots }()
			if c.isClosed() {
				return
			}
			c.onMsg(m)
		}) {
			<-c.slots
		}
	}
}

// Factory returns the factory the connection belongs to.
func (c *Connection) Factory() *Factory { return c.f }

// Type returns the type of the underlying zmq socket (a ReqConnection is a
// DEALER, a RepConnection a ROUTER, as in txZMQ).
func (c *Connection) Type() zmq.Type { return c.typ }

// AddEndpoints binds or connects more endpoints (txZMQ's addEndpoints).
// They may mix bind and connect and any transports the engine has. It
// stops at the first that fails and returns its error; those before it
// stay.
func (c *Connection) AddEndpoints(eps ...Endpoint) error {
	for _, e := range eps {
		if err := e.check(); err != nil {
			return err
		}
	}
	for _, e := range eps {
		if c.isClosed() {
			return ErrClosed
		}
		rec := e
		switch e.Type {
		case BindType:
			if err := c.sock.Bind(e.Address); err != nil {
				return fmt.Errorf("reactor: %s: bind %s: %w", c.kind, e.Address, err)
			}
			if last := c.sock.LastEndpoint(); last != "" {
				rec.Address = last
			}
		case ConnectType:
			if err := c.sock.Connect(e.Address); err != nil {
				return fmt.Errorf("reactor: %s: connect %s: %w", c.kind, e.Address, err)
			}
		}
		c.mu.Lock()
		c.endpoints = append(c.endpoints, rec)
		c.mu.Unlock()
	}
	return nil
}

// Endpoints returns the connection's endpoints in the order they were
// added. A bind endpoint's address is the one really bound, so a wildcard
// port ("tcp://127.0.0.1:0") comes back as the port the system chose.
func (c *Connection) Endpoints() []Endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Endpoint(nil), c.endpoints...)
}

// Addr returns the address of the connection's first bind endpoint, with
// the real port, or "" if it binds none. Handy with "tcp://127.0.0.1:0".
func (c *Connection) Addr() string {
	for _, e := range c.Endpoints() {
		if e.Type == BindType {
			return e.Address
		}
	}
	return ""
}

// String describes the connection like txZMQ's repr:
// "PullConnection(Factory, [bind tcp://127.0.0.1:5555])".
func (c *Connection) String() string {
	eps := c.Endpoints()
	s := make([]string, len(eps))
	for i, e := range eps {
		s[i] = e.String()
	}
	return c.kind + "(" + c.f.String() + ", [" + strings.Join(s, ", ") + "])"
}

func (c *Connection) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Shutdown closes the connection and its socket (queued messages get the
// factory's linger period while a peer can take them, as zmq.Socket.Close)
// and removes it from the factory. Handlers of
// the connection do not run after it; outstanding requests fail with
// ErrClosed. Later calls do nothing.
func (c *Connection) Shutdown() {
	c.shutOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		if c.cancel != nil {
			c.cancel()
		}
		c.sock.Close()
		if c.recvDone != nil {
			<-c.recvDone
		}
		if c.onClose != nil {
			c.onClose()
		}
		c.f.remove(c)
	})
}

// send queues m on the socket, waiting at most the send timeout for room
// (0: not at all, as txZMQ's NOBLOCK sends).
func (c *Connection) send(m zmq.Msg) error {
	err := c.sock.TrySend(m)
	if errors.Is(err, zmq.ErrWouldBlock) && c.cfg.sendTimeout > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.sendTimeout)
		err = c.sock.Send(ctx, m)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = zmq.ErrWouldBlock
		}
	}
	if errors.Is(err, zmq.ErrWouldBlock) {
		return fmt.Errorf("reactor: %s: %w", c.kind, ErrQueueFull)
	}
	return err
}
