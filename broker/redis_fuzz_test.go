package broker

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FuzzClusterEntries feeds a node what other nodes (or anything with
// access to Redis) may write in its inbox and in the broadcast stream.
// Each line of the input is one entry: its first byte says the stream (i:
// inbox, b: broadcast), then tab-separated field=value pairs. Nothing may
// panic, requests must still be answered once, and the node's memory must
// stay bounded.
func FuzzClusterEntries(f *testing.F) {
	for _, seed := range []string{
		"ik=dm\tid=7\tr=other\tf=bob\tt=alice\tc=\"hi\"\tts=1700000000.5",
		"ik=dm\tid=7\tr=other\tf=bob\tt=nobody\tc={\"a\":1}\tts=x",
		"ik=dm\tid=x\tr=\tf=\tt=alice\tc=not json",
		"ik=ack\tid=1\ts=delivered\nik=ack\tid=1\ts=delivered",
		"ik=ack\tid=1\ts=weird",
		"ik=acks\tids=1,x,,2\ts=dd",
		"ik=acks\tids=1\ts=",
		"ik=back\tid=2\tn=5\nik=back\tid=2\tn=-3\nik=back\tid=2\tn=x",
		"bo=other\tid=3\tf=bob\tc=\"news\"\tts=1",
		"bo=me\tid=3\tf=bob\tc=\"mine\"",
		"bo=other\tid=3\tf=bob\tc=[1,",
		"ik=\nb\nik=ack",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cfg, _ := Config{Name: "fuzz", QueueSize: 16, Rate: -1, Logger: slog.New(slog.DiscardHandler),
			Redis: &RedisConfig{URL: "redis://127.0.0.1:1/0"}}.withDefaults()
		sink := newFakeSink(0)
		s := newState(&cfg, sink, 0)
		c := &cluster{st: s, cfg: *cfg.Redis, id: "me", log: cfg.Logger, ops: make(chan rop, 64),
			claims: map[string]*peer{}, replies: map[*peer][]*slot{}, pending: map[uint64]*pendingOp{}}
		c.ctx, c.cancel = context.WithCancel(context.Background())
		defer c.cancel()
		c.up.Store(true)
		s.cluster = c
		// alice registered (as if Redis had answered), then one direct
		// message and one broadcast waiting for other nodes.
		s.handlePeer([]byte("VA"), "", [][]byte{[]byte(`{"type":"register","name":"alice"}`)})
		rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		defer rc.Close()
		pipe := rc.Pipeline()
		for _, o := range drainOps(c) {
			o.add(pipe) // never run: the SET NX answers false, "taken"
			if o.done != nil {
				o.done()
			}
		}
		s.names[nameKey("alice")] = s.peers["VA"]
		s.peers["VA"].kind, s.peers["VA"].name = kindClient, "alice"
		s.handlePeer([]byte("VA"), "", [][]byte{[]byte(`{"type":"direct_message","target":"bob","content":"x"}`)})
		s.handlePeer([]byte("VA"), "", [][]byte{[]byte(`{"type":"broadcast","content":"y"}`)})
		s.handlePeer([]byte("VA"), "", [][]byte{[]byte(`{"type":"ping"}`)})
		sink.take("VA")
		var in1, bc []redis.XMessage
		for line := range strings.SplitSeq(in, "\n") {
			if line == "" {
				continue
			}
			m := redis.XMessage{ID: "1-1", Values: map[string]any{}}
			for kv := range strings.SplitSeq(line[1:], "\t") {
				k, v, _ := strings.Cut(kv, "=")
				m.Values[k] = v
			}
			if line[0] == 'b' {
				bc = append(bc, m)
			} else {
				in1 = append(in1, m)
			}
		}
		c.handleEntries(in1, bc)
		drainOps(c)
		if len(c.replies[s.peers["VA"]]) > cfg.QueueSize {
			t.Fatalf("%d replies held", len(c.replies[s.peers["VA"]]))
		}
		// Every request is answered once its time is up, in order.
		for _, op := range c.pending {
			op.deadline = time.Time{}
		}
		c.expire()
		if len(c.pending) != 0 || len(c.replies[s.peers["VA"]]) != 0 {
			t.Fatalf("pending %d, held %d", len(c.pending), len(c.replies[s.peers["VA"]]))
		}
		var types []string
		for _, b := range sink.take("VA") {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("invalid JSON to alice: %q", b)
			}
			if typ, _ := m["type"].(string); typ == TypeDeliveryConfirmation || typ == TypeBroadcastConfirmation || typ == TypePong {
				types = append(types, typ)
			}
		}
		if strings.Join(types, ",") != "delivery_confirmation,broadcast_confirmation,pong" {
			t.Fatalf("replies to alice: %v", types)
		}
	})
}

func drainOps(c *cluster) []rop {
	var out []rop
	for {
		select {
		case o := <-c.ops:
			out = append(out, o)
		default:
			return out
		}
	}
}
