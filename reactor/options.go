package reactor

import (
	"io"
	"log/slog"
	"time"

	"github.com/zmqgo/zmq"
)

// FactoryOption configures a Factory.
type FactoryOption func(*Factory)

// WithLingerPeriod sets how long shutting a connection down waits for its
// queued outgoing messages to be written (txZMQ's ZmqFactory.lingerPeriod,
// ZMQ_LINGER). Default 100 ms, as txZMQ; 0 discards them at once; negative
// waits without a time limit. As zmq.Socket.Close, shutting down waits only
// while the messages can be written (a peer is connected, or a connection
// attempt is under way), so a peer that never comes cannot hold it.
func WithLingerPeriod(d time.Duration) FactoryOption {
	return func(f *Factory) { f.linger = d }
}

// WithLogger sets where the factory logs handler panics, dropped replies and
// the like, and where its sockets log connection events. Default: silent.
func WithLogger(l *slog.Logger) FactoryOption {
	return func(f *Factory) {
		if l != nil {
			f.logger = l
		}
	}
}

// withSocketMaker replaces how connections make their sockets (tests).
func withSocketMaker(m socketMaker) FactoryOption {
	return func(f *Factory) { f.newSocket = m }
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Option configures a connection: an Endpoint to bind or connect, or one of
// the With... settings below. Settings that do not apply to a connection's
// type are ignored.
type Option interface {
	applyConn(*connConfig)
}

type optionFunc func(*connConfig)

func (f optionFunc) applyConn(c *connConfig) { f(c) }

type connConfig struct {
	endpoints       []Endpoint
	identity        []byte
	hwm             *int
	keepalive       *TCPKeepalive
	reconnectIvl    *time.Duration
	reconnectIvlMax *time.Duration
	sendTimeout     time.Duration
	requestTimeout  time.Duration
	separator       []byte
	zmqOpts         []zmq.Option
}

// WithIdentity sets the connection's socket identity (txZMQ's identity
// argument; ZMQ_ROUTING_ID): a ROUTER peer addresses us by it. 1 to 255
// bytes, not starting with a zero byte.
func WithIdentity(id []byte) Option {
	return optionFunc(func(c *connConfig) { c.identity = append([]byte(nil), id...) })
}

// WithHighWaterMark sets both the send and the receive high-water mark
// (txZMQ's highWaterMark; ZMQ_SNDHWM and ZMQ_RCVHWM): the most messages
// queued for one peer. 0 means no limit, txZMQ's class default; without
// this option the engine's default of 1000 applies.
func WithHighWaterMark(n int) Option {
	return optionFunc(func(c *connConfig) { c.hwm = &n })
}

// TCPKeepalive holds TCP keepalive settings (txZMQ's tcpKeepalive,
// tcpKeepaliveCount, tcpKeepaliveIdle, tcpKeepaliveInterval). Zero Count,
// Idle or Interval leave the operating system's value.
type TCPKeepalive struct {
	Enable   bool
	Count    int
	Idle     time.Duration
	Interval time.Duration
}

// WithTCPKeepalive sets TCP keepalive for the connection's tcp links
// (ZMQ_TCP_KEEPALIVE, _CNT, _IDLE, _INTVL).
func WithTCPKeepalive(k TCPKeepalive) Option {
	return optionFunc(func(c *connConfig) { c.keepalive = &k })
}

// WithReconnectInterval sets the wait before reconnecting a connect
// endpoint (txZMQ's reconnectInterval; ZMQ_RECONNECT_IVL). Default 100 ms.
func WithReconnectInterval(d time.Duration) Option {
	return optionFunc(func(c *connConfig) { c.reconnectIvl = &d })
}

// WithReconnectIntervalMax makes the reconnect wait double after each failed
// attempt up to d (txZMQ's reconnectIntervalMax; ZMQ_RECONNECT_IVL_MAX).
// Default 0: no backoff.
func WithReconnectIntervalMax(d time.Duration) Option {
	return optionFunc(func(c *connConfig) { c.reconnectIvlMax = &d })
}

// WithSendTimeout sets how long a send may wait for room when every peer's
// queue is full, or for a peer when there is none, before it fails with
// ErrQueueFull (ZMQ_SNDTIMEO). Default 0: it does not wait at all, as
// txZMQ, which sends with NOBLOCK. A send made from a handler holds up the
// factory's loop for as long as it waits.
func WithSendTimeout(d time.Duration) Option {
	return optionFunc(func(c *connConfig) { c.sendTimeout = max(d, 0) })
}

// WithRequestTimeout sets a ReqConnection's default request timeout
// (txZMQ's defaultRequestTimeout), used by SendMsg when its context has no
// deadline. Default 0: no timeout.
func WithRequestTimeout(d time.Duration) Option {
	return optionFunc(func(c *connConfig) { c.requestTimeout = max(d, 0) })
}

// WithTagSeparator sets what PubConnection puts between tag and message, and
// where SubConnection splits a one-frame message. Default "\x00", as txZMQ.
// An empty separator is ignored.
func WithTagSeparator(sep []byte) Option {
	return optionFunc(func(c *connConfig) {
		if len(sep) > 0 {
			c.separator = append([]byte(nil), sep...)
		}
	})
}

// WithSocketOptions passes options straight to the underlying zmq socket,
// for settings this package has no name for (WithMaxMsgSize,
// WithHandshakeInterval, ...). They are applied last, so they override the
// reactor's own choices (such as WithRouterMandatory(true) on ROUTER and
// REP connections).
func WithSocketOptions(opts ...zmq.Option) Option {
	return optionFunc(func(c *connConfig) { c.zmqOpts = append(c.zmqOpts, opts...) })
}

// socketOptions translates the configuration into zmq socket options.
func (c *connConfig) socketOptions(f *Factory, typeOpts ...zmq.Option) []zmq.Option {
	opts := []zmq.Option{zmq.WithLinger(f.linger), zmq.WithLogger(f.logger)}
	if c.identity != nil {
		opts = append(opts, zmq.WithRoutingID(c.identity))
	}
	if c.hwm != nil {
		opts = append(opts, zmq.WithSendHWM(*c.hwm), zmq.WithRecvHWM(*c.hwm))
	}
	if k := c.keepalive; k != nil {
		opts = append(opts, zmq.WithTCPKeepAlive(k.Enable, k.Idle, k.Interval, k.Count))
	}
	if c.reconnectIvl != nil {
		opts = append(opts, zmq.WithReconnectInterval(*c.reconnectIvl))
	}
	if c.reconnectIvlMax != nil {
		opts = append(opts, zmq.WithReconnectIntervalMax(*c.reconnectIvlMax))
	}
	opts = append(opts, typeOpts...)
	return append(opts, c.zmqOpts...)
}
