package rpc

import (
	"log/slog"
	"time"

	"github.com/zmqgo/zmq"
)

// Option configures a Server or a Client (NewServer, Dial). Options that
// make sense for only one of them are ignored by the other.
type Option func(*config)

type config struct {
	logger        *slog.Logger
	sockOpts      []zmq.Option
	allowExit     bool
	noLVC         bool
	ipcDir        string
	queueLen      int
	clientID      string
	invokation    float64 // seconds; <0: leave out
	execution     float64
	handshakeTime time.Duration
	prefixMatch   bool
}

func newConfig(opts []Option) config {
	c := config{
		logger:        slog.New(slog.DiscardHandler),
		queueLen:      4096,
		invokation:    5, // hololinked's client defaults
		execution:     5,
		handshakeTime: 60 * time.Second,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithLogger logs through l (silent by default).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithSocketOptions applies zmq options to every socket the Server or
// Client makes: security (zmq.WithCurveServer, zmq.WithCurveClient,
// zmq.WithPlainServer, zmq.WithPlainClient, ZAP), HWMs, heartbeats.
// The routing id is set by the package and must not be given.
func WithSocketOptions(opts ...zmq.Option) Option {
	return func(c *config) { c.sockOpts = append(c.sockOpts, opts...) }
}

// WithAllowExit lets a client's EXIT message stop the Server. hololinked
// stops on any client's EXIT; here it is refused (INVALID_MESSAGE,
// PermissionError) unless allowed.
func WithAllowExit(on bool) Option { return func(c *config) { c.allowExit = on } }

// WithLastValueCache turns the Server's event last-value cache on (the
// default) or off. With it on, a subscription seen on the event socket makes
// the server republish the last value of every event the subscription
// matches, at once, with the original messageID; subscribers already
// listening get that copy too (PUB/SUB cannot address one subscriber), and
// the Client drops such repeats by messageID.
func WithLastValueCache(on bool) Option { return func(c *config) { c.noLVC = !on } }

// WithIPCDir sets the directory for "IPC" access points; sockets go under
// DIR/sockets. The default is hololinked's, ~/.hololinked.
func WithIPCDir(dir string) Option { return func(c *config) { c.ipcDir = dir } }

// WithQueueLen bounds the requests waiting for one Thing, and the concurrent
// actions running on it (default 4096 each); a request beyond it is answered
// with an EXCEPTION (BufferError).
func WithQueueLen(n int) Option { return func(c *config) { c.queueLen = max(n, 1) } }

// WithClientID sets the Client's id: its socket identity and the senderID of
// its requests. The default is "{server}|zmqgo|{8 hex digits}".
func WithClientID(id string) Option { return func(c *config) { c.clientID = id } }

// WithTimeouts sets the invocation and execution timeouts the Client puts in
// each request (hololinked's default is 5 s each). A negative value leaves
// the timeout out: the server then applies its declared default, or none.
func WithTimeouts(invocation, execution time.Duration) Option {
	return func(c *config) {
		c.invokation, c.execution = secs(invocation), secs(execution)
	}
}

func secs(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return d.Seconds()
}

// WithHandshakeTimeout bounds Dial's handshake when its ctx has no deadline
// (default 60 s, hololinked's).
func WithHandshakeTimeout(d time.Duration) Option { return func(c *config) { c.handshakeTime = d } }

// WithPrefixMatch makes the Client's subscriptions match topics by prefix,
// as hololinked's SUB does ("demo/tic" also gets "demo/tick"). The default
// is exact matching.
func WithPrefixMatch(on bool) Option { return func(c *config) { c.prefixMatch = on } }
