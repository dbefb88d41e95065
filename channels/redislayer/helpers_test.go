package redislayer

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq/internal/ztest"
)

// newRedis starts a private redis-server and a client on it.
func newRedis(t *testing.T) (*ztest.Redis, *redis.Client) {
	t.Helper()
	srv := ztest.StartRedis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return srv, rdb
}

func newLayer(t *testing.T, rdb redis.UniversalClient, cfg Config) *Layer {
	t.Helper()
	l, err := New(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// pyPeer is channels_redis's RedisChannelLayer in a python3 child, driven
// by testdata/peer.py.
type pyPeer struct {
	*ztest.JSONPeer
	t *testing.T
}

const python = ztest.Python

// needPython skips without Debian's channels_redis, or fails on CI, where
// scripts/test.sh installs it.
func needPython(t *testing.T) {
	t.Helper()
	ztest.NeedPython(t, "python3-channels-redis python3-msgpack", "channels_redis.core", "msgpack")
}

// startPy starts a Python layer on url with RedisChannelLayer keyword
// arguments kw (hosts is filled in).
func startPy(t *testing.T, url string, kw map[string]any) *pyPeer {
	t.Helper()
	needPython(t)
	if kw == nil {
		kw = map[string]any{}
	}
	kw["hosts"] = []string{url}
	arg, _ := json.Marshal(kw)
	return &pyPeer{JSONPeer: ztest.StartJSONPeer(t, "python peer", exec.Command(python, "testdata/peer.py", string(arg))), t: t}
}

// pyMsg is what Python received: the message re-packed by Python's msgpack
// and decoded by ours, and the Python type name of each top-level value.
type pyMsg struct {
	Msg   map[string]any
	Types map[string]string
}

func (p *pyPeer) receive(channel string, timeout time.Duration) (pyMsg, string) {
	p.t.Helper()
	ok, e := p.Call(map[string]any{"op": "receive", "channel": channel, "timeout": timeout.Seconds()})
	if e != "" {
		return pyMsg{}, e
	}
	var d struct {
		Packed string            `json:"packed"`
		Types  map[string]string `json:"types"`
	}
	if err := json.Unmarshal(ok, &d); err != nil {
		p.t.Fatal(err)
	}
	b, err := hex.DecodeString(d.Packed)
	if err != nil {
		p.t.Fatal(err)
	}
	m, err := decodeMessage(b)
	if err != nil {
		p.t.Fatalf("python's repacked message: %v", err)
	}
	return pyMsg{Msg: m, Types: d.Types}, ""
}

func (p *pyPeer) mustReceive(channel string) pyMsg {
	p.t.Helper()
	m, e := p.receive(channel, 10*time.Second)
	if e != "" {
		p.t.Fatalf("python receive %s: %s; stderr: %s", channel, e, p.Stderr)
	}
	return m
}

// jsonMsg turns a message into peer.py's JSON form ([]byte as {"$bytes"}).
func jsonMsg(v any) any {
	switch v := v.(type) {
	case []byte:
		return map[string]any{"$bytes": hex.EncodeToString(v)}
	case map[string]any:
		o := map[string]any{}
		for k, x := range v {
			o[k] = jsonMsg(x)
		}
		return o
	case []any:
		o := make([]any, len(v))
		for i, x := range v {
			o[i] = jsonMsg(x)
		}
		return o
	}
	return v
}

func mustReceive(t *testing.T, l *Layer, channel string) map[string]any {
	t.Helper()
	m, err := l.Receive(ctxT(t, 10*time.Second), channel)
	if err != nil {
		t.Fatalf("receive %s: %v", channel, err)
	}
	return m
}

// expectNothing checks that channel stays empty for d.
func expectNothing(t *testing.T, l *Layer, channel string, d time.Duration) {
	t.Helper()
	if m, err := l.Receive(ctxT(t, d), channel); err != context.DeadlineExceeded {
		t.Fatalf("receive %s: got %v, %v; want nothing", channel, m, err)
	}
}

func typ(m map[string]any) string { return fmt.Sprint(m["type"]) }

func redisZ(score float64, member any) redis.Z { return redis.Z{Score: score, Member: member} }
