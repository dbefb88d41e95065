package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/zmqgo/zmq"
)

// Defaults of Config.
const (
	DefaultBind       = "tcp://127.0.0.1:5555"
	DefaultName       = "broker"
	DefaultExpire     = 60 * time.Second
	DefaultQueueSize  = 1000
	DefaultQueueBytes = 8 << 20   // per client
	DefaultTotalBytes = 512 << 20 // all clients together
	DefaultMaxMsgSize = 256 << 10
	DefaultRate       = 1000 // messages a second, per client
	DefaultLinger     = 5 * time.Second
	DefaultMaxRoutes  = 10000 // names one downstream broker may announce
	DefaultHeartbeat  = 5 * time.Second
	DefaultHBTimeout  = 10 * time.Second
)

// Config configures a Broker. The zero value is a usable broker on
// DefaultBind; zero fields take their defaults.
type Config struct {
	// Bind lists the endpoints clients (and downstream brokers) connect
	// to. Default: DefaultBind.
	Bind []string
	// Upstream lists brokers to federate with (see Federation in the
	// package documentation); each gets its own connection.
	Upstream []string
	// Name is the broker's name in a federation: in route_path, in
	// routing errors and in its announcements upstream. Every broker of a
	// federation needs its own. Default: the host name and the port of
	// the first bound endpoint, "myhost:5555".
	Name string

	// Heartbeat is how often the broker sends a ZMTP PING to each peer
	// that speaks ZMTP 3.1 (zmq.WithHeartbeatInterval); one that sends
	// nothing within HeartbeatTimeout after is disconnected. A peer is
	// forgotten when its connection ends: at once if the ROUTER generated
	// its routing id, after Heartbeat + HeartbeatTimeout if it chose one
	// (it may reconnect under it). Defaults DefaultHeartbeat and
	// DefaultHBTimeout; negative: no PINGs.
	Heartbeat        time.Duration
	HeartbeatTimeout time.Duration
	// Expire is how long a peer that cannot be pinged (a ZMTP 3.0 peer,
	// or any with Heartbeat off) may stay silent (no message of any
	// kind; a ping is enough) before it is forgotten: a client then
	// vanishes from list_clients and its name is free. A peer whose
	// connection is alive and answers PINGs never expires: a client that
	// only listens keeps its name. Default DefaultExpire; negative: never.
	Expire time.Duration
	// AnnounceInterval is how often a federated broker repeats its
	// announcement upstream, which keeps it from expiring there.
	// Default: a third of Expire (or 20 s if Expire is negative).
	AnnounceInterval time.Duration

	// QueueSize is the most messages queued for one client (the ROUTER's
	// send high-water mark). Beyond it messages to that client are
	// dropped and counted (Stats.Dropped); no other client waits.
	// Default DefaultQueueSize.
	QueueSize int
	// QueueBytes bounds each client's queue in bytes too, and TotalBytes
	// the queues of all clients together: N clients that stop reading
	// hold at most N × QueueBytes, never more than TotalBytes. What does
	// not fit is dropped and counted as for QueueSize. Defaults
	// DefaultQueueBytes and DefaultTotalBytes; negative: no bound.
	QueueBytes int64
	TotalBytes int64
	// MaxMsgSize is the largest request the broker handles, in bytes;
	// a larger one is answered with an error (too_large) and counted, up
	// to a hard cap of HardCapFactor × MaxMsgSize; it is read off the wire
	// and dropped as it arrives (zmq.WithTruncateOver), so offenders cost
	// their read buffers, not their messages. Past the cap the socket
	// cuts the connection (zmq.WithMaxMsgSize), and the broker logs and
	// counts it (too_large_cut). Default DefaultMaxMsgSize.
	MaxMsgSize int
	// Rate and Burst limit each client's requests (a token bucket): Rate
	// a second on average, Burst at once. A request over the limit is
	// answered with an error and not carried out. Defaults DefaultRate,
	// and a Burst of twice Rate; a negative Rate: no limit. Brokers of
	// the federation are not limited.
	Rate  float64
	Burst int

	// StatsInterval, if positive, makes the broker log its throughput
	// and counts at Info level that often.
	StatsInterval time.Duration
	// Linger is how long Close waits for queued messages to be written.
	// Default DefaultLinger; negative: no wait.
	Linger time.Duration
	// Logger receives the broker's structured logs. Default: none.
	Logger *slog.Logger
	// SocketOptions are passed to the broker's sockets after its own.
	SocketOptions []zmq.Option

	// Security are the security options of the broker's ROUTER, the side
	// every client and downstream broker connects to: zmq.WithCurveServer,
	// or zmq.WithPlainServer with a ZAP handler (zmq.WithZAPHandler and a
	// zmq.Authenticator). Default: none (NULL, anyone may connect). Names
	// and FederationPeers go by the user id the ZAP handler gives each
	// connection; a CURVE server without a ZAP handler gives none, so add
	// an Authenticator (AllowAnyCurveKey, or AllowCurveKeys) to tell the
	// clients apart. See Security in the package documentation.
	Security []zmq.Option
	// UpstreamSecurity are the security options of the connections to
	// Upstream: zmq.WithCurveClient or zmq.WithPlainClient.
	UpstreamSecurity []zmq.Option
	// Names, if not nil, says which names each identity may register
	// (see NameRules); a name it does not allow is refused with an error.
	// Default: any free name, by anyone.
	Names *NameRules
	// FederationPeers lists the identities (PLAIN user names, Z85 CURVE
	// public keys: the user ids of the ZAP handler) admitted as downstream
	// brokers. A peer without one of them that announces routes is
	// refused with an error, counted and logged. Default: none, no broker
	// may join this one from below. (Upstream is the other direction and
	// needs no listing here.)
	FederationPeers []string
	// MaxRoutes bounds how many names one downstream broker may announce;
	// an announcement over it is refused. Default DefaultMaxRoutes.
	MaxRoutes int

	// Redis, if not nil, makes the broker a node of a cluster: all
	// brokers on the same Redis are one broker to their clients (see
	// Scaling out on Redis in the package documentation). Such a node
	// cannot have an Upstream.
	Redis *RedisConfig
}

// withDefaults returns c with every zero field set, or an error for a
// setting that cannot work.
func (c Config) withDefaults() (Config, error) {
	if len(c.Bind) == 0 {
		c.Bind = []string{DefaultBind}
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if err := checkName(c.Name); err != nil {
		return c, fmt.Errorf("broker: Name: %w", err)
	}
	if c.Expire == 0 {
		c.Expire = DefaultExpire
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHBTimeout
	}
	if c.Heartbeat < 0 {
		c.Heartbeat, c.HeartbeatTimeout = 0, 0
	}
	if c.AnnounceInterval <= 0 {
		c.AnnounceInterval = 20 * time.Second
		if c.Expire > 0 {
			c.AnnounceInterval = max(c.Expire/3, time.Millisecond)
		}
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.QueueSize < 0 {
		return c, errors.New("broker: QueueSize must not be negative")
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.TotalBytes == 0 {
		c.TotalBytes = DefaultTotalBytes
	}
	c.QueueBytes, c.TotalBytes = max(c.QueueBytes, 0), max(c.TotalBytes, 0) // negative: 0, none
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.MaxMsgSize < 1024 {
		return c, fmt.Errorf("broker: MaxMsgSize %d is below the minimum of 1024 bytes", c.MaxMsgSize)
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Rate < 0 {
		c.Rate = 0 // no limit
	}
	if c.Burst <= 0 {
		c.Burst = max(int(2*c.Rate), 1)
	}
	if c.MaxRoutes <= 0 {
		c.MaxRoutes = DefaultMaxRoutes
	}
	for _, id := range c.FederationPeers {
		if id == "" {
			return c, errors.New("broker: FederationPeers: an empty identity (an unauthenticated peer) cannot be admitted")
		}
	}
	if c.Redis != nil {
		if len(c.Upstream) > 0 {
			return c, errors.New("broker: a node of a Redis cluster cannot have an Upstream")
		}
		r, err := c.Redis.withDefaults()
		if err != nil {
			return c, err
		}
		c.Redis = &r
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.Linger < 0 {
		c.Linger = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// fedSlack is how much larger than MaxMsgSize a message between brokers
// may be: a client's message with its federation envelope around it.
const fedSlack = 4096

// HardCapFactor is how many times MaxMsgSize a request may be and still get
// an error reply rather than a cut connection.
const HardCapFactor = 16

// socketLimit is the size beyond which the socket cuts a peer's
// connection: the hard cap, so that a message too large, even many times
// over, gets an error reply.
func (c *Config) socketLimit() int64 { return HardCapFactor*int64(c.MaxMsgSize) + 4096 }
