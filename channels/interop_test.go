package channels

// Interop with testdata/dmb_peer.py: a peer speaking DMB 0.2.1's protocol
// as DMB's client does, with Debian's pyzmq (libzmq 4.3) and msgpack.

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
)

// python is Debian's interpreter: Debian's Python packages load only there.
const python = ztest.Python

// needPython skips without the peer, or fails on CI, where scripts/test.sh
// installed it.
func needPython(t testing.TB) {
	t.Helper()
	ztest.NeedPython(t, "python3-zmq python3-msgpack", "zmq", "msgpack")
}

func runPeer(t testing.TB, ctx context.Context, args ...string) string {
	t.Helper()
	out, err := peerOutput(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func peerOutput(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, python, append([]string{"testdata/dmb_peer.py"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("dmb_peer.py %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}

// Every command of both ports, as DMB's client frames them.
func TestInteropPythonPeerSuite(t *testing.T) {
	needPython(t)
	s := startServer(t, Config{})
	if out := runPeer(t, ctxT(t, 60*time.Second), "suite", s.Addr()); out != "ok" {
		t.Fatal(out)
	}
	if st := s.Stats(); st.Errors == 0 || st.BadFrames == 0 {
		t.Fatalf("the suite's bad requests were not counted: %+v", st)
	}
}

// The Go client and a Python DMB peer share channels and groups.
func TestInteropGoLayerWithPythonPeer(t *testing.T) {
	needPython(t)
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 60*time.Second)
	if err := l.Send(ctx, "to.python", Message{"type": "go.says", "n": 7, "raw": []byte{1, 2}, "f": 0.5}); err != nil {
		t.Fatal(err)
	}
	if out := runPeer(t, ctx, "recv", s.Addr(), "to.python"); out != `{"f": 0.5, "n": 7, "raw": "0102", "type": "go.says"}` {
		t.Fatal(out)
	}
	runPeer(t, ctx, "send", s.Addr(), "to.go", `{"type": "py.says", "list": [1, "a"]}`)
	m, err := l.Receive(ctx, "to.go")
	if err != nil || m["type"] != "py.says" || fmt.Sprint(m["list"]) != "[1 a]" {
		t.Fatal(m, err)
	}
	if err := l.GroupAdd(ctx, "mixed", "go.member"); err != nil {
		t.Fatal(err)
	}
	runPeer(t, ctx, "gsend", s.Addr(), "mixed", `{"type": "to.group"}`)
	if m, err := l.Receive(ctx, "go.member"); err != nil || m["type"] != "to.group" {
		t.Fatal(m, err)
	}
}

// libzmq answers the server's ZMTP heartbeats by itself, so a DMB client
// that is alive but quiet keeps its subscription however short the
// heartbeat.
func TestInteropHeartbeatKeepsLibzmqPeer(t *testing.T) {
	needPython(t)
	const hb = 20 * time.Millisecond
	s := startServer(t, Config{Heartbeat: hb})
	l := dial(t, s)
	ctx := ctxT(t, 30*time.Second)
	done := make(chan string, 1)
	go func() {
		out, err := peerOutput(ctx, "recv", s.Addr(), "quiet.peer")
		if err != nil {
			out = err.Error()
		}
		done <- out
	}()
	waitSubscribers(t, s, "quiet.peer", 1, 10*time.Second)
	time.Sleep(25 * hb) // what is tested: time passing, heartbeats going
	if n, st := s.ChannelInfo("quiet.peer").Subscribers, s.Stats(); n != 1 || st.GonePeers != 0 {
		t.Fatalf("live libzmq peer dropped: %d subscribers, %+v", n, st)
	}
	if err := l.Send(ctx, "quiet.peer", Message{"type": "still.there"}); err != nil {
		t.Fatal(err)
	}
	if out := <-done; out != `{"type": "still.there"}` {
		t.Fatal(out)
	}
}
