package channels

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq/channels/redislayer"
)

// The Redis store (Config.Redis). Channels, groups, capacities and expiry
// live in Redis in channels_redis 4.0's layout, through redislayer, so DMB
// clients of every node, Go services using redislayer and Django processes
// using channels_redis.core.RedisChannelLayer share one channel space.
//
// The loop never waits for Redis: requests that touch it go to a few
// workers (hashed by channel or group name, so one name's requests keep
// their order) and are answered when Redis has answered.
//
// Normal channels: a node with local subscribers to a channel pops it
// (BZPOPMIN, as every channels_redis receiver does) at most popAhead
// messages ahead of its subscribers, so unclaimed messages wait in Redis.
//
// Process channels ("!"): channels_redis keeps every process channel of
// one prefix in one key, and every DMB client names its process channels
// "specific.zmq_id_00!...", so all DMB clients of all nodes share a key.
// Hence:
//   - the node a process channel's subscriber is attached to claims it:
//     zmqgo:{c}:proc:<channel> = node id, SET NX with a lease renewed every
//     lease/3 (one subscriber per process channel across the cluster);
//   - a node sending to a process channel delivers locally when its own
//     client is the receiver, else appends the message to the owner's
//     inbox zmqgo:{c}:inbox:<node> (a list, read with BLPOP), in the same
//     atomic script that falls back to channels_redis's key when nobody
//     owns the channel (a Django or Go process channel);
//   - what others (Django, Go, group sends) store in a shared key is popped
//     by one node at a time, elected by the lease zmqgo:{c}:popper:<key>,
//     which delivers or forwards each message to its owner's inbox and
//     counts those without an owner.
//
// Why lists and not pub/sub: a message waits in a list until its node pops
// it, across a connection blip; pub/sub loses what is published while the
// subscriber is away. Why not streams: each inbox has one reader and
// nobody can take over a dead node's subscribers, so streams' consumer
// bookkeeping would buy nothing.

const (
	redisWorkers = 8
	redisJobs    = 1024 // per worker; beyond it requests are refused
	popAhead     = 16   // messages a node pops ahead of its subscribers
	inboxMax     = 10000
)

// errDeferred: the request is answered when Redis has answered.
var errDeferred = errors.New("channels: answered later")

// ErrStoreUnavailable: the Redis store cannot be reached.
var ErrStoreUnavailable = errors.New("channels: store unavailable")

type redisStore struct {
	s      *Server
	rdb    redis.UniversalClient
	layer  *redislayer.Layer
	node   string
	lease  time.Duration
	log    *slog.Logger
	prefix string // zmqgo:{c}:

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	jobs   [redisWorkers]chan func(context.Context)

	up                                 atomic.Bool
	errs, forwarded, unrouted, outages atomic.Uint64

	mu     sync.Mutex
	owned  map[string]bool // process channels this node claimed
	renew  chan struct{}   // ask the renewer to run now
	shared map[string]*contender

	poppers map[string]*popper // normal channels with local subscribers; under mu
	wake    chan struct{}      // a channel was added or got credit back
}

// popper is one normal channel fed by popAll: credit holds a token per
// message it may pop ahead of its subscribers.
type popper struct {
	credit chan struct{}
}

type contender struct {
	n      int // local process channels under the key
	cancel context.CancelFunc
	done   chan struct{}
}

func newRedisStore(s *Server) (*redisStore, error) {
	l, err := redislayer.New(s.cfg.Redis, redislayer.Config{
		Prefix: s.cfg.RedisPrefix, Expiry: s.cfg.Expiry, GroupExpiry: s.cfg.GroupExpiry,
		Capacity: s.cfg.Capacity, ChannelCapacity: capRules(s.cfg.ChannelCapacity), Logger: s.cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	ctx, cancel := context.WithCancel(context.Background())
	r := &redisStore{s: s, rdb: s.cfg.Redis, layer: l, node: hex.EncodeToString(id), lease: s.cfg.RedisLease,
		log: s.cfg.Logger, prefix: "zmqgo:{c}:", ctx: ctx, cancel: cancel,
		owned: map[string]bool{}, renew: make(chan struct{}, 1), shared: map[string]*contender{},
		poppers: map[string]*popper{}, wake: make(chan struct{}, 1)}
	r.up.Store(true)
	for i := range r.jobs {
		r.jobs[i] = make(chan func(context.Context), redisJobs)
		r.wg.Add(1)
		go r.worker(r.jobs[i])
	}
	r.wg.Add(4)
	go r.popAll()
	go r.health()
	go r.renewer()
	go r.inbox()
	return r, nil
}

func capRules(rules []CapacityRule) []redislayer.ChannelCapacity {
	var out []redislayer.ChannelCapacity
	for _, r := range rules {
		out = append(out, redislayer.ChannelCapacity{Pattern: r.Pattern, Capacity: r.Capacity})
	}
	return out
}

// stop ends every goroutine and releases this node's claims.
func (r *redisStore) stop() {
	r.cancel()
	r.wg.Wait()
	r.layer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r.mu.Lock()
	keys := make([]string, 0, len(r.owned))
	for ch := range r.owned {
		keys = append(keys, r.prefix+"proc:"+ch)
	}
	r.mu.Unlock()
	if len(keys) > 0 && r.up.Load() {
		releaseScript.Run(ctx, r.rdb, keys, r.node)
	}
}

func (r *redisStore) worker(jobs chan func(context.Context)) {
	defer r.wg.Done()
	for {
		select {
		case job := <-jobs:
			job(r.ctx)
		case <-r.ctx.Done():
			return
		}
	}
}

// enqueue runs job on the worker of name, in order with name's other
// jobs. A full queue or an unreachable Redis refuses at once.
func (r *redisStore) enqueue(name string, job func(context.Context)) error {
	if !r.up.Load() {
		return reqErr("StoreUnavailable", "%v: Redis is unreachable", ErrStoreUnavailable)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	select {
	case r.jobs[h.Sum32()%redisWorkers] <- job:
		return nil
	default:
		return reqErr("StoreBusy", "channels: too many requests waiting for Redis")
	}
}

// post runs fn on the server's loop.
func (r *redisStore) post(fn func()) {
	select {
	case r.s.results <- fn:
	case <-r.s.done:
	case <-r.ctx.Done():
	}
}

// failed notes a Redis error; connection errors mark Redis down until the
// health check gets an answer.
func (r *redisStore) failed(err error) {
	r.errs.Add(1)
	if isStoreDown(err) && r.up.CompareAndSwap(true, false) {
		r.outages.Add(1)
		r.log.Warn("channels: Redis unreachable; serving local process channels only until it is back", "err", err)
	}
}

func isStoreDown(err error) bool {
	if err == nil || errors.Is(err, redislayer.ErrChannelFull) || errors.Is(err, redislayer.ErrDecode) ||
		errors.Is(err, redislayer.ErrInvalidName) || errors.Is(err, redislayer.ErrReservedKey) {
		return false
	}
	var req *requestError
	if errors.As(err, &req) || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	return !errors.As(err, &re) // a Redis error reply means Redis is up
}

// storeErr turns a store error into the request's answer.
func storeErr(err error) error {
	switch {
	case errors.As(err, new(*requestError)):
		return err
	case errors.Is(err, redislayer.ErrChannelFull):
		return reqErr("ChannelFull", "%v", err)
	case errors.Is(err, redislayer.ErrDecode), errors.Is(err, redislayer.ErrReservedKey):
		return reqErr("MessageFormatException", "%v", err)
	case isStoreDown(err):
		return reqErr("StoreUnavailable", "%v: %v", ErrStoreUnavailable, err)
	}
	return reqErr("ChannelsServerError", "%v", err)
}

// health pings Redis: every 500 ms while it is down, every 2 s while up.
func (r *redisStore) health() {
	defer r.wg.Done()
	for {
		d := 2 * time.Second
		if !r.up.Load() {
			d = 500 * time.Millisecond
		}
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(d):
		}
		ctx, cancel := context.WithTimeout(r.ctx, time.Second)
		err := r.rdb.Ping(ctx).Err()
		cancel()
		if r.ctx.Err() != nil {
			return
		}
		if err != nil {
			r.failed(err)
			continue
		}
		if r.up.CompareAndSwap(false, true) {
			r.log.Warn("channels: Redis reachable again; resuming")
			select {
			case r.renew <- struct{}{}:
			default:
			}
		}
	}
}

// Redis-side message bodies: DMB's empty body "{}" is not msgpack.
func storeBody(b []byte) []byte {
	if len(b) == 0 || bytes.Equal(b, EmptyBody) {
		return []byte{0x80}
	}
	return b
}

func (r *redisStore) procKey(ch string) string { return r.prefix + "proc:" + ch }
func (r *redisStore) inboxPrefix() string      { return r.prefix + "inbox:" }

// --- requests, called on the loop ---

func (s *state) redisSend(env [][]byte, m *DataMessage) error {
	ch := string(m.Channel)
	if err := ValidChannelName(ch); err != nil {
		return err
	}
	if len(m.Body) > MaxBodySize {
		return reqErr("MessageTooLarge", "body of %d bytes exceeds %d", len(m.Body), MaxBodySize)
	}
	if isProcess(ch) {
		if q := s.queues[ch]; q != nil && len(q.subs) > 0 {
			return s.send(m) // our own client's: no Redis
		}
	}
	r := s.rs
	body := storeBody(m.Body)
	ack := m.Props.truthy("ack")
	env, id, name := cloneFrames(env), m.ID, m.Channel
	return r.deferred(ch, func(ctx context.Context) error {
		var err error
		if isProcess(ch) {
			var fwd bool
			fwd, err = r.layer.SendMsgpackRouted(ctx, ch, body, r.procKey(ch), r.inboxPrefix(), inboxMax)
			if fwd {
				r.forwarded.Add(1)
			}
		} else {
			err = r.layer.SendMsgpack(ctx, ch, body)
		}
		return err
	}, func(err error) {
		if err == nil {
			s.st.Received++
		} else if errors.Is(err, redislayer.ErrChannelFull) {
			s.st.DroppedFull++
		}
		s.finishData(env, name, id, ack, err)
	})
}

// deferred runs op on name's worker, then done on the loop with op's error
// (already turned into the request's answer).
func (r *redisStore) deferred(name string, op func(context.Context) error, done func(error)) error {
	err := r.enqueue(name, func(ctx context.Context) {
		err := op(ctx)
		if isStoreDown(err) {
			r.failed(err)
		}
		r.post(func() {
			if err != nil {
				err = storeErr(err)
			}
			done(err)
		})
	})
	if err != nil {
		return err
	}
	return errDeferred
}

func cloneFrames(f [][]byte) [][]byte {
	out := make([][]byte, len(f))
	for i, b := range f {
		out[i] = bytes.Clone(b)
	}
	return out
}

func (s *state) finishData(env [][]byte, channel, id []byte, ack bool, err error) {
	if err != nil {
		s.st.Errors++
		s.cfg.Logger.Debug("channels: data request refused", "channel", string(channel), "err", err)
		if ack {
			s.replyData(env, channel, id, CmdException, Props{{"exception", exceptionText(err)}})
		}
		return
	}
	if ack {
		s.replyData(env, channel, id, CmdComplete, nil)
	}
}

func (s *state) finishSignal(env [][]byte, id []byte, ack bool, req []byte, err error) {
	if err != nil {
		s.st.Errors++
		s.cfg.Logger.Debug("channels: signalling request refused", "err", err)
		if ack {
			s.replySignal(env, id, CmdException, Props{{"exception", exceptionText(err)}}, nil)
		}
		return
	}
	if ack {
		s.replySignal(env, id, CmdComplete, nil, req)
	}
}

func (s *state) redisGroupSend(env [][]byte, m *DataMessage) error {
	g := string(m.Channel)
	if err := ValidGroupName(g); err != nil {
		return err
	}
	if len(m.Body) > MaxBodySize {
		return reqErr("MessageTooLarge", "body of %d bytes exceeds %d", len(m.Body), MaxBodySize)
	}
	r := s.rs
	body := storeBody(m.Body)
	ack := m.Props.truthy("ack")
	env, id, name := cloneFrames(env), m.ID, m.Channel
	before := r.layer.Stats()
	return r.deferred(g, func(ctx context.Context) error {
		return r.layer.GroupSendMsgpack(ctx, g, body)
	}, func(err error) {
		if err == nil {
			s.st.GroupSends++
			after := r.layer.Stats()
			// Other group sends may run at once on other workers: the
			// counts are the layer's, not this request's alone.
			s.st.Received += after.Sent - min(after.Sent, before.Sent)
			s.st.DroppedFull += after.GroupFull - min(after.GroupFull, before.GroupFull)
		}
		s.finishData(env, name, id, ack, err)
	})
}

func (s *state) redisGroupOp(env [][]byte, m *SignalMessage, req []byte, add bool) error {
	g, ch, err := s.groupNames(m)
	if err != nil {
		return err
	}
	r := s.rs
	env, id, ack := cloneFrames(env), m.ID, m.Props.truthy("ack")
	req = bytes.Clone(req)
	return r.deferred(g, func(ctx context.Context) error {
		if add {
			return r.layer.GroupAdd(ctx, g, ch)
		}
		return r.layer.GroupDiscard(ctx, g, ch)
	}, func(err error) { s.finishSignal(env, id, ack, req, err) })
}

func (s *state) redisGroupList(env [][]byte, m *SignalMessage) error {
	g, ok := m.Props.name("group_name")
	if !ok {
		return reqErr("KeyError", "group_name must be provided")
	}
	if err := ValidGroupName(g); err != nil {
		return err
	}
	r := s.rs
	env, id := cloneFrames(env), m.ID
	var names []string
	return r.deferred(g, func(ctx context.Context) (err error) {
		names, err = r.layer.GroupChannels(ctx, g)
		return err
	}, func(err error) {
		if err != nil {
			s.finishSignal(env, id, true, nil, err)
			return
		}
		if names == nil {
			names = []string{}
		}
		s.replySignal(env, id, CmdComplete, Props{{"group_name", g}, {"channels", names}}, nil)
	})
}

func (s *state) redisFlush(env [][]byte, m *SignalMessage, req []byte) error {
	r := s.rs
	env, id, ack := cloneFrames(env), m.ID, m.Props.truthy("ack")
	req = bytes.Clone(req)
	return r.deferred("", r.layer.Flush, func(err error) {
		if err == nil {
			s.flush(env)
		}
		s.finishSignal(env, id, ack, req, err)
	})
}

// --- subscriptions, called on the loop ---

// watch starts what feeds q's first local subscriber: a popper for a
// normal channel, a claim for a process channel (answered when claimed).
func (s *state) watch(env [][]byte, m *DataMessage, q *queue, e *endpoint) error {
	r := s.rs
	if !isProcess(q.name) {
		r.startPopper(s, q.name)
		return nil
	}
	ch := q.name
	env, id, name, ack := cloneFrames(env), m.ID, m.Channel, m.Props.truthy("ack")
	r.mu.Lock()
	r.owned[ch] = true
	r.mu.Unlock()
	r.addContender(s, ch)
	err := r.deferred(ch, func(ctx context.Context) error {
		ok, err := claimScript.Run(ctx, r.rdb, []string{r.procKey(ch)}, r.node, r.lease.Milliseconds()).Int()
		if err == nil && ok == 0 {
			return errTaken
		}
		return err
	}, func(err error) {
		if errors.Is(err, errTaken) {
			r.mu.Lock()
			delete(r.owned, ch)
			r.mu.Unlock()
			if s.queues[ch] == q {
				s.dropEndpoint(q, e)
			}
		}
		s.finishData(env, name, id, ack, err)
	})
	if errors.Is(err, errDeferred) || err == nil {
		return err
	}
	// Redis down: the subscription stands locally and is claimed when
	// Redis is back (the renewer claims what is owned).
	return nil
}

var errTaken = reqErr("SubscriptionError", "process channel already has a subscriber on another node")

// unwatch stops feeding q, whose last local subscriber went.
func (s *state) unwatch(q *queue) {
	r := s.rs
	if !isProcess(q.name) {
		r.mu.Lock()
		delete(r.poppers, q.name)
		r.mu.Unlock()
		// What this node popped ahead goes back to Redis for others.
		var back [][]byte
		for q.len() > 0 {
			m := q.msgs[q.head]
			q.pop()
			release(m)
			back = append(back, m.body)
		}
		if len(back) > 0 {
			ch := q.name
			r.enqueue(ch, func(ctx context.Context) {
				for _, b := range back {
					if err := r.layer.SendMsgpack(ctx, ch, b); err != nil {
						r.log.Debug("channels: could not return a message to Redis", "channel", ch, "err", err)
					}
				}
			})
		}
		return
	}
	ch := q.name
	r.mu.Lock()
	delete(r.owned, ch)
	r.mu.Unlock()
	r.dropContender(ch)
	r.enqueue(ch, func(ctx context.Context) {
		if err := releaseScript.Run(ctx, r.rdb, []string{r.procKey(ch)}, r.node).Err(); err != nil && err != redis.Nil {
			r.failed(err)
		}
	})
}

func release(m *message) {
	if m.credit != nil {
		select {
		case m.credit <- struct{}{}:
		default:
		}
		m.credit = nil
		if m.wake != nil {
			select {
			case m.wake <- struct{}{}:
			default:
			}
		}
	}
}

// startPopper makes popAll feed channel ch's local queue, popAhead at
// most ahead of its subscribers.
func (r *redisStore) startPopper(s *state, ch string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.poppers[ch] != nil {
		return
	}
	p := &popper{credit: make(chan struct{}, popAhead)}
	for range popAhead {
		p.credit <- struct{}{}
	}
	r.poppers[ch] = p
	r.wakeUp()
}

func (r *redisStore) wakeUp() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// popAll pops every normal channel that has local subscribers and credit
// with one BZPOPMIN over all their keys: one connection whatever the
// number of channels. The list is rotated so that no channel starves.
func (r *redisStore) popAll() {
	defer r.wg.Done()
	s := r.s.st
	var names []string
	turn := 0
	for r.ctx.Err() == nil {
		names = names[:0]
		r.mu.Lock()
		for ch, p := range r.poppers {
			if len(p.credit) > 0 {
				names = append(names, ch)
			}
		}
		r.mu.Unlock()
		if len(names) == 0 {
			select {
			case <-r.wake:
			case <-r.ctx.Done():
				return
			}
			continue
		}
		sort.Strings(names)
		turn++
		k := turn % len(names)
		names = append(names[k:], names[:k]...)
		// A short block: channels added meanwhile wait at most this.
		ch, body, err := r.layer.PopAnyMsgpack(r.ctx, names, 250*time.Millisecond)
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.failed(err)
			r.pause(r.ctx)
			continue
		}
		if ch == "" {
			continue
		}
		r.mu.Lock()
		p := r.poppers[ch]
		r.mu.Unlock()
		var credit chan struct{}
		if p != nil {
			select {
			case <-p.credit:
				credit = p.credit
			default:
			}
		}
		r.post(func() { s.fromRedis(ch, body, credit) })
	}
}

// pause waits a little before retrying a failed Redis call.
func (r *redisStore) pause(ctx context.Context) {
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// fromRedis queues a message popped for ch (a normal channel) for its
// local subscribers; with none left it goes back to Redis.
func (s *state) fromRedis(ch string, body []byte, credit chan struct{}) {
	msg := s.redisMessage(body)
	msg.credit, msg.wake = credit, s.rs.wake
	q := s.queues[ch]
	if q == nil || len(q.subs) == 0 {
		release(msg)
		r := s.rs
		r.enqueue(ch, func(ctx context.Context) { r.layer.SendMsgpack(ctx, ch, body) })
		return
	}
	q.msgs = append(q.msgs, msg)
	s.pump(q)
}

func (s *state) redisMessage(body []byte) *message {
	exp := s.now().Add(s.cfg.Expiry)
	props, _ := AppendProps(nil, Props{{"expiry", exp}})
	return &message{id: newID(), seq: zeroSeq, props: props, body: body, expires: exp}
}

// toProcess delivers a message for process channel ch to its local
// subscriber, or forwards it to the owner's inbox (forward), or counts it
// as unrouted.
func (s *state) toProcess(ch string, body []byte, forward bool) {
	r := s.rs
	if q := s.queues[ch]; q != nil && len(q.subs) > 0 {
		if q.len() >= q.capacity {
			s.st.DroppedFull++
			return
		}
		s.st.Received++
		q.msgs = append(q.msgs, s.redisMessage(body))
		s.pump(q)
		return
	}
	if !forward {
		r.unrouted.Add(1)
		return
	}
	err := r.enqueue(ch, func(ctx context.Context) {
		payload, err := redislayer.Pack(ch, body)
		if err != nil {
			r.unrouted.Add(1)
			return
		}
		n, err := forwardScript.Run(ctx, r.rdb, []string{r.procKey(ch)}, payload, r.inboxPrefix(), inboxMax, r.layer.Expiry()).Int()
		switch {
		case err != nil:
			r.failed(err)
			r.unrouted.Add(1)
		case n == 0:
			r.unrouted.Add(1)
		default:
			r.forwarded.Add(1)
		}
	})
	if err != nil {
		r.unrouted.Add(1)
	}
}

// addContender makes this node compete for popping the shared key of
// process channel ch while it has local process channels under it.
func (r *redisStore) addContender(s *state, ch string) {
	key := nonLocal(ch)
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.shared[key]; c != nil {
		c.n++
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	c := &contender{n: 1, cancel: cancel, done: make(chan struct{})}
	r.shared[key] = c
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(c.done)
		r.contend(ctx, s, key)
	}()
}

func (r *redisStore) dropContender(ch string) {
	key := nonLocal(ch)
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.shared[key]; c != nil {
		if c.n--; c.n == 0 {
			delete(r.shared, key)
			c.cancel()
		}
	}
}

func nonLocal(ch string) string {
	if i := strings.IndexByte(ch, '!'); i >= 0 {
		return ch[:i+1]
	}
	return ch
}

// contend holds the popping lease of a shared process-channel key while
// it can, and pops the key while it holds it.
func (r *redisStore) contend(ctx context.Context, s *state, key string) {
	lease := r.prefix + "popper:" + key
	var renewed time.Time
	held := false
	defer func() {
		if held {
			c, cancel := context.WithTimeout(context.Background(), time.Second)
			releaseScript.Run(c, r.rdb, []string{lease}, r.node)
			cancel()
		}
	}()
	retry := min(r.lease/3, time.Second)
	for ctx.Err() == nil {
		if !held || time.Since(renewed) > r.lease/3 {
			ok, err := claimScript.Run(ctx, r.rdb, []string{lease}, r.node, r.lease.Milliseconds()).Int()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.failed(err)
				held = false
				r.pause(ctx)
				continue
			}
			held, renewed = ok == 1, time.Now()
			if !held {
				t := time.NewTimer(retry)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
				continue
			}
		}
		chs, body, err := r.layer.PopMsgpack(ctx, key)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.failed(err)
			r.pause(ctx)
			continue
		}
		r.post(func() {
			for _, ch := range chs {
				s.toProcess(ch, body, true)
			}
		})
	}
}

// inbox reads what other nodes forward to this node's process channels.
func (r *redisStore) inbox() {
	defer r.wg.Done()
	key := r.inboxPrefix() + r.node
	for r.ctx.Err() == nil {
		res, err := r.rdb.BLPop(r.ctx, time.Second, key).Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.failed(err)
			r.pause(r.ctx)
			continue
		}
		chs, body, err := redislayer.Unpack([]byte(res[1]))
		if err != nil {
			r.unrouted.Add(1)
			continue
		}
		r.post(func() {
			for _, ch := range chs {
				s := r.s.st
				s.toProcess(ch, body, false)
			}
		})
	}
}

// renewer renews this node's claims every lease/3, and at once after an
// outage (Redis may have restarted empty). A claim found taken by another
// node loses its local subscriber.
func (r *redisStore) renewer() {
	defer r.wg.Done()
	t := time.NewTicker(r.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.renew:
		}
		if !r.up.Load() {
			continue
		}
		r.mu.Lock()
		chs := make([]string, 0, len(r.owned))
		for ch := range r.owned {
			chs = append(chs, ch)
		}
		r.mu.Unlock()
		if len(chs) == 0 {
			continue
		}
		keys := make([]string, len(chs))
		for i, ch := range chs {
			keys[i] = r.procKey(ch)
		}
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		lost, err := renewScript.Run(ctx, r.rdb, keys, r.node, r.lease.Milliseconds()).Int64Slice()
		cancel()
		if err != nil {
			if r.ctx.Err() == nil {
				r.failed(err)
			}
			continue
		}
		for _, i := range lost {
			ch := chs[i-1]
			r.log.Warn("channels: process channel claimed by another node; dropping the local subscriber", "channel", ch)
			r.post(func() {
				s := r.s.st
				if q := s.queues[ch]; q != nil {
					for _, e := range slicesClone(q.subs) {
						s.dropEndpoint(q, e)
					}
				}
			})
		}
	}
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

// claimScript: take KEYS[1] for ARGV[1] for ARGV[2] ms if free or ours.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// renewScript: claimScript over every key; returns the (1-based) indexes
// of the keys another owner holds.
var renewScript = redis.NewScript(`
local lost = {}
for i, k in ipairs(KEYS) do
	local v = redis.call('GET', k)
	if v and v ~= ARGV[1] then
		lost[#lost + 1] = i
	else
		redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
	end
end
return lost
`)

// releaseScript: delete the keys still held by ARGV[1].
var releaseScript = redis.NewScript(`
for _, k in ipairs(KEYS) do
	if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return 0
`)

// forwardScript: append ARGV[1] to the inbox of KEYS[1]'s owner; 0 when
// there is none.
var forwardScript = redis.NewScript(`
local owner = redis.call('GET', KEYS[1])
if not owner then return 0 end
local inbox = ARGV[2] .. owner
redis.call('RPUSH', inbox, ARGV[1])
redis.call('LTRIM', inbox, -tonumber(ARGV[3]), -1)
redis.call('EXPIRE', inbox, ARGV[4])
return 1
`)
