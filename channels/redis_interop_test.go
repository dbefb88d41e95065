package channels

// Interop in Redis mode: Django's channels_redis (Debian's 4.0, driven by
// redislayer/testdata/peer.py) and DMB-protocol clients (testdata/
// dmb_peer.py, pyzmq) on zmqgo nodes sharing one Redis.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
)

type crPeer struct {
	*ztest.JSONPeer
	t *testing.T
}

// lockedBuf collects a node's log lines.
type lockedBuf = ztest.SyncBuffer

// startChannelsRedis starts a channels_redis RedisChannelLayer on srv.
func startChannelsRedis(t *testing.T, srv *ztest.Redis, kw map[string]any) *crPeer {
	t.Helper()
	needPython(t)
	if out, err := exec.Command(python, "-c", "import channels_redis.core").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("channels_redis missing on CI: %v: %s", err, out)
		}
		t.Skipf("skipping channels_redis interop: %v: %s", err, out)
	}
	if kw == nil {
		kw = map[string]any{}
	}
	kw["hosts"] = []string{srv.URL()}
	arg, _ := json.Marshal(kw)
	return &crPeer{JSONPeer: ztest.StartJSONPeer(t, "channels_redis peer", exec.Command(python, "redislayer/testdata/peer.py", string(arg))), t: t}
}

// receive returns what channels_redis received on channel, decoded.
func (p *crPeer) receive(channel string) Message {
	p.t.Helper()
	ok := p.Must(map[string]any{"op": "receive", "channel": channel, "timeout": 10})
	var d struct{ Packed string }
	if err := json.Unmarshal(ok, &d); err != nil {
		p.t.Fatal(err)
	}
	b, err := hex.DecodeString(d.Packed)
	if err != nil {
		p.t.Fatal(err)
	}
	m, err := DecodeMessage(b)
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

// dmbRecv runs dmb_peer.py recv in the background; the result is its
// output (the body as JSON) or the error.
func dmbRecv(ctx context.Context, addr, channel string) <-chan string {
	done := make(chan string, 1)
	go func() {
		out, err := peerOutput(ctx, "recv", addr, channel)
		if err != nil {
			out = err.Error()
		}
		done <- out
	}()
	return done
}

// channels_redis sends, DMB-protocol clients on a zmqgo node receive:
// a channel, a group, and process channels named as every DMB client
// names them (all in one key, asgispecific.zmq_id_00!).
func TestRedisInteropChannelsRedisToDMB(t *testing.T) {
	needPython(t)
	srv := newRedis(t)
	py := startChannelsRedis(t, srv, nil)
	s := startRedisNode(t, srv, Config{})
	ctx := ctxT(t, 60*time.Second)

	py.Must(map[string]any{"op": "send", "channel": "cr.chan", "msg": map[string]any{"type": "from.django", "n": 1}})
	if out := <-dmbRecv(ctx, s.Addr(), "cr.chan"); out != `{"n": 1, "type": "from.django"}` {
		t.Fatal(out)
	}

	py.Must(map[string]any{"op": "group_add", "group": "cr.group", "channel": "cr.member"})
	got := dmbRecv(ctx, s.Addr(), "cr.member")
	waitSubscribers(t, s, "cr.member", 1, 20*time.Second)
	py.Must(map[string]any{"op": "group_send", "group": "cr.group", "msg": map[string]any{"type": "to.group"}})
	if out := <-got; out != `{"type": "to.group"}` {
		t.Fatal(out)
	}

	for _, pc := range []string{"specific.zmq_id_00!aaa", "specific.zmq_id_00!bbb"} {
		got := dmbRecv(ctx, s.Addr(), pc)
		waitSubscribers(t, s, pc, 1, 20*time.Second)
		py.Must(map[string]any{"op": "group_add", "group": "cr.procs", "channel": pc})
		py.Must(map[string]any{"op": "send", "channel": pc, "msg": map[string]any{"type": "to.process", "for": pc}})
		if out := <-got; out != `{"for": "`+pc+`", "type": "to.process"}` {
			t.Fatal(out)
		}
	}
}

// DMB-protocol clients on a zmqgo node send, channels_redis receives:
// a channel, a group, and a channels_redis process channel.
func TestRedisInteropDMBToChannelsRedis(t *testing.T) {
	needPython(t)
	srv := newRedis(t)
	py := startChannelsRedis(t, srv, nil)
	s := startRedisNode(t, srv, Config{})
	ctx := ctxT(t, 60*time.Second)

	runPeer(t, ctx, "send", s.Addr(), "to.django", `{"type": "from.dmb", "list": [1, "a"]}`)
	if m := py.receive("to.django"); m["type"] != "from.dmb" {
		t.Fatal(m)
	}

	pc := py.Str(map[string]any{"op": "new_channel"})
	py.Must(map[string]any{"op": "group_add", "group": "dj.group", "channel": pc})
	py.Must(map[string]any{"op": "group_add", "group": "dj.group", "channel": "dj.member"})
	runPeer(t, ctx, "gsend", s.Addr(), "dj.group", `{"type": "to.group"}`)
	for _, ch := range []string{pc, "dj.member"} {
		if m := py.receive(ch); m["type"] != "to.group" {
			t.Fatal(ch, m)
		}
	}
	runPeer(t, ctx, "send", s.Addr(), pc, `{"type": "to.process"}`)
	if m := py.receive(pc); m["type"] != "to.process" {
		t.Fatal(m)
	}
	// Empty DMB body "{}" arrives as an empty dict.
	runPeer(t, ctx, "send", s.Addr(), "to.django", `{}`)
	if m := py.receive("to.django"); len(m) != 0 {
		t.Fatal(m)
	}
}
