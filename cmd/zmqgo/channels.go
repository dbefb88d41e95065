package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq/channels"
)

// channelsCommand is `zmqgo channels`: package channels as a program.
func channelsCommand() *command {
	return &command{
		name:    "channels",
		summary: "run a Django Channels layer server (django-message-broker compatible)",
		help: `Runs a channel-layer server that django-message-broker 0.2.1's layer
(django_message_broker.ChannelsServerLayer) uses unchanged, and that Go
services reach with package channels' Layer. Binds --bind
(default ` + channels.DefaultBind + `) for data and the next port for
signalling, as DMB; both are printed on stderr: "zmqgo: bound ADDR".
HOST may be an IP address, [IPv6], a host name or *.

Point Django at it (and leave django_message_broker out of
INSTALLED_APPS, or set RUN_MAIN=true, so DMB does not start its own):

	CHANNEL_LAYERS = {"default": {
	    "BACKEND": "django_message_broker.ChannelsServerLayer",
	    "CONFIG": {"ip_address": "127.0.0.1", "port": 5556}}}

Each channel holds --capacity messages (--channel-capacity PATTERN=N
overrides it for matching channels, a glob as channels_redis's
channel_capacity); a send over it is refused with ChannelFull when the
sender asked for an acknowledgement, dropped and counted otherwise, and
group sends skip full channels. Messages live --expiry unless the sender
gave a ttl; group members --group-expiry. A subscriber whose connection
closes, or which misses heartbeats (--heartbeat), stops receiving at once.

With --http ADDR it serves /metrics (Prometheus) and /api/status (JSON;
?group=NAME lists a group, ?channel=NAME shows a channel). SIGINT or
SIGTERM stops it.

State is in memory unless --redis URL (redis://[:PASSWORD@]HOST:PORT/DB,
rediss://..., or a Sentinel: redis://SENTINEL:26379/0?master_name=NAME
&addr=SENTINEL2:26379) is given: then channels, groups, capacities and expiry live
in that Redis with channels_redis 4.0's keys and message encoding, so any
number of zmqgo channels nodes and Django processes using
channels_redis.core.RedisChannelLayer (same Redis, same --redis-prefix)
share one channel space. A message then lives --expiry whatever its ttl,
as in channels_redis. Process channels (!) are delivered by the node their
receiver is attached to; its claim outlives a dead node by --redis-lease.
While Redis is unreachable the node says so (log, store_up 0 in /metrics),
keeps delivering between its own clients' process channels, refuses the
rest with StoreUnavailable, and resumes when Redis answers again.`,
		flags: func(fs *flag.FlagSet) action {
			c := &channelsCmd{}
			fs.StringVar(&c.bind, "bind", channels.DefaultBind, "data port `ADDR` tcp://HOST:PORT; signalling on PORT+1")
			fs.IntVar(&c.capacity, "capacity", 100, "hold at most `N` messages per channel")
			fs.Var(&c.rules, "channel-capacity", "`PATTERN=N`: capacity of the channels matching PATTERN (repeatable)")
			fs.DurationVar(&c.expiry, "expiry", 60*time.Second, "message time to live `D` when the request gives none")
			fs.DurationVar(&c.groupExpiry, "group-expiry", 86400*time.Second, "keep a channel in a group `D` after group_add")
			fs.DurationVar(&c.subExpiry, "subscriber-expiry", 86400*time.Second, "drop a subscription `D` after it was last renewed")
			fs.DurationVar(&c.heartbeat, "heartbeat", 5*time.Second, "ZMTP heartbeat every `D`; a peer silent for 3 is dropped; 0: none")
			fs.StringVar(&c.http, "http", "", "serve /metrics and /api/status on `ADDR` (host:port)")
			fs.StringVar(&c.logFormat, "log-format", "text", "log as `FORMAT`: text or json")
			fs.StringVar(&c.redis, "redis", "", "keep channels and groups in Redis at `URL` (channels_redis 4.0 layout)")
			fs.StringVar(&c.redisPrefix, "redis-prefix", "asgi", "channels_redis key `PREFIX`")
			fs.DurationVar(&c.redisLease, "redis-lease", 15*time.Second, "a node's process-channel claims outlive it by `D`")
			fs.BoolVar(&c.verbose, "verbose", false, "log at debug level: refused requests, socket events")
			return c
		},
	}
}

type channelsCmd struct {
	bind                           string
	capacity                       int
	rules                          listFlag
	expiry, groupExpiry, subExpiry time.Duration
	heartbeat                      time.Duration
	http, logFormat                string
	redis, redisPrefix             string
	redisLease                     time.Duration
	redisOpts                      *redis.Options
	sentinelOpts                   *redis.FailoverOptions
	verbose                        bool
	parsed                         []channels.CapacityRule
}

func (c *channelsCmd) validate(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	if _, _, err := channels.SplitBind(c.bind); err != nil {
		return fmt.Errorf("--bind: %w", err)
	}
	for _, r := range c.rules {
		rule, err := channels.ParseCapacityRule(r)
		if err != nil {
			return fmt.Errorf("--channel-capacity: %w", err)
		}
		c.parsed = append(c.parsed, rule)
	}
	switch {
	case c.capacity < 1:
		return fmt.Errorf("--capacity must be at least 1 (got %d)", c.capacity)
	case c.expiry <= 0 || c.groupExpiry <= 0 || c.subExpiry <= 0:
		return errors.New("--expiry, --group-expiry and --subscriber-expiry must be positive")
	case c.heartbeat < 0:
		return fmt.Errorf("--heartbeat must not be negative (got %v)", c.heartbeat)
	case c.logFormat != "text" && c.logFormat != "json":
		return fmt.Errorf("--log-format must be text or json (got %q)", c.logFormat)
	}
	if c.redis != "" {
		if u, err := url.Parse(c.redis); err == nil && u.Query().Has("master_name") {
			opt, err := redis.ParseFailoverURL(c.redis)
			if err != nil {
				return fmt.Errorf("--redis: %w", err)
			}
			c.sentinelOpts = opt
		} else {
			opt, err := redis.ParseURL(c.redis)
			if err != nil {
				return fmt.Errorf("--redis: %w", err)
			}
			c.redisOpts = opt
		}
	}
	if c.redisLease < 30*time.Millisecond {
		return fmt.Errorf("--redis-lease must be at least 30ms (got %v)", c.redisLease)
	}
	if c.http != "" {
		if _, _, err := net.SplitHostPort(c.http); err != nil {
			return fmt.Errorf("--http: %w", err)
		}
	}
	return nil
}

func (c *channelsCmd) run(ctx context.Context, e *env) error {
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	var h slog.Handler = slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})
	if c.logFormat == "json" {
		h = slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})
	}
	hb := c.heartbeat
	if hb == 0 {
		hb = -1
	}
	cfg := channels.Config{
		Bind: c.bind, Capacity: c.capacity, ChannelCapacity: c.parsed,
		Expiry: c.expiry, GroupExpiry: c.groupExpiry, SubscriberExpiry: c.subExpiry,
		Heartbeat: hb, Logger: slog.New(h), RedisPrefix: c.redisPrefix, RedisLease: c.redisLease,
	}
	if c.redisOpts != nil || c.sentinelOpts != nil {
		// go-redis logs reconnect attempts through a global logger;
		// route them to ours at debug level (the node logs outages).
		redis.SetLogger(redisLog{slog.New(h)})
		// Fail calls fast while Redis is down: the node reports the outage
		// and refuses rather than queueing behind retries.
		var rdb redis.UniversalClient
		if o := c.redisOpts; o != nil {
			o.DialTimeout, o.MaxRetries = time.Second, 1
			rdb = redis.NewClient(o)
		} else {
			o := c.sentinelOpts
			o.DialTimeout, o.MaxRetries = time.Second, 1
			rdb = redis.NewFailoverClient(o)
		}
		defer rdb.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err != nil {
			return fmt.Errorf("--redis %s: %w", c.redis, err)
		}
		cfg.Redis = rdb
	}
	s, err := channels.NewServer(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	e.warnf("bound %s", s.Addr())
	e.warnf("bound %s", s.SignalAddr())
	if c.http != "" {
		ln, err := net.Listen("tcp", c.http)
		if err != nil {
			return fmt.Errorf("--http: %w", err)
		}
		hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		done := make(chan struct{})
		go func() { defer close(done); hs.Serve(ln) }()
		defer func() { hs.Close(); <-done }()
		e.warnf("serving http://%s/metrics and /api/status", ln.Addr())
	}
	<-ctx.Done()
	return nil
}

type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	r.l.Debug("redis: " + fmt.Sprintf(format, v...))
}
