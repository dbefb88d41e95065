package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/broker"
	"github.com/zmqgo/zmq/broker/loadtest"
)

// brokerCommand is `zmqgo broker`: package broker as a program.
func brokerCommand() *command {
	return &command{
		name:    "broker",
		summary: "run a message broker: named clients, direct messages, broadcasts",
		help: `Runs the broker of the router-dealer pattern (package broker): clients
connect with a DEALER socket and send JSON messages, register{name},
direct_message{target, content}, broadcast{content}, list_clients and
ping; each gets its reply, and what clients send each other arrives as
direct_message and broadcast. A txZMQ or pyzmq client written for that
protocol works unchanged. Binds --bind (default tcp://127.0.0.1:5555);
every bound endpoint is printed on stderr: "zmqgo: bound ADDR".

A client is forgotten when its connection ends: closed, or silent to the
broker's ZMTP PINGs (--heartbeat, --heartbeat-timeout); one that only
listens keeps its name. Clients that cannot answer PINGs (ZMTP 3.0) are
forgotten after --expire of silence (a ping message keeps one alive). Each client has a queue of
--queue messages; what does not fit is dropped and counted, so a slow
client holds up no one. Each client may send --rate messages a second
(--burst at once); requests over --max-msg-size bytes, over the rate, or
malformed are answered with an error.

Federation: with --upstream ADDR (repeatable) the broker joins the
broker there as a downstream broker; messages for clients that are not
here go up or down the tree to them, broadcasts reach every client of
it. Give each broker of a federation its own --name. A broker admits
downstream brokers only with --federation-peers, by the identity they
log in with (--upstream-curve or --upstream-plain on their side).

Scaling out: with --redis URL (redis://host:6379/0, rediss:// for TLS,
a Sentinel master with ?master_name=NAME, a Cluster with redis+cluster://)
every broker on that Redis is a node of one broker: a client of any node
reaches the clients of all by name (direct_message, its delivery
confirmation, broadcast, list_clients), and names are unique across them.
A name is a lease of --redis-lease, renewed while its client lives: a
node that dies frees its clients' names within that time. A cross-node
message not confirmed within --redis-confirm-timeout is reported failed.
While Redis is unreachable a node serves its own clients, refuses new
registrations, and resumes by itself when Redis is back. A node of a
Redis cluster cannot have an --upstream.

Logs go to stderr (text, or --log-format json): start, stop, brokers
joining and leaving, clients whose queue overflows, and every
--stats-interval the throughput and counts. SIGINT or SIGTERM stops the
broker, giving queued messages up to --linger to be written. State is in
memory only.

` + brokerSecurityHelp,
		flags: func(fs *flag.FlagSet) action {
			c := &brokerCmd{}
			c.register(fs)
			return c
		},
	}
}

type brokerCmd struct {
	bind, upstream listFlag
	name           string
	expire         time.Duration
	statsInterval  time.Duration
	maxMsgSize     int
	rate           float64
	burst          optInt
	queue          int
	maxRoutes      int
	linger         time.Duration
	logFormat      string
	verbose        bool
	sec            brokerSec
	redis          string
	redisLease     time.Duration
	redisPrefix    string
	redisConfirm   time.Duration
	ops            brokerOps // broker_ops.go
	heapFloor      byteSize  // heapfloor.go
}

func (c *brokerCmd) register(fs *flag.FlagSet) {
	fs.Var(&c.bind, "bind", "listen on `ADDR` (repeatable; default "+broker.DefaultBind+")")
	fs.Var(&c.upstream, "upstream", "federate: join the broker at `ADDR` (repeatable)")
	fs.StringVar(&c.name, "name", "", "the broker's `NAME` in a federation (default: host name and port)")
	fs.DurationVar(&c.expire, "expire", broker.DefaultExpire, "forget clients that cannot answer PINGs (ZMTP 3.0) after `D` of silence;\n0: never")
	fs.DurationVar(&c.statsInterval, "stats-interval", time.Minute, "log throughput and counts every `D`; 0: never")
	fs.IntVar(&c.maxMsgSize, "max-msg-size", broker.DefaultMaxMsgSize, "refuse requests over `N` bytes with an error; over 16 times that\nthe connection is cut")
	fs.Float64Var(&c.rate, "rate", broker.DefaultRate, "let each client send `N` messages a second on average; 0: no limit")
	fs.Var(&c.burst, "burst", "let each client send `N` messages at once, at least 1 (default twice --rate)")
	fs.IntVar(&c.queue, "queue", broker.DefaultQueueSize, "queue at most `N` messages per client; drop beyond")
	fs.IntVar(&c.maxRoutes, "max-routes", broker.DefaultMaxRoutes, "refuse announcements of over `N` names from one downstream broker")
	fs.DurationVar(&c.linger, "linger", broker.DefaultLinger, "on exit, wait up to `D` for queued messages to be sent; 0: don't wait")
	fs.StringVar(&c.logFormat, "log-format", "text", "log as `FORMAT`: text or json")
	fs.BoolVar(&c.verbose, "verbose", false, "log at debug level: clients registering and going, socket events")
	fs.StringVar(&c.redis, "redis", "", "be a node of the cluster of brokers on the Redis at `URL`")
	fs.DurationVar(&c.redisLease, "redis-lease", broker.DefaultRedisLease, "with --redis: a dead node's names are free after `D`")
	fs.StringVar(&c.redisPrefix, "redis-prefix", broker.DefaultRedisPrefix, "with --redis: start every key with `PREFIX` (one cluster per prefix)")
	fs.DurationVar(&c.redisConfirm, "redis-confirm-timeout", broker.DefaultRedisConfirmTimeout, "with --redis: report a message to another node failed after `D`")
	c.heapFloor = defaultHeapFloor
	fs.Var(&c.heapFloor, "heap-floor", "let the Go heap grow to `N` bytes (e.g. 64MiB) before collecting garbage:\n"+
		"less CPU for a broker whose live heap is small; 0 or GOGC set: Go's default")
	c.sec.register(fs)
	c.ops.register(fs)
}

// defaultHeapFloor: with 64 MiB of garbage between collections, a broker
// under load collected 2 times instead of 52 in 200k direct messages, and
// its CPU per message fell by 13-16% (README, "Cost").
const defaultHeapFloor = 64 << 20

func (c *brokerCmd) validate(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	for _, ep := range c.bind {
		if err := checkEndpoint(ep); err != nil {
			return fmt.Errorf("--bind: %w", err)
		}
	}
	for _, ep := range c.upstream {
		if err := checkConnect(ep); err != nil {
			return fmt.Errorf("--upstream: %w", err)
		}
	}
	switch {
	case c.expire < 0:
		return fmt.Errorf("--expire must not be negative (got %v)", c.expire)
	case c.linger < 0:
		// Config.Linger has no "without limit": negative means no wait
		// there, while a socket command's negative --linger waits for ever.
		return fmt.Errorf("--linger must not be negative (got %v; 0: don't wait)", c.linger)
	case c.statsInterval < 0:
		return fmt.Errorf("--stats-interval must not be negative (got %v)", c.statsInterval)
	case c.maxMsgSize < 1024:
		return fmt.Errorf("--max-msg-size must be at least 1024 (got %d)", c.maxMsgSize)
	case c.rate < 0:
		return fmt.Errorf("--rate must not be negative (got %v)", c.rate)
	case c.burst.set && c.burst.n < 1:
		// 0 used to mean "the default"; 0 messages at once would mean none.
		return fmt.Errorf("--burst must be at least 1 (got %d; leave it out for twice --rate)", c.burst.n)
	case c.maxRoutes < 1:
		return fmt.Errorf("--max-routes must be at least 1 (got %d)", c.maxRoutes)
	case c.queue < 1:
		return fmt.Errorf("--queue must be at least 1 (got %d)", c.queue)
	case c.logFormat != "text" && c.logFormat != "json":
		return fmt.Errorf("--log-format must be text or json (got %q)", c.logFormat)
	case c.redis != "" && len(c.upstream) > 0:
		return errors.New("--redis and --upstream cannot be combined: a node of a Redis cluster is not part of a federation tree")
	case c.redisLease < 30*time.Millisecond:
		return fmt.Errorf("--redis-lease must be at least 30ms (got %v)", c.redisLease)
	case c.redisConfirm <= 0:
		return fmt.Errorf("--redis-confirm-timeout must be positive (got %v)", c.redisConfirm)
	case c.redisPrefix == "":
		return errors.New("--redis-prefix must not be empty")
	}
	if c.redis != "" {
		if _, err := broker.ParseRedisURL(c.redis); err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
	}
	if err := c.sec.validate(); err != nil {
		return err
	}
	return c.ops.validate()
}

// logger is the broker's: text, or JSON lines with durations as strings
// ("1.5s", as the text format and the flags write them, not nanoseconds).
func (c *brokerCmd) logger(e *env) *slog.Logger {
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: durationString}))
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

func (c *brokerCmd) config(log *slog.Logger) broker.Config {
	cfg := broker.Config{
		Bind: c.bind, Upstream: c.upstream, Name: c.name,
		Expire: c.expire, StatsInterval: c.statsInterval,
		MaxMsgSize: c.maxMsgSize, Rate: c.rate, Burst: c.burst.n, QueueSize: c.queue,
		MaxRoutes: c.maxRoutes,
		Linger:    c.linger, Logger: log,
	}
	c.sec.apply(&cfg)
	if c.redis != "" {
		cfg.Redis = &broker.RedisConfig{URL: c.redis, Lease: c.redisLease, Prefix: c.redisPrefix, ConfirmTimeout: c.redisConfirm}
	}
	if c.expire == 0 {
		cfg.Expire = -1
	}
	if c.rate == 0 {
		cfg.Rate = -1
	}
	if c.linger == 0 {
		cfg.Linger = -1
	}
	c.ops.apply(&cfg)
	return cfg
}

func (c *brokerCmd) run(ctx context.Context, e *env) error {
	log := c.logger(e)
	defer c.heapFloor.start()() // heapfloor.go
	if c.redis != "" {
		// go-redis logs its reconnection attempts with its own logger (on
		// stderr); the broker reports outages itself, once each.
		redis.SetLogger(redisLog{log}) // channels.go
	}
	b, err := broker.New(c.config(log))
	if err != nil {
		if errors.Is(err, zmq.ErrInvalidEndpoint) || errors.Is(err, zmq.ErrUnsupportedTransport) {
			err = &usageError{cmd: "broker", err: err}
		}
		return c.logged(log, err)
	}
	for _, a := range b.Addrs() {
		if c.logFormat == "json" {
			log.Info("bound", "endpoint", a) // stderr holds JSON lines only
		} else {
			e.warnf("bound %s", a)
		}
	}
	url, stop, err := c.ops.serve(e, b)
	if err != nil {
		b.Close()
		return c.logged(log, err)
	}
	if url != "" {
		if c.logFormat == "json" {
			log.Info("http", "url", url)
		} else {
			e.warnf("status page and metrics on %s (metrics at /metrics)", url)
		}
	}
	<-ctx.Done()
	stop()
	return c.logged(log, b.Close())
}

// logged makes the error that ends the broker a JSON line with
// --log-format json (and leaves it to run otherwise), keeping its exit
// code.
func (c *brokerCmd) logged(log *slog.Logger, err error) error {
	if err == nil || c.logFormat != "json" {
		return err
	}
	log.Error("broker failed", "err", err.Error())
	return &reportedError{err: err}
}

// brokerLoadCommand is `zmqgo broker-load`: package broker/loadtest.
func brokerLoadCommand() *command {
	return &command{
		name:    "broker-load",
		summary: "measure a message broker: throughput, latency, a broadcast to many",
		help: `Connects --clients clients to a broker, each sending --messages direct
messages of --size bytes to the next, pipelined: --window requests in
flight, the next sent as each confirmation arrives (broker.Client's
SendAsync, the way a busy client sends). It prints the throughput and the
delivery latency (from the send to the recipient, p50, p99, max). Then connects --broadcast clients, one of them
broadcasts, and prints how long it took to reach them all. Without
--connect it measures a broker of its own, in-process, without rate limit;
a broker given with --connect needs a --rate high enough for the test:
broker-load first pings it as fast as one test client will send, and
stops, naming the flag, if the broker's rate limit refuses that.`,
		flags: func(fs *flag.FlagSet) action {
			c := &brokerLoadCmd{}
			fs.Var(&c.connect, "connect", "measure the broker at `ADDR` (default: an in-process one); repeated:\nthe nodes of one broker on Redis, clients spread over them")
			fs.IntVar(&c.cfg.Clients, "clients", 50, "`N` clients sending direct messages; 0: none")
			fs.IntVar(&c.cfg.Messages, "messages", 2000, "`N` direct messages per client")
			fs.IntVar(&c.cfg.Size, "size", 100, "`N` bytes of content per message")
			fs.IntVar(&c.cfg.Window, "window", 16, "`N` requests in flight per client")
			fs.IntVar(&c.cfg.Broadcast, "broadcast", 1000, "`N` clients for the broadcast test; 0: none")
			fs.IntVar(&c.cfg.BrokerPID, "broker-pid", 0, "report the CPU time of the broker's process `PID` over the direct messages,\nand per message (Linux: its threads' run time in /proc)")
			fs.BoolVar(&c.cfg.Named, "named", false, "give each direct-message client its name as routing id\n(brokers that print routing ids, as the router-dealer example's, need it)")
			fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "fail after `D`")
			// The clients allocate as a broker does, and keep as little
			// alive: GOGC=800 took 10% off their CPU per message.
			c.heapFloor = defaultHeapFloor
			fs.Var(&c.heapFloor, "heap-floor", "as the broker's --heap-floor, for this process (its clients, and its\nbroker without --connect): `N` bytes of heap before a collection; 0 or GOGC set: Go's default")
			return c
		},
	}
}

type brokerLoadCmd struct {
	connect   listFlag
	cfg       loadtest.Config
	timeout   time.Duration
	heapFloor byteSize // heapfloor.go
}

func (c *brokerLoadCmd) validate(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	for _, a := range c.connect {
		if err := checkConnect(a); err != nil {
			return fmt.Errorf("--connect: %w", err)
		}
	}
	if len(c.connect) > 0 {
		c.cfg.Addr = c.connect[0]
	}
	if len(c.connect) > 1 {
		c.cfg.Addrs = c.connect
	}
	switch {
	case c.cfg.Clients < 0 || c.cfg.Messages < 1 || c.cfg.Size < 1 || c.cfg.Window < 1:
		return errors.New("--clients must not be negative; --messages, --size and --window must be at least 1")
	case c.cfg.Broadcast < 0 || c.cfg.Broadcast == 1:
		return errors.New("--broadcast must be 0 or at least 2")
	case c.cfg.BrokerPID < 0:
		return errors.New("--broker-pid must be a process id")
	case c.timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

func (c *brokerLoadCmd) run(ctx context.Context, e *env) error {
	defer c.heapFloor.start()()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.cfg.Addr != "" && c.cfg.Clients > 0 {
		if err := probeRateLimit(ctx, c.cfg); err != nil {
			return err
		}
	}
	r, err := loadtest.Run(ctx, c.cfg)
	if err != nil && strings.Contains(err.Error(), "rate limit") {
		// The probe let it through (a limit just above its pace): the
		// figures are of a throttled run, not worth printing.
		return fmt.Errorf("%w: the broker at %s limits each client's rate: run it with --rate 0 (no limit)", err, c.cfg.Addr)
	}
	fmt.Fprint(e.stdout, r)
	return err
}

// probeRateLimit sends the broker at cfg.Addr as many pings as one load
// client sends messages, cfg.Window at a time, so that a rate limit the
// test would run into is found before anything is measured (else the run
// reports "delivered 0 of 0" and then fails).
// probeWait is how long broker-load waits for a broker's first answer.
var probeWait = 5 * time.Second

func probeRateLimit(ctx context.Context, cfg loadtest.Config) error {
	var opts []broker.ClientOption
	if cfg.Named { // a broker that prints routing ids needs text
		opts = append(opts, broker.WithSocketOptions(zmq.WithRoutingID(fmt.Appendf(nil, "load-probe-%d", os.Getpid()))))
	}
	cl, err := broker.NewClient(cfg.Addr, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	first, cancelFirst := context.WithTimeout(ctx, probeWait)
	_, err = cl.Ping(first)
	cancelFirst()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("no broker answered at %s within %v", cfg.Addr, probeWait)
		}
		return probeError(cfg, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range cfg.Window {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(cfg.Messages)+1 && ctx.Err() == nil {
				if _, err := cl.Ping(ctx); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return probeError(cfg, context.Cause(ctx))
}

func probeError(cfg loadtest.Config, err error) error {
	var be *broker.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &be) && strings.Contains(be.Message, "rate limit"):
		return fmt.Errorf("the broker at %s limits each client's rate (it answered %q), and each test client sends --messages %d as fast as it can: run that broker with --rate 0 (no limit), or measure an in-process broker (no --connect)", cfg.Addr, be.Message, cfg.Messages)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the broker at %s did not answer pings within --timeout", cfg.Addr)
	}
	return fmt.Errorf("pinging the broker at %s: %w", cfg.Addr, err)
}
