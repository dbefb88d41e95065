package redislayer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file serves servers that hold channel receivers themselves, as
// `zmqgo channels --redis` does for its DMB clients: they pop messages
// with their raw MessagePack bodies, and route process-channel messages
// to the server that owns the receiver instead of the shared key.

// Unpack splits a stored message (as found in a channel key or a route
// inbox) into the channels it names in "__asgi_channel__" (nil when it
// names none) and its MessagePack body without that key. The body is the
// stored bytes when the key is absent, else the map re-encoded.
func Unpack(stored []byte) (channels []string, body []byte, err error) {
	m, err := decode(stored)
	if err != nil {
		return nil, nil, err
	}
	target, ok := m[channelField]
	if !ok {
		return nil, stored[randomPrefixLen:], nil
	}
	delete(m, channelField)
	body, err = appendMap(nil, m, 0)
	return targetNames(target), body, err
}

func targetNames(target any) []string {
	switch v := target.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, c := range v {
			if s, ok := c.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Pack is the stored form of body for channel: 12 random bytes, then the
// map with "__asgi_channel__": channel added for a process channel.
func Pack(channel string, body []byte) ([]byte, error) {
	if err := checkBody(body); err != nil {
		return nil, err
	}
	var field any
	if strings.Contains(channel, "!") {
		field = channel
	}
	return stored(body, field)
}

// PopMsgpack is Pop returning the message's MessagePack body (without
// "__asgi_channel__") instead of a decoded map.
func (l *Layer) PopMsgpack(ctx context.Context, name string) (channels []string, body []byte, err error) {
	if err := checkChannel(name); err != nil {
		return nil, nil, err
	}
	if strings.Contains(name, "!") && !strings.HasSuffix(name, "!") {
		return nil, nil, fmt.Errorf("%w: %q: pop takes the part up to the !", ErrInvalidName, name)
	}
	for {
		member, err := l.popRaw(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		if member == nil {
			continue
		}
		chs, body, err := Unpack(member)
		if err != nil {
			l.undecodable.Add(1)
			l.log.Warn("redislayer: dropped a message that is not a channels_redis message (encrypted layers are not supported)",
				"channel", name, "err", err)
			continue
		}
		l.received.Add(1)
		if !strings.HasSuffix(name, "!") || len(chs) == 0 {
			// A normal channel's message is for that channel, whatever a
			// group send listed.
			chs = []string{name}
		}
		return chs, body, nil
	}
}

// routeScript: when KEYS[2] (the owner key) names an owner, append the
// message to ARGV[6]..owner (a list capped at ARGV[7] entries, expiring
// with the messages) and return 2; else send as sendScript (1 stored, 0
// full). KEYS[1] channel key; ARGV score, cutoff, capacity, expiry,
// member, inbox prefix, inbox cap.
var routeScript = redis.NewScript(`
local owner = redis.call('GET', KEYS[2])
if owner then
	local inbox = ARGV[6] .. owner
	redis.call('RPUSH', inbox, ARGV[5])
	redis.call('LTRIM', inbox, -tonumber(ARGV[7]), -1)
	redis.call('EXPIRE', inbox, ARGV[4])
	return 2
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
	return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`)

// SendMsgpackRouted is SendMsgpack for a server that owns some process
// channels: when the string at ownerKey holds an owner id, the stored
// message is appended to the list inboxPrefix+owner (at most inboxMax
// entries, oldest dropped) instead of the channel's key, in the same
// atomic step; forwarded reports which happened. The inbox entries are
// stored messages, read back with Unpack.
func (l *Layer) SendMsgpackRouted(ctx context.Context, channel string, body []byte, ownerKey, inboxPrefix string, inboxMax int) (forwarded bool, err error) {
	if err := checkChannel(channel); err != nil {
		return false, err
	}
	payload, err := Pack(channel, body)
	if err != nil {
		return false, err
	}
	score, unix := now()
	r, err := routeScript.Run(ctx, l.rdb, []string{l.channelKey(channel), ownerKey},
		score, unix-l.expiry, l.Capacity(channel), l.expiry, payload, inboxPrefix, inboxMax).Int()
	if err != nil {
		return false, fmt.Errorf("redislayer: send to %s: %w", channel, err)
	}
	switch r {
	case 0:
		l.full.Add(1)
		return false, fmt.Errorf("%w: %s", ErrChannelFull, channel)
	case 2:
		return true, nil
	}
	l.sent.Add(1)
	return false, nil
}

// Expiry returns how long messages wait (whole seconds, as configured).
func (l *Layer) Expiry() int64 { return l.expiry }

// PopAnyMsgpack waits at most block for a message on any of the normal
// channels names (one BZPOPMIN over all their keys, so a server feeding
// many channels holds one connection, not one per channel) and returns
// the channel it came from with its body; "" when none came. Keys earlier
// in names are served first when several hold messages: rotate names
// between calls for fairness. Unlike Receive it does not move back what a
// cancelled channels_redis receiver parked (the next Python receive does).
func (l *Layer) PopAnyMsgpack(ctx context.Context, names []string, block time.Duration) (channel string, body []byte, err error) {
	if err := l.done(ctx); err != nil {
		return "", nil, err
	}
	args := make([]any, 0, len(names)+2)
	args = append(args, "BZPOPMIN")
	for _, n := range names {
		if strings.Contains(n, "!") {
			return "", nil, fmt.Errorf("%w: %q: PopAnyMsgpack takes normal channels", ErrInvalidName, n)
		}
		args = append(args, l.prefix+n)
	}
	args = append(args, strconv.FormatFloat(block.Seconds(), 'f', 3, 64))
	for {
		res, err := l.rdb.Do(ctx, args...).Slice()
		if err == redis.Nil {
			return "", nil, nil
		}
		if err == nil && len(res) != 3 {
			err = fmt.Errorf("BZPOPMIN answered %d items", len(res))
		}
		if err != nil {
			if cerr := l.done(ctx); cerr != nil {
				return "", nil, cerr
			}
			return "", nil, fmt.Errorf("redislayer: receive: %w", err)
		}
		key, _ := res[0].(string)
		member, _ := res[1].(string)
		_, body, err := Unpack([]byte(member))
		if err != nil {
			l.undecodable.Add(1)
			l.log.Warn("redislayer: dropped a message that is not a channels_redis message (encrypted layers are not supported)",
				"key", key, "err", err)
			continue
		}
		l.received.Add(1)
		return strings.TrimPrefix(key, l.prefix), body, nil
	}
}
