package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// This file makes a broker one node of a cluster of brokers sharing one
// Redis (Config.Redis). The design, and why each Redis structure, is in
// the package documentation ("Scaling out on Redis"). The state calls the
// cluster through a few hooks, on the loop; the cluster's goroutines talk
// to Redis and hand their results back to the loop as functions.

// Defaults of RedisConfig.
const (
	DefaultRedisPrefix         = "zmqgo:{b}:"
	DefaultRedisLease          = 15 * time.Second
	DefaultRedisConfirmTimeout = 5 * time.Second
	DefaultRedisStreamLen      = 10000
)

// ErrStoreUnavailable is the reason a registration is refused while the
// broker cannot reach Redis: the name's uniqueness cannot be promised.
var ErrStoreUnavailable = errors.New("broker: cluster store unavailable")

// RedisConfig makes a broker a node of a cluster: every broker with the
// same Redis and Prefix is one broker to its clients.
type RedisConfig struct {
	// URL is the Redis to use (see ParseRedisURL): redis://host:port/db,
	// rediss:// for TLS, a Sentinel master with ?master_name=NAME (and
	// more sentinels as &addr=host:port), a Cluster with the scheme
	// redis+cluster:// or rediss+cluster:// (more nodes as &addr=).
	URL string
	// Client, if not nil, is used instead of URL; the broker does not
	// close it.
	Client redis.UniversalClient
	// Prefix starts every key. Its hash tag puts all of a cluster's keys
	// in one Redis Cluster slot, as the scripts need. Default
	// DefaultRedisPrefix.
	Prefix string
	// Lease is how long a name, a node's entry and its inbox live without
	// renewal; they are renewed every Lease/3. A dead node's names are
	// free within Lease. Default DefaultRedisLease.
	Lease time.Duration
	// ConfirmTimeout is how long a node waits for another node to confirm
	// a direct message (else "failed") or a broadcast (else the count so
	// far). Default DefaultRedisConfirmTimeout.
	ConfirmTimeout time.Duration
	// StreamLen caps (approximately, MAXLEN ~) each node's inbox stream
	// and the broadcast stream. Default DefaultRedisStreamLen.
	StreamLen int64
}

func (c RedisConfig) withDefaults() (RedisConfig, error) {
	if c.URL == "" && c.Client == nil {
		return c, errors.New("broker: Redis: needs URL or Client")
	}
	if c.URL != "" && c.Client == nil {
		if _, err := ParseRedisURL(c.URL); err != nil {
			return c, err
		}
	}
	if c.Prefix == "" {
		c.Prefix = DefaultRedisPrefix
	}
	if c.Lease == 0 {
		c.Lease = DefaultRedisLease
	}
	if c.Lease < 30*time.Millisecond {
		return c, fmt.Errorf("broker: Redis: Lease %v is too short", c.Lease)
	}
	if c.ConfirmTimeout <= 0 {
		c.ConfirmTimeout = DefaultRedisConfirmTimeout
	}
	if c.StreamLen <= 0 {
		c.StreamLen = DefaultRedisStreamLen
	}
	return c, nil
}

// ParseRedisURL makes a go-redis client's options from a URL:
//
//	redis://[user:pass@]host:port/db     one server (rediss:// for TLS)
//	redis://host:port?master_name=M&addr=host2:port   Sentinel (the
//	                                     sentinels' addresses)
//	redis+cluster://host:port?addr=host2:port         Cluster
//
// Other query parameters are go-redis's (dial_timeout, ...).
func ParseRedisURL(s string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("broker: Redis URL: %w", err)
	}
	switch u.Scheme {
	case "redis+cluster", "rediss+cluster":
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("broker: Redis URL: %w", err)
		}
		return &redis.UniversalOptions{Addrs: o.Addrs, IsClusterMode: true, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
			PoolSize: o.PoolSize}, nil
	case "redis", "rediss":
	default:
		return nil, fmt.Errorf("broker: Redis URL %q: scheme must be redis, rediss, redis+cluster or rediss+cluster", s)
	}
	if u.Query().Has("master_name") {
		o, err := redis.ParseFailoverURL(s)
		if err != nil {
			return nil, fmt.Errorf("broker: Redis URL: %w", err)
		}
		return &redis.UniversalOptions{Addrs: o.SentinelAddrs, MasterName: o.MasterName, DB: o.DB,
			Username: o.Username, Password: o.Password, SentinelUsername: o.SentinelUsername,
			SentinelPassword: o.SentinelPassword, TLSConfig: o.TLSConfig, DialTimeout: o.DialTimeout,
			ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout, PoolSize: o.PoolSize}, nil
	}
	o, err := redis.ParseURL(s)
	if err != nil {
		return nil, fmt.Errorf("broker: Redis URL: %w", err)
	}
	return &redis.UniversalOptions{Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
		TLSConfig: o.TLSConfig, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		PoolSize: o.PoolSize}, nil
}

// ClusterStats are a cluster node's counters (Stats.Cluster).
type ClusterStats struct {
	Enabled     bool   // the broker is a node of a cluster (Config.Redis)
	RedisUp     bool   // the last Redis command succeeded
	Outages     uint64 // times Redis became unreachable
	RemoteSent  uint64 // direct messages passed to another node
	RemoteAcked uint64 // of those, confirmed delivered by the other node
	RemoteFail  uint64 // cross-node requests answered failed (no ack in time, Redis down, queue of ops full)
	RemoteIn    uint64 // direct messages from other nodes
	Broadcasts  uint64 // broadcasts from other nodes delivered here
	NamesLost   uint64 // local clients whose name another node claimed (after Redis lost its data)
	Pending     int    // requests waiting for another node or for Redis
}

// opQueue bounds the Redis operations waiting for the worker; beyond it a
// request fails at once rather than waiting.
const opQueue = 8192

// rop is one Redis operation: add queues its commands on a pipeline; done
// runs on the loop after the pipeline ran and reads their results.
type rop struct {
	add  func(redis.Pipeliner)
	done func()
}

// slot is a reply to a client that is not ready yet: the client's later
// replies wait behind it, so replies stay in request order.
type slot struct {
	t     msgType
	body  []byte
	ready bool
}

// pendingOp is a request waiting for other nodes.
type pendingOp struct {
	p        *peer
	sl       *slot
	reqID    json.RawMessage
	deadline time.Time
	target   string // direct message
	bcast    bool
	count    int // broadcast: recipients so far
	expect   int // broadcast: node answers still expected
}

type cluster struct {
	b   *Broker
	st  *state
	rc  redis.UniversalClient
	own bool
	cfg RedisConfig
	id  string // this node's id: random, never reused
	log *slog.Logger

	ops      chan rop
	renewNow chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	up       atomic.Bool
	downMu   sync.Mutex
	down     bool // an outage was reported and has not ended
	outs     atomic.Uint64

	// Test hooks: pause the reader; leave without releasing (as SIGKILL).
	readerGate atomic.Pointer[chan struct{}]
	abandon    atomic.Bool

	epochMu sync.Mutex
	epoch   string

	// Owned by the loop.
	claims    map[string]*peer // nameKey → client whose claim is in flight
	published map[string]bool  // names the last renewal wrote in the clients hash
	replies   map[*peer][]*slot
	pending   map[uint64]*pendingOp
	order     []uint64 // pending ids, oldest first (deadlines in this order)
	seq       uint64
	target    *slot // the slot the reply being sent fills
	stats     ClusterStats
}

func newCluster(b *Broker, st *state) (*cluster, error) {
	cfg, err := b.cfg.Redis.withDefaults()
	if err != nil {
		return nil, err
	}
	var id [16]byte
	rand.Read(id[:])
	c := &cluster{b: b, st: st, cfg: cfg, id: hex.EncodeToString(id[:]), log: b.log,
		ops: make(chan rop, opQueue), renewNow: make(chan struct{}, 1), claims: map[string]*peer{}, replies: map[*peer][]*slot{},
		pending: map[uint64]*pendingOp{}}
	c.rc = cfg.Client
	if c.rc == nil {
		o, err := ParseRedisURL(cfg.URL)
		if err != nil {
			return nil, err
		}
		c.rc, c.own = redis.NewUniversalClient(o), true
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.up.Store(true)
	c.stats.Enabled = true
	return c, nil
}

func (c *cluster) key(parts ...string) string { return c.cfg.Prefix + strings.Join(parts, "") }

// start runs the node's goroutines. The first renewal (this node's entry,
// the epoch) is done before it returns, so that a node is seen at once.
func (c *cluster) start() {
	// Bounded: a node whose Redis is down starts anyway and serves its
	// local clients until Redis is back.
	ctx, cancel := context.WithTimeout(c.ctx, min(c.cfg.Lease, 2*time.Second))
	if err := c.syncEpoch(ctx); err != nil {
		c.outage(err)
	}
	cancel()
	if c.up.Load() {
		c.renew()
	}
	c.wg.Add(4)
	go c.worker()
	go c.reader()
	go c.renewer()
	go c.ticker()
	c.log.Info("broker: cluster node started", "node", c.id, "prefix", c.cfg.Prefix, "lease", c.cfg.Lease)
}

// stop ends the goroutines (the loop has ended) and, unless abandoned,
// gives back this node's names and entries at once.
func (c *cluster) stop() {
	c.cancel()
	c.wg.Wait()
	if !c.abandon.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		p := c.rc.Pipeline()
		for _, q := range c.st.names {
			releaseScript.Eval(ctx, p, []string{c.cfg.Prefix}, nameKey(q.name), c.owner(q))
		}
		p.Del(ctx, c.key("clients:", c.id), c.key("inbox:", c.id))
		p.ZRem(ctx, c.key("nodes"), c.id)
		p.Exec(ctx)
		cancel()
	}
	if c.own {
		c.rc.Close()
	}
}

func (c *cluster) owner(p *peer) string { return c.id + "/" + hex.EncodeToString(p.id) }

// outage notes a failed Redis command; the first of an outage is logged.
func (c *cluster) outage(err error) {
	if !isOutage(err) {
		return
	}
	c.up.Store(false)
	c.downMu.Lock()
	defer c.downMu.Unlock()
	if !c.down {
		c.down = true
		c.outs.Add(1)
		c.log.Warn("broker: Redis unreachable; serving local clients only until it is back", "err", err)
	}
}

func (c *cluster) ok() {
	if c.up.Load() {
		return
	}
	c.up.Store(true)
	c.downMu.Lock()
	defer c.downMu.Unlock()
	if c.down {
		c.down = false
		c.log.Info("broker: Redis reachable again; cross-node traffic resumes")
	}
}

// isOutage tells an unreachable Redis from an answer (nil, a script error).
func isOutage(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		s := re.Error()
		return strings.HasPrefix(s, "LOADING") || strings.HasPrefix(s, "READONLY") || strings.HasPrefix(s, "MASTERDOWN") ||
			strings.HasPrefix(s, "CLUSTERDOWN") || strings.HasPrefix(s, "TRYAGAIN")
	}
	return true
}

// post runs fn on the loop; false if the loop has ended.
func (c *cluster) post(fn func()) bool {
	select {
	case c.b.calls <- fn:
		return true
	case <-c.b.loopDone:
		return false
	case <-c.ctx.Done():
		return false
	}
}

// submit queues o for the worker without waiting; false if the queue is
// full.
func (c *cluster) submit(o rop) bool {
	select {
	case c.ops <- o:
		return true
	default:
		return false
	}
}

// worker runs the queued operations, as many as are waiting in one
// pipeline (one round trip).
func (c *cluster) worker() {
	defer c.wg.Done()
	batch := make([]rop, 0, 512)
	for {
		batch = batch[:0]
		select {
		case o := <-c.ops:
			batch = append(batch, o)
		case <-c.ctx.Done():
			return
		}
	more:
		for len(batch) < cap(batch) {
			select {
			case o := <-c.ops:
				batch = append(batch, o)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		p := c.rc.Pipeline()
		for _, o := range batch {
			o.add(p)
		}
		_, err := p.Exec(ctx)
		cancel()
		if isOutage(err) {
			c.outage(err)
		} else {
			c.ok()
		}
		done := slices.Clone(batch)
		if !c.post(func() {
			for _, o := range done {
				if o.done != nil {
					o.done()
				}
			}
		}) {
			return
		}
	}
}

// syncEpoch reads the epoch, a random value the first node sets: a new
// one means Redis lost its data.
func (c *cluster) syncEpoch(ctx context.Context) error {
	_, err := c.readEpoch(ctx)
	return err
}

// readEpoch returns the epoch, setting it if Redis has none.
func (c *cluster) readEpoch(ctx context.Context) (string, error) {
	var b [8]byte
	rand.Read(b[:])
	c.rc.SetNX(ctx, c.key("epoch"), hex.EncodeToString(b[:]), 0)
	e, err := c.rc.Get(ctx, c.key("epoch")).Result()
	if err != nil {
		return "", err
	}
	c.epochMu.Lock()
	defer c.epochMu.Unlock()
	if c.epoch != "" && c.epoch != e {
		c.log.Warn("broker: Redis lost its data (new epoch); names re-claimed, streams read from their start")
	}
	c.epoch = e
	return e, nil
}

// reader reads this node's inbox and the broadcast stream, resuming from
// the last entry it handled after an outage.
func (c *cluster) reader() {
	defer c.wg.Done()
	inbox, bcast := c.key("inbox:", c.id), c.key("broadcast")
	curIn, curB := "0-0", "" // "": at the stream's end, once known
	c.epochMu.Lock()
	epoch := c.epoch // of the streams the cursors are in
	c.epochMu.Unlock()
	failed := false
	backoff := 50 * time.Millisecond
	for c.ctx.Err() == nil {
		if g := c.readerGate.Load(); g != nil {
			select {
			case <-*g:
			case <-c.ctx.Done():
				return
			}
		}
		if failed {
			e, err := c.readEpoch(c.ctx)
			if err != nil {
				c.outage(err)
				select {
				case <-time.After(backoff): // backoff between attempts to reach Redis, not synchronisation
				case <-c.ctx.Done():
					return
				}
				backoff = min(2*backoff, time.Second)
				continue
			}
			if e != epoch && epoch == "" {
				epoch = e // first contact: the cursors are right
				select {  // be seen by the others at once
				case c.renewNow <- struct{}{}:
				default:
				}
			}
			if e != epoch {
				// Redis lost its data: the streams are new.
				epoch = e
				curIn, curB = "0-0", "0-0"
				select { // re-claim the names at once
				case c.renewNow <- struct{}{}:
				default:
				}
			}
			failed, backoff = false, 50*time.Millisecond
		}
		if curB == "" {
			// Broadcasts sent before this node started are not for its
			// clients: start at the stream's last entry.
			m, err := c.rc.XRevRangeN(c.ctx, bcast, "+", "-", 1).Result()
			if err != nil {
				if c.ctx.Err() != nil {
					return
				}
				c.outage(err)
				failed = true
				select {
				case <-time.After(backoff): // backoff, not synchronisation
				case <-c.ctx.Done():
					return
				}
				continue
			}
			curB = "0-0"
			if len(m) == 1 {
				curB = m[0].ID
			}
		}
		res, err := c.rc.XRead(c.ctx, &redis.XReadArgs{Streams: []string{inbox, bcast, curIn, curB}, Count: 512,
			Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			c.ok()
			continue
		}
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.outage(err)
			failed = true
			continue
		}
		c.ok()
		var in, bc []redis.XMessage
		for _, s := range res {
			if s.Stream == inbox {
				in = s.Messages
			} else {
				bc = s.Messages
			}
		}
		if len(in) > 0 {
			curIn = in[len(in)-1].ID
		}
		if len(bc) > 0 {
			curB = bc[len(bc)-1].ID
		}
		if !c.post(func() { c.handleEntries(in, bc) }) {
			return
		}
	}
}

// renewer renews the leases every Lease/3.
func (c *cluster) renewer() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.renew()
		case <-c.renewNow:
			c.renew()
		case <-c.ctx.Done():
			return
		}
	}
}

// ticker fails the requests whose confirmation is overdue.
func (c *cluster) ticker() {
	defer c.wg.Done()
	t := time.NewTicker(min(c.cfg.ConfirmTimeout/10, 250*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if !c.post(c.expire) {
				return
			}
		case <-c.ctx.Done():
			return
		}
	}
}

type renewal struct {
	args    []any    // lease, then name key and owner pairs
	entries []any    // name, JSON entry pairs for the clients hash
	stale   []string // names in the hash at the last renewal and no more
	peers   map[string]*peer
}

// renew renews this node's entry, its names and its clients hash, in one
// round trip, and re-claims names Redis lost.
func (c *cluster) renew() {
	var r renewal
	done := make(chan struct{})
	if !c.post(func() {
		defer close(done)
		r.args = []any{c.cfg.Lease.Milliseconds()}
		r.peers = make(map[string]*peer, len(c.st.names))
		for k, p := range c.st.names {
			r.args = append(r.args, k, c.owner(p))
			r.peers[k] = p
			e, _ := json.Marshal(clientEntry{Name: p.name, ConnectedSince: unix(p.since), LastActivity: unix(p.last), MessageCount: p.count})
			r.entries = append(r.entries, p.name, e)
		}
		// Names the last renewal wrote that have gone since (their HDEL may
		// have been lost to an outage). Not a DEL of the whole hash: an
		// entry a register writes meanwhile must stay.
		now := make(map[string]bool, len(c.st.names))
		for _, p := range c.st.names {
			now[p.name] = true
		}
		for n := range c.published {
			if !now[n] {
				r.stale = append(r.stale, n)
			}
		}
		c.published = now
	}) {
		return
	}
	<-done
	ctx, cancel := context.WithTimeout(c.ctx, max(c.cfg.Lease/3, time.Second))
	defer cancel()
	if _, err := c.readEpoch(ctx); err != nil {
		c.outage(err)
		return
	}
	now := time.Now()
	lease := c.cfg.Lease
	p := c.rc.Pipeline()
	lost := renewScript.Eval(ctx, p, []string{c.cfg.Prefix}, r.args...)
	hash := c.key("clients:", c.id)
	if len(r.stale) > 0 {
		p.HDel(ctx, hash, r.stale...)
	}
	if len(r.entries) > 0 {
		p.HSet(ctx, hash, r.entries...)
		p.PExpire(ctx, hash, lease)
	}
	p.ZAdd(ctx, c.key("nodes"), redis.Z{Score: float64(now.Add(lease).UnixMilli()), Member: c.id})
	p.ZRemRangeByScore(ctx, c.key("nodes"), "-inf", strconv.FormatInt(now.UnixMilli(), 10))
	p.PExpire(ctx, c.key("inbox:", c.id), lease)
	p.PExpire(ctx, c.key("broadcast"), 10*lease)
	if _, err := p.Exec(ctx); isOutage(err) {
		c.outage(err)
		return
	}
	c.ok()
	names, _ := lost.StringSlice()
	if len(names) == 0 {
		return
	}
	c.post(func() {
		for _, k := range names {
			q := r.peers[k]
			if q == nil || c.st.names[k] != q {
				continue
			}
			c.stats.NamesLost++
			c.log.Warn("broker: name lost to another node's client (Redis lost its data)", "name", q.name)
			c.st.fail(q, "name %q lost: another client of the cluster claimed it while Redis was unreachable", q.name)
			c.st.forget(q, "name lost")
		}
	})
}

// Scripts. KEYS[1] is the prefix: every key they touch starts with it, so
// all are in the one slot of its hash tag.
var (
	// ARGV: lease ms, then name key, owner pairs. Renews each name still
	// ours, re-claims each that is gone, returns those another owns.
	renewScript = redis.NewScript(`
local lost = {}
for i = 2, #ARGV, 2 do
  local k = KEYS[1] .. 'name:' .. ARGV[i]
  local v = redis.call('GET', k)
  if v == ARGV[i+1] then
    redis.call('PEXPIRE', k, ARGV[1])
  elseif not v then
    redis.call('SET', k, ARGV[i+1], 'PX', ARGV[1])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost`)
	// ARGV: name key, owner. Compare and delete.
	releaseScript = redis.NewScript(`
local k = KEYS[1] .. 'name:' .. ARGV[1]
if redis.call('GET', k) == ARGV[2] then return redis.call('DEL', k) end
return 0`)
	// ARGV: name key, maxlen, lease ms, then the entry's fields. Appends
	// to the inbox of the name's owner node (which expires a lease after
	// the last write, should that node be dead); 0 if nobody has the name.
	directScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1] .. 'name:' .. ARGV[1])
if not v then return 0 end
local inbox = KEYS[1] .. 'inbox:' .. string.match(v, '^([^/]+)/')
redis.call('XADD', inbox, 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
redis.call('PEXPIRE', inbox, ARGV[3])
return 1`)
	// ARGV: now ms, this node, maxlen, then the entry's fields. Appends
	// to the broadcast stream; returns how many other nodes are alive.
	broadcastScript = redis.NewScript(`
local s = KEYS[1] .. 'broadcast'
redis.call('XADD', s, 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
local n = redis.call('ZCOUNT', KEYS[1] .. 'nodes', '(' .. ARGV[1], '+inf')
local me = redis.call('ZSCORE', KEYS[1] .. 'nodes', ARGV[2])
if me and tonumber(me) > tonumber(ARGV[1]) then n = n - 1 end
return n`)
	// ARGV: now ms, this node. The clients hashes of the other live nodes.
	listScript = redis.NewScript(`
local out = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1] .. 'nodes', '(' .. ARGV[1], '+inf')) do
  if n ~= ARGV[2] then table.insert(out, redis.call('HGETALL', KEYS[1] .. 'clients:' .. n)) end
end
return out`)
)

// ---- Hooks, called by the state on the loop. ----

// holding is called by sendRaw for a message to p while p's request is
// handled: it takes it if it is the reply being made for a slot, or if
// earlier replies to p are not ready (it waits behind them).
func (c *cluster) holding(p *peer, t msgType, b []byte) bool {
	if c.target != nil {
		c.target.t, c.target.body, c.target.ready = t, b, true
		c.target = nil
		return true
	}
	q := c.replies[p]
	if len(q) == 0 {
		return false
	}
	if len(q) >= c.st.cfg.QueueSize {
		c.st.stats.Dropped++
		c.st.count.dropped[t]++
		return true
	}
	c.replies[p] = append(q, &slot{t: t, body: b, ready: true})
	return true
}

// held reports whether the cluster took b, a message of type t to p, to
// send it later, in order: see holding.
func (s *state) held(p *peer, t msgType, b []byte) bool {
	return p == s.cur && s.cluster != nil && s.cluster.holding(p, t, b)
}

// reserve makes a slot for p's reply to come; nil if p has too many.
func (c *cluster) reserve(p *peer) *slot {
	q := c.replies[p]
	if len(q) >= c.st.cfg.QueueSize {
		return nil
	}
	sl := &slot{}
	c.replies[p] = append(q, sl)
	return sl
}

// answer makes the reply for sl with fn (which sends it to p as a request's
// reply would be) and sends every reply to p that is ready in order.
func (c *cluster) answer(p *peer, sl *slot, reqID json.RawMessage, fn func()) {
	if c.st.peers[string(p.id)] != p {
		return
	}
	s := c.st
	s.cur, s.reqID, c.target = p, reqID, sl
	fn()
	s.cur, s.reqID, c.target = nil, nil, nil
	if !sl.ready { // fn sent nothing
		sl.ready = true
	}
	c.flush(p)
}

func (c *cluster) flush(p *peer) {
	for {
		q := c.replies[p]
		if len(q) == 0 || !q[0].ready {
			return
		}
		sl := q[0]
		q[0] = nil
		if len(q) == 1 {
			delete(c.replies, p)
		} else {
			c.replies[p] = q[1:]
		}
		if sl.body != nil {
			c.st.sendRaw(p, sl.t, sl.body)
			if c.st.peers[string(p.id)] != p {
				return // gone
			}
		}
	}
}

// claim starts claiming name for p cluster-wide; the registration
// completes (or fails) when Redis answers. It reports false if it answered
// at once.
func (c *cluster) claim(p *peer, name string, limits bool) {
	s := c.st
	key := nameKey(name)
	if o := c.claims[key]; o != nil {
		s.refuse(p, rsNameTaken, "name %q is taken", name)
		return
	}
	if !c.up.Load() {
		s.refuse(p, rsInternal, "%v", ErrStoreUnavailable)
		return
	}
	sl := c.reserve(p)
	if sl == nil {
		s.stats.Dropped++
		return
	}
	reqID := bytes.Clone(s.reqID) // a view into the request (zmq.WithBorrowedFrames): the answer comes later
	owner := c.owner(p)
	c.claims[key] = p
	var res *redis.BoolCmd
	ok := c.submit(rop{
		add: func(pl redis.Pipeliner) {
			res = pl.SetNX(c.ctx, c.key("name:", key), owner, c.cfg.Lease)
		},
		done: func() {
			won, err := res.Result()
			if won && err == nil && s.peers[string(p.id)] == p {
				// The entry goes into this node's clients hash before the
				// registration_ack: once a client knows it is registered,
				// list_clients on every node shows it.
				hash := c.key("clients:", c.id)
				e, _ := json.Marshal(clientEntry{Name: name, ConnectedSince: unix(p.since), LastActivity: unix(p.last), MessageCount: p.count})
				if c.submit(rop{
					add: func(pl redis.Pipeliner) {
						pl.HSet(c.ctx, hash, name, e)
						pl.PExpire(c.ctx, hash, c.cfg.Lease)
					},
					done: func() { c.claimed(p, sl, reqID, key, owner, name, limits, true, true, nil) },
				}) {
					return
				}
			}
			c.claimed(p, sl, reqID, key, owner, name, limits, won, false, err)
		},
	})
	if !ok {
		delete(c.claims, key)
		c.answer(p, sl, reqID, func() { s.refuse(p, rsInternal, "%v", ErrStoreUnavailable) })
	}
}

// claimed answers a register whose claim of key in Redis is decided: won,
// or err; listed says the clients hash has its entry already.
func (c *cluster) claimed(p *peer, sl *slot, reqID json.RawMessage, key, owner, name string, limits, won, listed bool, err error) {
	s := c.st
	delete(c.claims, key)
	if s.peers[string(p.id)] != p { // it left meanwhile
		if won {
			c.release(key, owner)
			hash := c.key("clients:", c.id)
			c.submit(rop{add: func(pl redis.Pipeliner) { pl.HDel(c.ctx, hash, name) }})
		}
		return
	}
	c.answer(p, sl, reqID, func() {
		switch {
		case isOutage(err) || err != nil && !errors.Is(err, redis.Nil):
			s.refuse(p, rsInternal, "%v", ErrStoreUnavailable)
		case !won:
			s.refuse(p, rsNameTaken, "name %q is taken", name)
		default:
			old := ""
			if p.kind == kindClient && nameKey(p.name) != key {
				old = nameKey(p.name)
			}
			s.registered(p, name, limits, s.now())
			if old != "" {
				c.release(old, owner)
			}
			if !listed {
				c.publish(p)
			}
		}
	})
}

func (c *cluster) release(key, owner string) {
	c.submit(rop{add: func(pl redis.Pipeliner) { releaseScript.Eval(c.ctx, pl, []string{c.cfg.Prefix}, key, owner) }})
}

// publish writes p's entry in this node's clients hash, for list_clients
// on other nodes (renewals refresh it).
func (c *cluster) publish(p *peer) {
	hash := c.key("clients:", c.id)
	e, _ := json.Marshal(clientEntry{Name: p.name, ConnectedSince: unix(p.since), LastActivity: unix(p.last), MessageCount: p.count})
	name := p.name
	c.submit(rop{add: func(pl redis.Pipeliner) {
		pl.HSet(c.ctx, hash, name, e)
		pl.PExpire(c.ctx, hash, c.cfg.Lease)
	}})
}

// gone is called when the state forgets p.
func (c *cluster) gone(p *peer) {
	delete(c.replies, p)
	if p.kind == kindClient {
		key := nameKey(p.name)
		if c.claims[key] == p {
			return
		}
		c.release(key, c.owner(p))
		hash := c.key("clients:", c.id)
		name := p.name
		c.submit(rop{add: func(pl redis.Pipeliner) { pl.HDel(c.ctx, hash, name) }})
	}
}

func (c *cluster) newPending(op *pendingOp) uint64 {
	c.seq++
	op.deadline = time.Now().Add(c.cfg.ConfirmTimeout)
	c.pending[c.seq] = op
	c.order = append(c.order, c.seq)
	return c.seq
}

func (c *cluster) fts(t float64) string { return strconv.FormatFloat(t, 'f', -1, 64) }

// direct passes a direct message for a client that is not here to the
// node that has it.
func (c *cluster) direct(p *peer, req *request, now time.Time) {
	s := c.st
	if !c.up.Load() {
		c.stats.RemoteFail++
		s.send(p, mtDeliveryConfirmation, deliveryConfirmation{RequestID: s.reqID, Type: TypeDeliveryConfirmation, Target: req.Target, Status: StatusFailed})
		return
	}
	sl := c.reserve(p)
	if sl == nil {
		s.stats.Dropped++
		return
	}
	// Copies: reqID and Content are views into the request, which the
	// socket reuses once the handler returns (zmq.WithBorrowedFrames); the
	// answer comes later, and the worker encodes args later.
	op := &pendingOp{p: p, sl: sl, reqID: bytes.Clone(s.reqID), target: req.Target}
	id := c.newPending(op)
	args := []any{nameKey(req.Target), c.cfg.StreamLen, c.cfg.Lease.Milliseconds(), "k", "dm", "id", id, "r", c.id, "f", p.name, "t", req.Target,
		"c", bytes.Clone(req.Content), "ts", c.fts(unix(now))}
	var res *redis.Cmd
	ok := c.submit(rop{
		add: func(pl redis.Pipeliner) { res = directScript.Eval(c.ctx, pl, []string{c.cfg.Prefix}, args...) },
		done: func() {
			n, err := res.Int()
			if err == nil && n == 1 {
				c.stats.RemoteSent++
			}
			if c.pending[id] != op {
				return // answered (or timed out) meanwhile
			}
			switch {
			case err != nil:
				c.finishDirect(id, StatusFailed)
			case n == 0:
				delete(c.pending, id)
				c.answer(p, sl, op.reqID, func() { s.refuse(p, rsNoRoute, "client %q is not registered", req.Target) })
			}
		},
	})
	if !ok {
		c.finishDirect(id, StatusFailed)
	}
}

func (c *cluster) finishDirect(id uint64, status string) {
	op := c.pending[id]
	if op == nil || op.bcast {
		return
	}
	delete(c.pending, id)
	if status == StatusDelivered {
		c.stats.RemoteAcked++
	} else {
		c.stats.RemoteFail++
	}
	c.answer(op.p, op.sl, op.reqID, func() {
		c.st.send(op.p, mtDeliveryConfirmation, deliveryConfirmation{RequestID: op.reqID, Type: TypeDeliveryConfirmation, Target: op.target, Status: status})
	})
}

func (c *cluster) finishBroadcast(id uint64) {
	op := c.pending[id]
	if op == nil || !op.bcast {
		return
	}
	delete(c.pending, id)
	c.answer(op.p, op.sl, op.reqID, func() {
		c.st.send(op.p, mtBroadcastConfirmation, broadcastConfirmation{RequestID: op.reqID, Type: TypeBroadcastConfirmation, Recipients: op.count})
	})
}

// broadcast passes a broadcast, delivered to local clients already (n of
// them), to the other nodes, and confirms it when they answered.
func (c *cluster) broadcast(p *peer, req *request, ts float64, n int) {
	s := c.st
	confirm := func() {
		s.send(p, mtBroadcastConfirmation, broadcastConfirmation{RequestID: s.reqID, Type: TypeBroadcastConfirmation, Recipients: n})
	}
	if !c.up.Load() {
		confirm()
		return
	}
	sl := c.reserve(p)
	if sl == nil {
		s.stats.Dropped++
		return
	}
	// Copies, as in direct (zmq.WithBorrowedFrames).
	op := &pendingOp{p: p, sl: sl, reqID: bytes.Clone(s.reqID), bcast: true, count: n}
	id := c.newPending(op)
	args := []any{time.Now().UnixMilli(), c.id, c.cfg.StreamLen, "o", c.id, "id", id, "f", p.name,
		"c", bytes.Clone(req.Content), "ts", c.fts(ts)}
	var res *redis.Cmd
	ok := c.submit(rop{
		add: func(pl redis.Pipeliner) { res = broadcastScript.Eval(c.ctx, pl, []string{c.cfg.Prefix}, args...) },
		done: func() {
			if c.pending[id] != op {
				return
			}
			others, err := res.Int()
			if err != nil || others <= 0 {
				c.finishBroadcast(id)
				return
			}
			op.expect += others // answers that came before this are counted negative
			if op.expect <= 0 {
				c.finishBroadcast(id)
			}
		},
	})
	if !ok {
		c.finishBroadcast(id)
	}
}

// list answers list_clients with every live node's clients.
func (c *cluster) list(p *peer) {
	s := c.st
	local := s.clientEntries()
	reply := func(l []clientEntry) {
		s.send(p, mtClientList, clientList{RequestID: s.reqID, Clients: l, Total: len(l), Type: TypeClientList})
	}
	if !c.up.Load() {
		reply(local)
		return
	}
	sl := c.reserve(p)
	if sl == nil {
		s.stats.Dropped++
		return
	}
	reqID := bytes.Clone(s.reqID) // a view into the request (zmq.WithBorrowedFrames): the answer comes later
	var res *redis.Cmd
	args := []any{time.Now().UnixMilli(), c.id}
	ok := c.submit(rop{
		add: func(pl redis.Pipeliner) { res = listScript.Eval(c.ctx, pl, []string{c.cfg.Prefix}, args...) },
		done: func() {
			all := local
			if v, err := res.Slice(); err == nil {
				for _, h := range v {
					kv, _ := h.([]any)
					for i := 1; i < len(kv); i += 2 {
						str, _ := kv[i].(string)
						var e clientEntry
						if json.Unmarshal([]byte(str), &e) == nil && e.Name != "" {
							all = append(all, e)
						}
					}
				}
			}
			slices.SortFunc(all, func(a, b clientEntry) int { return strings.Compare(a.Name, b.Name) })
			all = slices.CompactFunc(all, func(a, b clientEntry) bool { return a.Name == b.Name })
			c.answer(p, sl, reqID, func() { reply(all) })
		},
	})
	if !ok {
		c.answer(p, sl, reqID, func() { reply(local) })
	}
}

// expire fails the requests other nodes did not confirm in time.
func (c *cluster) expire() {
	now := time.Now()
	for len(c.order) > 0 {
		id := c.order[0]
		op := c.pending[id]
		if op != nil && now.Before(op.deadline) {
			break
		}
		c.order = c.order[1:]
		if op == nil {
			continue
		}
		if op.bcast {
			c.finishBroadcast(id)
		} else {
			c.finishDirect(id, StatusFailed)
		}
	}
	if len(c.order) == 0 {
		c.order = nil
	}
}

// handleEntries handles what the reader read: in, this node's inbox; bc,
// the broadcast stream.
func (c *cluster) handleEntries(in, bc []redis.XMessage) {
	s := c.st
	acks := map[string]*ackBatch{}
	for _, m := range in {
		v := m.Values
		str := func(k string) string { x, _ := v[k].(string); return x }
		id, _ := strconv.ParseUint(str("id"), 10, 64)
		switch str("k") {
		case "dm":
			c.stats.RemoteIn++
			status := StatusFailed
			content := json.RawMessage(str("c"))
			if t := s.names[nameKey(str("t"))]; t != nil && json.Valid(content) {
				ts, _ := strconv.ParseFloat(str("ts"), 64)
				if s.sendDirect(t, &directMessage{Type: TypeDirectMessage, From: str("f"), Content: content, Timestamp: ts}) {
					status = StatusDelivered
				}
			}
			// One answer per sender node for all of this read: one
			// stream entry instead of one per message.
			r := str("r")
			a := acks[r]
			if a == nil {
				a = &ackBatch{}
				acks[r] = a
			}
			if len(a.ids) > 0 {
				a.ids = append(a.ids, ',')
			}
			a.ids = strconv.AppendUint(a.ids, id, 10)
			if status == StatusDelivered {
				a.status = append(a.status, 'd')
			} else {
				a.status = append(a.status, 'f')
			}
		case "ack": // one answer
			status := StatusFailed
			if str("s") == StatusDelivered {
				status = StatusDelivered
			}
			c.finishDirect(id, status)
		case "acks": // answers: ids "1,2,3", statuses "dfd" (d: delivered)
			st := str("s")
			for i, x := range strings.Split(str("ids"), ",") {
				id, err := strconv.ParseUint(x, 10, 64)
				if err != nil {
					continue
				}
				status := StatusFailed
				if i < len(st) && st[i] == 'd' {
					status = StatusDelivered
				}
				c.finishDirect(id, status)
			}
		case "back":
			if op := c.pending[id]; op != nil && op.bcast {
				if n, err := strconv.Atoi(str("n")); err == nil && n > 0 {
					op.count += n
				}
				if op.expect--; op.expect == 0 {
					c.finishBroadcast(id)
				}
			}
		}
	}
	for node, a := range acks {
		c.ack(node, "k", "acks", "ids", a.ids, "s", a.status)
	}
	for _, m := range bc {
		v := m.Values
		str := func(k string) string { x, _ := v[k].(string); return x }
		origin := str("o")
		if origin == c.id {
			continue
		}
		content := json.RawMessage(str("c"))
		if !json.Valid(content) {
			continue
		}
		c.stats.Broadcasts++
		ts, _ := strconv.ParseFloat(str("ts"), 64)
		n := s.deliverAll(nil, directMessage{Type: TypeBroadcast, From: str("f"), Content: content, Timestamp: ts})
		s.flood(&envelope{Type: typeFedBroadcast, OriginalSender: str("f"), RoutePath: []string{s.cfg.Name},
			Content: content, Timestamp: ts}, nil, -1)
		c.ack(origin, "k", "back", "id", str("id"), "n", n)
	}
}

// ackBatch is the answers to one node's direct messages.
type ackBatch struct{ ids, status []byte }

// ack appends an answer to node's inbox.
func (c *cluster) ack(node string, fields ...any) {
	if node == "" {
		return
	}
	inbox := c.key("inbox:", node)
	c.submit(rop{add: func(pl redis.Pipeliner) {
		pl.XAdd(c.ctx, &redis.XAddArgs{Stream: inbox, MaxLen: c.cfg.StreamLen, Approx: true, Values: fields})
		pl.PExpire(c.ctx, inbox, c.cfg.Lease)
	}})
}

// snapshot fills the cluster's part of Stats.
func (c *cluster) snapshot() ClusterStats {
	st := c.stats
	st.RedisUp = c.up.Load()
	st.Outages = c.outs.Load()
	st.Pending = len(c.pending) + len(c.claims)
	return st
}

var (
	dRedisUp      = desc("redis_up", "1 if the cluster node's last Redis command succeeded, else 0.")
	dRedisOutages = desc("redis_outages_total", "Times Redis became unreachable.")
	dRemoteSent   = desc("cluster_remote_sent_total", "Direct messages passed to another node of the cluster.")
	dRemoteAcked  = desc("cluster_remote_delivered_total", "Direct messages another node confirmed delivered.")
	dRemoteFail   = desc("cluster_remote_failed_total", "Cross-node requests answered failed (no confirmation in time, Redis down).")
	dRemoteIn     = desc("cluster_remote_received_total", "Direct messages from other nodes.")
	dRemoteBcast  = desc("cluster_broadcasts_received_total", "Broadcasts from other nodes delivered here.")
	dNamesLost    = desc("cluster_names_lost_total", "Clients whose name another node claimed after Redis lost its data.")
	dPending      = desc("cluster_pending", "Requests waiting for another node or for Redis.")
)

func collectCluster(ch chan<- prometheus.Metric, c ClusterStats) {
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	up := 0.0
	if c.RedisUp {
		up = 1
	}
	gauge(dRedisUp, up)
	counter(dRedisOutages, c.Outages)
	counter(dRemoteSent, c.RemoteSent)
	counter(dRemoteAcked, c.RemoteAcked)
	counter(dRemoteFail, c.RemoteFail)
	counter(dRemoteIn, c.RemoteIn)
	counter(dRemoteBcast, c.Broadcasts)
	counter(dNamesLost, c.NamesLost)
	gauge(dPending, float64(c.Pending))
}
