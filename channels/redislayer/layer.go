// Package redislayer is a Django Channels layer on Redis that shares its
// channels and groups with channels_redis 4.0's RedisChannelLayer: same keys,
// same message bytes, same expiry and capacity rules. A Go service using a
// Layer and a Django process using channels_redis on the same Redis (and
// prefix) send to and receive from each other's channels and groups.
//
// Storage, as channels_redis 4.0 lays it out (prefix "asgi" by default):
//
//   - a channel is a sorted set at prefix+name ("asgihttp.request"), no
//     separator. Members are messages, scored by the send time in Unix
//     seconds; the key expires Expiry after the last send. Receivers pop the
//     lowest score (BZPOPMIN), so each message goes to one receiver, in send
//     order.
//   - a process channel "specific.<client>!<local>" is stored under its
//     non-local part prefix+"specific.<client>!", shared by every process
//     channel of one layer (client is the layer's random prefix). The full
//     name travels inside the message, and the owning layer sorts what it
//     pops into per-channel buffers. Only the layer that made the name
//     (NewChannel) can receive on it.
//   - a group is a sorted set at prefix+":group:"+name of channel names
//     scored by the time they were added; members older than GroupExpiry are
//     dropped when the group is sent to, and the key expires GroupExpiry
//     after the last add.
//   - a message is 12 random bytes (sorted-set members must be unique)
//     followed by the MessagePack map. Messages to process channels carry the
//     full channel name in "__asgi_channel__"; group sends carry the list of
//     the group's channels sharing that key.
//   - capacity: a send to a channel holding Capacity messages (or the
//     capacity of the first matching ChannelCapacity pattern) fails with
//     ErrChannelFull; a group send skips full channels and counts them.
//     Messages older than Expiry are removed before capacity is counted.
//   - channels_redis parks the message a receiver is handling in
//     prefix+name+"$inflight" (against asyncio cancellation) and every
//     receive first moves parked messages back into the channel. Layer does
//     the moving back, so nothing a cancelled Python receiver parked is
//     lost, but does not park: a Go Receive cannot be interrupted between
//     the pop and its return.
//
// Where channels_redis runs several commands, Layer runs one Lua script with
// the same effect, so sends are atomic and take one round trip.
//
// Layer uses one Redis, standalone or behind Sentinel (a
// redis.UniversalClient). Redis Cluster is not supported, nor by
// channels_redis: its keys carry no hash tags, and a receive (channel and
// park) or a group send touches several keys in one script. Sharding over
// several hosts the channels_redis way is not supported either.
package redislayer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors. Each is wrapped with the channel or group concerned.
var (
	// ErrChannelFull: a Send found the channel at its capacity.
	ErrChannelFull = errors.New("redislayer: channel full")
	// ErrInvalidName: a channel or group name channels would refuse.
	ErrInvalidName = errors.New("redislayer: invalid name")
	// ErrNotMine: Receive on a process channel another layer created.
	ErrNotMine = errors.New("redislayer: process channel belongs to another layer")
	// ErrReservedKey: a message may not carry "__asgi_channel__".
	ErrReservedKey = errors.New(`redislayer: message carries the reserved key "__asgi_channel__"`)
)

// channelField is the message key channels_redis uses to carry the full
// name (or, for group sends, the list of names) of the target channels.
const channelField = "__asgi_channel__"

// randomPrefixLen is the number of random bytes before every message.
const randomPrefixLen = 12

// Config tunes a Layer. The zero value is channels_redis's defaults.
type Config struct {
	// Prefix of every key; "asgi" if empty. Must match the Django side.
	Prefix string
	// Expiry is how long a message waits in a channel: 60 s if zero. Whole
	// seconds, as channels_redis (fractions are dropped, minimum 1 s).
	Expiry time.Duration
	// GroupExpiry is how long a group membership lasts: 86400 s if zero.
	// Whole seconds, minimum 1 s.
	GroupExpiry time.Duration
	// Capacity is how many messages a channel holds: 100 if zero.
	Capacity int
	// ChannelCapacity overrides Capacity for names matching a glob pattern
	// (fnmatch rules: *, ?, [seq], [!seq]), first match wins, as
	// channels_redis's channel_capacity.
	ChannelCapacity []ChannelCapacity
	// Logger gets warnings (undecodable messages) and group sends that
	// skipped full channels (Info). Silent if nil.
	Logger *slog.Logger
}

// ChannelCapacity is one channel_capacity entry.
type ChannelCapacity struct {
	Pattern  string
	Capacity int
}

// Stats are counters since New.
type Stats struct {
	Sent        uint64 // messages stored by Send and GroupSend
	Received    uint64 // messages returned by Receive
	Full        uint64 // Sends refused with ErrChannelFull
	GroupFull   uint64 // channels a GroupSend skipped as full
	Undecodable uint64 // popped messages that were not channels_redis messages, dropped
	Overflowed  uint64 // buffered process-channel messages dropped (buffer at capacity or expired)
}

type capRule struct {
	match func(string) bool
	n     int
}

// Layer is a channel layer on one Redis. Its methods are safe for
// concurrent use.
type Layer struct {
	rdb         redis.UniversalClient
	prefix      string
	expiry      int64 // seconds
	groupExpiry int64 // seconds
	capacity    int
	caps        []capRule
	log         *slog.Logger
	client      string // this layer's process-channel prefix

	closed    chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	buffers   map[string]*buffer // full process channel name -> messages
	reading   map[string]bool    // non-local name -> a Receive is popping its key
	changed   chan struct{}      // closed and replaced when buffers or reading change
	lastSweep time.Time

	sent, received, full, groupFull, undecodable, overflowed atomic.Uint64
}

type buffered struct {
	at  time.Time
	msg map[string]any
}

type buffer struct{ q []buffered }

// blockStep bounds one BZPOPMIN, so a cancelled context or Close is noticed
// within it (go-redis does not interrupt a blocked read).
var blockStep = time.Second

// New returns a layer on rdb. The caller keeps ownership of rdb.
func New(rdb redis.UniversalClient, cfg Config) (*Layer, error) {
	if rdb == nil {
		return nil, errors.New("redislayer: nil Redis client")
	}
	l := &Layer{
		rdb:         rdb,
		prefix:      cfg.Prefix,
		expiry:      seconds(cfg.Expiry, 60),
		groupExpiry: seconds(cfg.GroupExpiry, 86400),
		capacity:    cfg.Capacity,
		log:         cfg.Logger,
		client:      uuidHex(),
		closed:      make(chan struct{}),
		buffers:     map[string]*buffer{},
		reading:     map[string]bool{},
		changed:     make(chan struct{}),
		lastSweep:   time.Now(),
	}
	if l.prefix == "" {
		l.prefix = "asgi"
	}
	if l.capacity <= 0 {
		l.capacity = 100
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	for _, c := range cfg.ChannelCapacity {
		re, err := globRegexp(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("redislayer: channel capacity pattern %q: %w", c.Pattern, err)
		}
		l.caps = append(l.caps, capRule{match: re.MatchString, n: c.Capacity})
	}
	return l, nil
}

func seconds(d time.Duration, def int64) int64 {
	if d == 0 {
		return def
	}
	return max(int64(d/time.Second), 1)
}

// uuidHex is uuid.uuid4().hex: 32 lowercase hex digits, version 4.
func uuidHex() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return hex.EncodeToString(u[:])
}

// Close makes pending and later Receives return net.ErrClosed. It does not
// close the Redis client. Other methods keep working.
func (l *Layer) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Stats returns the counters.
func (l *Layer) Stats() Stats {
	return Stats{
		Sent: l.sent.Load(), Received: l.received.Load(), Full: l.full.Load(),
		GroupFull: l.groupFull.Load(), Undecodable: l.undecodable.Load(), Overflowed: l.overflowed.Load(),
	}
}

// Capacity returns the capacity of channel: the first matching
// ChannelCapacity, else Capacity.
func (l *Layer) Capacity(channel string) int {
	for _, c := range l.caps {
		if c.match(channel) {
			return c.n
		}
	}
	return l.capacity
}

// NewChannel returns a new process channel name that only this layer can
// Receive on: prefix + "." + layer id + "!" + random. prefix "" means
// "specific", as channels_redis.
func (l *Layer) NewChannel(prefix string) string {
	if prefix == "" {
		prefix = "specific"
	}
	return prefix + "." + l.client + "!" + uuidHex()
}

func (l *Layer) channelKey(channel string) string { return l.prefix + nonLocalName(channel) }

// GroupKey returns the Redis key holding group's members.
func (l *Layer) GroupKey(group string) string { return l.prefix + ":group:" + group }

// ChannelKey returns the Redis key holding channel's messages.
func (l *Layer) ChannelKey(channel string) string { return l.channelKey(channel) }

// encode returns the stored form of msg: 12 random bytes, then msgpack.
func encode(msg map[string]any) ([]byte, error) {
	body, err := appendMap(nil, msg, 0)
	if err != nil {
		return nil, err
	}
	return stored(body, nil)
}

// stored returns 12 random bytes followed by body, a msgpack map, with
// "__asgi_channel__": field added to the map unless field is nil. The map
// is extended in place (new count in the header, pair appended), not
// re-encoded: channels_redis readers do not care where the key sits.
func stored(body []byte, field any) ([]byte, error) {
	b := make([]byte, randomPrefixLen, randomPrefixLen+len(body)+32)
	for i := 0; i < randomPrefixLen; i += 4 {
		v := mrand.Uint32()
		b[i], b[i+1], b[i+2], b[i+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	if field == nil {
		return append(b, body...), nil
	}
	n, hdr, err := mapHeader(body)
	if err != nil {
		return nil, err
	}
	b = appendMapHeader(b, n+1)
	b = append(b, body[hdr:]...)
	b = appendStr(b, channelField)
	return appendValue(b, field, 1)
}

// mapHeader reads the entry count and header length of a msgpack map.
func mapHeader(b []byte) (n, hdr int, err error) {
	switch {
	case len(b) >= 1 && b[0]&0xf0 == 0x80:
		return int(b[0] & 0x0f), 1, nil
	case len(b) >= 3 && b[0] == 0xde:
		return int(b[1])<<8 | int(b[2]), 3, nil
	case len(b) >= 5 && b[0] == 0xdf:
		return int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]), 5, nil
	}
	return 0, 0, fmt.Errorf("%w: message is not a map", ErrDecode)
}

// decode undoes encode.
func decode(b []byte) (map[string]any, error) {
	if len(b) < randomPrefixLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the random prefix", ErrDecode, len(b))
	}
	return decodeMessage(b[randomPrefixLen:])
}

// now returns the score channels_redis writes (time.time()) and the cutoff
// it removes below (int(time.time()) - expiry).
func now() (score string, unix int64) {
	t := time.Now()
	return strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', -1, 64), t.Unix()
}

// sendScript: drop expired messages, refuse when full, add, refresh expiry.
// KEYS[1] channel key; ARGV score, cutoff, capacity, expiry, member.
var sendScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
	return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`)

// Send stores msg on channel. It fails with ErrChannelFull when the channel
// holds its capacity of unexpired messages.
func (l *Layer) Send(ctx context.Context, channel string, msg map[string]any) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	body, err := encodeMessage(msg)
	if err != nil {
		return err
	}
	return l.sendBody(ctx, channel, body)
}

// encodeMessage encodes an application's message; the key channels_redis
// uses for routing is not the application's to set.
func encodeMessage(msg map[string]any) ([]byte, error) {
	if _, ok := msg[channelField]; ok {
		return nil, ErrReservedKey
	}
	return appendMap(nil, msg, 0)
}

// SendMsgpack is Send for a message already encoded as a MessagePack map
// (a DMB body, say): it is checked and stored as it is, not re-encoded
// (only "__asgi_channel__" is added for process channels). A body that is
// not a map with string keys fails with ErrDecode.
func (l *Layer) SendMsgpack(ctx context.Context, channel string, body []byte) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	if err := checkBody(body); err != nil {
		return err
	}
	return l.sendBody(ctx, channel, body)
}

func checkBody(body []byte) error {
	m, err := decodeMessage(body)
	if err != nil {
		return err
	}
	if _, ok := m[channelField]; ok {
		return ErrReservedKey
	}
	return nil
}

func (l *Layer) sendBody(ctx context.Context, channel string, body []byte) error {
	var field any
	if strings.Contains(channel, "!") {
		field = channel
	}
	payload, err := stored(body, field)
	if err != nil {
		return err
	}
	score, unix := now()
	ok, err := sendScript.Run(ctx, l.rdb, []string{l.channelKey(channel)},
		score, unix-l.expiry, l.Capacity(channel), l.expiry, payload).Int()
	if err != nil {
		return fmt.Errorf("redislayer: send to %s: %w", channel, err)
	}
	if ok == 0 {
		l.full.Add(1)
		return fmt.Errorf("%w: %s", ErrChannelFull, channel)
	}
	l.sent.Add(1)
	return nil
}

// restorePopScript moves parked in-flight messages back into the channel
// with their scores, deletes the park, then pops the oldest message if
// there is one: a receive that finds a message waiting takes one round
// trip. KEYS[1] channel, KEYS[2] park.
var restorePopScript = redis.NewScript(`
local parked = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = #parked, 1, -2 do
	redis.call('ZADD', KEYS[1], parked[i], parked[i - 1])
end
redis.call('DEL', KEYS[2])
local m = redis.call('ZPOPMIN', KEYS[1])
if #m == 0 then
	return false
end
return m[1]
`)

// Receive waits for the next message on channel and returns it. For a
// process channel ("!"), the channel must come from this layer's
// NewChannel. It returns the context's error when ctx ends first and
// net.ErrClosed after Close; a message popped from Redis is never dropped
// because of either (it is returned or, for process channels, buffered).
func (l *Layer) Receive(ctx context.Context, channel string) (map[string]any, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	if strings.Contains(channel, "!") {
		nl := nonLocalName(channel)
		if !strings.HasSuffix(nl, l.client+"!") {
			return nil, fmt.Errorf("%w: %s", ErrNotMine, channel)
		}
		return l.receiveProcess(ctx, channel, nl)
	}
	for {
		_, msg, err := l.popOne(ctx, channel)
		if err != nil {
			return nil, err
		}
		if msg != nil {
			l.received.Add(1)
			return msg, nil
		}
	}
}

// Pop waits for one message stored under name's key and returns it with
// the channels it is for. name is a normal channel or the non-local part
// ("prefix.id!") shared by process channels, whoever created them: it is
// for servers that route process-channel messages to their receivers
// themselves (DMB clients all name theirs "specific.zmq_id_00!..."). A
// normal channel's message is for [name]; a group send's, for the listed
// channels sharing the key. Unlike Receive, Pop does not check that this
// layer made the process channels.
func (l *Layer) Pop(ctx context.Context, name string) (channels []string, msg map[string]any, err error) {
	if err := checkChannel(name); err != nil {
		return nil, nil, err
	}
	if strings.Contains(name, "!") && !strings.HasSuffix(name, "!") {
		return nil, nil, fmt.Errorf("%w: %q: pop takes the part up to the !", ErrInvalidName, name)
	}
	for {
		target, m, err := l.popOne(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		if m == nil {
			continue
		}
		l.received.Add(1)
		switch v := target.(type) {
		case string:
			return []string{v}, m, nil
		case []any:
			for _, c := range v {
				if s, ok := c.(string); ok {
					channels = append(channels, s)
				}
			}
			if strings.HasSuffix(name, "!") {
				return channels, m, nil
			}
		}
		// A normal channel's message is for that channel, whatever a group
		// send listed.
		return []string{name}, m, nil
	}
}

func (l *Layer) done(ctx context.Context) error {
	select {
	case <-l.closed:
		return net.ErrClosed
	default:
	}
	return ctx.Err()
}

// popOne waits at most blockStep for a message on the key of name (a
// normal channel or the non-local part of process channels). It returns a
// nil message when none came or the one popped was undecodable.
func (l *Layer) popOne(ctx context.Context, name string) (target any, msg map[string]any, err error) {
	member, err := l.popRaw(ctx, name)
	if err != nil || member == nil {
		return nil, nil, err
	}
	m, err := decode(member)
	if err != nil {
		l.undecodable.Add(1)
		l.log.Warn("redislayer: dropped a message that is not a channels_redis message (encrypted layers are not supported)",
			"channel", name, "err", err)
		return nil, nil, nil
	}
	target, ok := m[channelField]
	if ok {
		delete(m, channelField)
	}
	return target, m, nil
}

// popRaw waits at most blockStep for a stored message on the key of name;
// nil when none came.
func (l *Layer) popRaw(ctx context.Context, name string) ([]byte, error) {
	if err := l.done(ctx); err != nil {
		return nil, err
	}
	key := l.prefix + name
	member, err := restorePopScript.Run(ctx, l.rdb, []string{key, key + "$inflight"}).Text()
	if err == redis.Nil {
		step := blockStep
		if dl, ok := ctx.Deadline(); ok {
			step = min(step, max(time.Until(dl), 10*time.Millisecond))
		}
		// Do, not BZPopMin: go-redis rounds BZPOPMIN timeouts up to whole
		// seconds, and Redis takes fractions.
		var res []any
		res, err = l.rdb.Do(ctx, "BZPOPMIN", key, strconv.FormatFloat(step.Seconds(), 'f', 3, 64)).Slice()
		if err == redis.Nil {
			return nil, nil
		}
		if err == nil && len(res) != 3 {
			err = fmt.Errorf("BZPOPMIN answered %d items", len(res))
		}
		if err == nil {
			member, _ = res[1].(string)
		}
	}
	if err != nil {
		if cerr := l.done(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("redislayer: receive on %s: %w", name, err)
	}
	return []byte(member), nil
}

// receiveProcess: one Receive at a time per non-local key pops and sorts
// messages into buffers by their full channel name; the others wait for
// their buffer to fill or for the popping role to be free.
func (l *Layer) receiveProcess(ctx context.Context, channel, nl string) (map[string]any, error) {
	for {
		l.mu.Lock()
		if b := l.buffers[channel]; b != nil && len(b.q) > 0 {
			m := b.q[0].msg
			b.q[0] = buffered{}
			b.q = b.q[1:]
			if len(b.q) == 0 {
				delete(l.buffers, channel)
			}
			l.mu.Unlock()
			l.received.Add(1)
			return m, nil
		}
		if err := l.done(ctx); err != nil {
			l.mu.Unlock()
			return nil, err
		}
		if l.reading[nl] {
			ch := l.changed
			l.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
			case <-l.closed:
			}
			continue
		}
		l.reading[nl] = true
		l.mu.Unlock()

		target, msg, err := l.popOne(ctx, nl)

		l.mu.Lock()
		delete(l.reading, nl)
		if msg != nil {
			l.bufferLocked(target, nl, msg)
		}
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// bufferLocked queues msg for each channel it names. A full buffer drops
// its oldest message, as channels_redis's BoundedQueue; messages nobody
// received within the expiry are swept.
func (l *Layer) bufferLocked(target any, nl string, msg map[string]any) {
	t := time.Now()
	add := func(ch string) {
		b := l.buffers[ch]
		if b == nil {
			b = &buffer{}
			l.buffers[ch] = b
		}
		if len(b.q) >= l.capacity {
			b.q = b.q[1:]
			l.overflowed.Add(1)
		}
		b.q = append(b.q, buffered{at: t, msg: msg})
	}
	switch v := target.(type) {
	case string:
		add(v)
	case []any:
		for _, c := range v {
			if s, ok := c.(string); ok {
				add(s)
			}
		}
	default:
		add(nl)
	}
	exp := time.Duration(l.expiry) * time.Second
	if t.Sub(l.lastSweep) < exp/2 {
		return
	}
	l.lastSweep = t
	for ch, b := range l.buffers {
		i := 0
		for i < len(b.q) && t.Sub(b.q[i].at) > exp {
			i++
		}
		l.overflowed.Add(uint64(i))
		b.q = b.q[i:]
		if len(b.q) == 0 {
			delete(l.buffers, ch)
		}
	}
}

// groupAddScript: add (or re-add) with the current time, refresh expiry.
var groupAddScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
`)

// GroupAdd adds channel to group (or renews its membership).
func (l *Layer) GroupAdd(ctx context.Context, group, channel string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	if err := checkChannel(channel); err != nil {
		return err
	}
	score, _ := now()
	err := groupAddScript.Run(ctx, l.rdb, []string{l.GroupKey(group)}, score, channel, l.groupExpiry).Err()
	if err != nil && err != redis.Nil {
		return fmt.Errorf("redislayer: group add %s: %w", group, err)
	}
	return nil
}

// GroupDiscard removes channel from group; not a member is not an error.
func (l *Layer) GroupDiscard(ctx context.Context, group, channel string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	if err := checkChannel(channel); err != nil {
		return err
	}
	if err := l.rdb.ZRem(ctx, l.GroupKey(group), channel).Err(); err != nil {
		return fmt.Errorf("redislayer: group discard %s: %w", group, err)
	}
	return nil
}

// membersScript: drop expired memberships, list the rest.
var membersScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// GroupChannels returns the group's unexpired members, dropping expired
// ones as a group send does.
func (l *Layer) GroupChannels(ctx context.Context, group string) ([]string, error) {
	if err := checkGroup(group); err != nil {
		return nil, err
	}
	_, unix := now()
	names, err := membersScript.Run(ctx, l.rdb, []string{l.GroupKey(group)}, unix-l.groupExpiry).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redislayer: group %s: %w", group, err)
	}
	return names, nil
}

// groupSendScript: per channel key, drop expired messages, then add when
// under capacity and refresh expiry; return how many keys were full.
// KEYS channel keys; ARGV members..., capacities..., score, expiry, cutoff.
var groupSendScript = redis.NewScript(`
local n = #KEYS
local score, expiry, cutoff = ARGV[2*n + 1], ARGV[2*n + 2], ARGV[2*n + 3]
local full = 0
for i = 1, n do
	redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, cutoff)
	if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[n + i]) then
		redis.call('ZADD', KEYS[i], score, ARGV[i])
		redis.call('EXPIRE', KEYS[i], expiry)
	else
		full = full + 1
	end
end
return full
`)

// GroupSend stores msg on every channel of group, skipping full channels
// (counted in Stats().GroupFull and logged at Info). Process channels that
// share a key get one stored message listing them all.
func (l *Layer) GroupSend(ctx context.Context, group string, msg map[string]any) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	body, err := encodeMessage(msg)
	if err != nil {
		return err
	}
	return l.groupSendBody(ctx, group, body)
}

// GroupSendMsgpack is GroupSend for a message already encoded as a
// MessagePack map, stored as it is (see SendMsgpack).
func (l *Layer) GroupSendMsgpack(ctx context.Context, group string, body []byte) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	if err := checkBody(body); err != nil {
		return err
	}
	return l.groupSendBody(ctx, group, body)
}

func (l *Layer) groupSendBody(ctx context.Context, group string, body []byte) error {
	names, err := l.GroupChannels(ctx, group)
	if err != nil || len(names) == 0 {
		return err
	}
	var keys []string
	targets := map[string][]string{}
	caps := map[string]int{}
	for _, ch := range names {
		k := l.channelKey(ch)
		if _, ok := targets[k]; !ok {
			keys = append(keys, k)
			caps[k] = l.Capacity(ch)
		}
		targets[k] = append(targets[k], ch)
	}
	args := make([]any, 0, 2*len(keys)+3)
	for _, k := range keys {
		payload, err := stored(body, targets[k])
		if err != nil {
			return err
		}
		args = append(args, payload)
	}
	for _, k := range keys {
		args = append(args, caps[k])
	}
	score, unix := now()
	args = append(args, score, l.expiry, unix-l.expiry)
	full, err := groupSendScript.Run(ctx, l.rdb, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("redislayer: group send %s: %w", group, err)
	}
	l.sent.Add(uint64(len(keys) - full))
	if full > 0 {
		l.groupFull.Add(uint64(full))
		l.log.Info(fmt.Sprintf("%d of %d channels over capacity in group %s", full, len(names), group))
	}
	return nil
}

// Flush deletes every key under the prefix (all channels and groups of
// every layer using it, Go or Python) and this layer's buffered messages.
// It scans rather than running KEYS inside a script, so a large Redis is
// not blocked meanwhile.
func (l *Layer) Flush(ctx context.Context) error {
	l.mu.Lock()
	clear(l.buffers)
	l.mu.Unlock()
	pattern := globEscape(l.prefix) + "*"
	flush := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 1000 {
				if err := c.Unlink(ctx, batch...).Err(); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			return c.Unlink(ctx, batch...).Err()
		}
		return nil
	}
	var err error
	if cc, ok := l.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return flush(ctx, c) })
	} else {
		err = flush(ctx, l.rdb)
	}
	if err != nil {
		return fmt.Errorf("redislayer: flush: %w", err)
	}
	return nil
}

func globEscape(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
