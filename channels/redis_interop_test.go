package channels

// Interop in Redis mode: Django's channels_redis (Debian's 4.0, driven by
// redislayer/testdata/peer.py) and DMB-protocol clients (testdata/
// dmb_peer.py, pyzmq) on zmqgo nodes sharing one Redis.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
)

type crPeer struct {
	t      *testing.T
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *lockedBuf
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *lockedBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

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
	cmd := exec.Command(python, "redislayer/testdata/peer.py", string(arg))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &crPeer{t: t, in: in, out: bufio.NewScanner(out), stderr: &lockedBuf{}}
	p.out.Buffer(nil, 16<<20)
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close() // peer.py exits at EOF
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return p
}

func (p *crPeer) call(req map[string]any) (json.RawMessage, string) {
	p.t.Helper()
	b, _ := json.Marshal(req)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("channels_redis peer: write: %v; stderr: %s", err, p.stderr)
	}
	if !p.out.Scan() {
		p.t.Fatalf("channels_redis peer gone: %v; stderr: %s", p.out.Err(), p.stderr)
	}
	var rep struct {
		OK    json.RawMessage `json:"ok"`
		Error string          `json:"error"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &rep); err != nil {
		p.t.Fatalf("channels_redis peer reply %q: %v", p.out.Bytes(), err)
	}
	return rep.OK, rep.Error
}

func (p *crPeer) must(req map[string]any) json.RawMessage {
	p.t.Helper()
	ok, e := p.call(req)
	if e != "" {
		p.t.Fatalf("channels_redis %v: %s; stderr: %s", req["op"], e, p.stderr)
	}
	return ok
}

func (p *crPeer) str(req map[string]any) string {
	p.t.Helper()
	var s string
	if err := json.Unmarshal(p.must(req), &s); err != nil {
		p.t.Fatal(err)
	}
	return s
}

// receive returns what channels_redis received on channel, decoded.
func (p *crPeer) receive(channel string) Message {
	p.t.Helper()
	ok := p.must(map[string]any{"op": "receive", "channel": channel, "timeout": 10})
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

	py.must(map[string]any{"op": "send", "channel": "cr.chan", "msg": map[string]any{"type": "from.django", "n": 1}})
	if out := <-dmbRecv(ctx, s.Addr(), "cr.chan"); out != `{"n": 1, "type": "from.django"}` {
		t.Fatal(out)
	}

	py.must(map[string]any{"op": "group_add", "group": "cr.group", "channel": "cr.member"})
	got := dmbRecv(ctx, s.Addr(), "cr.member")
	waitSubscribers(t, s, "cr.member", 1, 20*time.Second)
	py.must(map[string]any{"op": "group_send", "group": "cr.group", "msg": map[string]any{"type": "to.group"}})
	if out := <-got; out != `{"type": "to.group"}` {
		t.Fatal(out)
	}

	for _, pc := range []string{"specific.zmq_id_00!aaa", "specific.zmq_id_00!bbb"} {
		got := dmbRecv(ctx, s.Addr(), pc)
		waitSubscribers(t, s, pc, 1, 20*time.Second)
		py.must(map[string]any{"op": "group_add", "group": "cr.procs", "channel": pc})
		py.must(map[string]any{"op": "send", "channel": pc, "msg": map[string]any{"type": "to.process", "for": pc}})
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

	pc := py.str(map[string]any{"op": "new_channel"})
	py.must(map[string]any{"op": "group_add", "group": "dj.group", "channel": pc})
	py.must(map[string]any{"op": "group_add", "group": "dj.group", "channel": "dj.member"})
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
