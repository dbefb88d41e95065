package reactor

// Interop with txZMQ 0.8 (Debian's python3-txzmq) under the Twisted reactor:
// every pattern, the Go side in each role, each side binding in turn. The
// txZMQ side is testdata/txzmq_peer.py, driven over stdin/stdout.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// python is Debian's interpreter: Debian's Python packages load only there.
const python = "/usr/bin/python3"

var txzmqCheck = sync.OnceValue(func() error {
	out, err := exec.Command(python, "-c", "import txzmq, twisted, zmq; print(zmq.zmq_version())").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import txzmq (install python3-txzmq): %v: %s", python, err, bytes.TrimSpace(out))
	}
	return nil
})

var skipNote sync.Once

// needTxZMQ skips the test without txZMQ, or fails it on CI, where the peer
// must be there (scripts/test.sh installs it).
func needTxZMQ(t *testing.T) {
	t.Helper()
	if err := txzmqCheck(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("txZMQ interop peer missing on CI: %v", err)
		}
		skipNote.Do(func() { fmt.Fprintf(os.Stderr, "reactor: skipping the txZMQ interop tests: %v\n", err) })
		t.Skipf("skipping txZMQ interop: %v", err)
	}
}

// pyEvent is one line from the peer. []byte fields carry base64, as the
// peer writes them.
type pyEvent struct {
	Event     string   `json:"event"`
	Endpoints []string `json:"endpoints"`
	Tag       []byte   `json:"tag"`
	Message   []byte   `json:"message"`
	Parts     [][]byte `json:"parts"`
	ID        []byte   `json:"id"`
	Sender    []byte   `json:"sender"`
	Ref       string   `json:"ref"`
	Error     string   `json:"error"`
	Seq       int      `json:"seq"`
}

type pyPeer struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan pyEvent
	stderr syncBuffer
	read   chan struct{}
	seq    int
	addr   string // the peer's first endpoint, wildcard port resolved
}

// startPeer runs txzmq_peer.py KIND args... and waits for it to be ready.
func startPeer(t *testing.T, kind string, args ...string) *pyPeer {
	t.Helper()
	needTxZMQ(t)
	p := &pyPeer{t: t, events: make(chan pyEvent, 10000), read: make(chan struct{})}
	p.cmd = exec.Command(python, append([]string{"testdata/txzmq_peer.py", kind}, args...)...)
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.read)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<26)
		for sc.Scan() {
			var e pyEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = pyEvent{Event: "error", Error: "unparsable line from peer: " + sc.Text()}
			}
			p.events <- e
		}
	}()
	t.Cleanup(p.stop)
	ready := p.expect("ready")
	if len(ready.Endpoints) > 0 {
		p.addr = ready.Endpoints[0]
	}
	return p
}

func (p *pyPeer) stop() {
	p.command(map[string]any{"op": "quit"})
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Errorf("txZMQ peer exited: %v; stderr: %s", err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
		p.t.Errorf("txZMQ peer did not quit; stderr: %s", p.stderr.String())
	}
	<-p.read
}

// command sends one command line.
func (p *pyPeer) command(cmd map[string]any) {
	b, err := json.Marshal(cmd)
	if err != nil {
		p.t.Fatal(err)
	}
	p.stdin.Write(append(b, '\n'))
}

// do sends a command and waits for the peer to have carried it out.
func (p *pyPeer) do(cmd map[string]any) {
	p.t.Helper()
	p.seq++
	cmd["seq"] = p.seq
	p.command(cmd)
	for {
		if e := p.expect("ack"); e.Seq == p.seq {
			return
		}
	}
}

// expect returns the next event of that kind, skipping acks (unless acks
// are what it waits for) and failing on errors.
func (p *pyPeer) expect(kind string) pyEvent {
	p.t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case e := <-p.events:
			switch {
			case e.Event == kind:
				return e
			case e.Event == "error":
				p.t.Fatalf("txZMQ peer: %s; stderr: %s", e.Error, p.stderr.String())
			case e.Event == "ack":
			default:
				p.t.Fatalf("txZMQ peer: got %q event while waiting for %q", e.Event, kind)
			}
		case <-p.read:
			p.t.Fatalf("txZMQ peer ended while waiting for %q; stderr: %s", kind, p.stderr.String())
		case <-deadline:
			p.t.Fatalf("timed out waiting for %q from the txZMQ peer; stderr: %s", kind, p.stderr.String())
		}
	}
}

// directions runs fn with the Go side binding and with txZMQ binding.
func directions(t *testing.T, fn func(t *testing.T, goBinds bool)) {
	for _, goBinds := range []bool{true, false} {
		name := "txzmq-binds"
		if goBinds {
			name = "go-binds"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, goBinds)
		})
	}
}

const wildcard = "tcp://127.0.0.1:0"

// pair starts the Go connection (made by mk with an endpoint) and the
// txZMQ peer, whichever binds first.
func pair[C interface{ Addr() string }](t *testing.T, goBinds bool, kind string, peerArgs []string, mk func(e Endpoint) C) (C, *pyPeer) {
	t.Helper()
	if goBinds {
		c := mk(Bind(wildcard))
		return c, startPeer(t, kind, append([]string{"--connect", c.Addr()}, peerArgs...)...)
	}
	p := startPeer(t, kind, append([]string{"--bind", "tcp://127.0.0.1:*"}, peerArgs...)...)
	return mk(Connect(p.addr)), p
}

func TestInteropGoPubTxSub(t *testing.T) {
	directions(t, func(t *testing.T, goBinds bool) {
		f := newTestFactory(t)
		pub, peer := pair(t, goBinds, "sub", []string{"--subscribe", "tag"}, func(e Endpoint) *PubConnection {
			return must[*PubConnection](t)(NewPubConnection(f, e))
		})
		// Publish probes until the subscription has arrived.
		for got := false; !got; {
			pub.Publish([]byte("probe"), []byte("tag-probe"))
			select {
			case e := <-peer.events:
				if e.Event != "message" || string(e.Tag) != "tag-probe" {
					t.Fatalf("before the probe: %+v", e)
				}
				got = true
			case <-time.After(20 * time.Millisecond):
			}
		}
		pub.Publish([]byte("xyz"), []byte("different-tag"))
		pub.Publish([]byte("abcd"), []byte("tag1"))
		pub.Publish([]byte("ef\x00gh"), []byte("tag2")) // txZMQ splits at the first NUL
		var got []string
		for len(got) < 2 {
			e := peer.expect("message")
			if string(e.Message) != "probe" {
				got = append(got, string(e.Tag)+"="+string(e.Message))
			}
		}
		if got[0] != "tag1=abcd" || got[1] != "tag2=ef\x00gh" {
			t.Fatalf("txZMQ SUB got %q", got)
		}
	})
}

func TestInteropTxPubGoSub(t *testing.T) {
	directions(t, func(t *testing.T, goBinds bool) {
		f := newTestFactory(t)
		got := make(chan tagged, 1000)
		sub, peer := pair(t, goBinds, "pub", nil, func(e Endpoint) *SubConnection {
			s := must[*SubConnection](t)(NewSubConnection(f, func(message, tag []byte) { got <- tagged{string(tag), string(message)} }, e))
			s.Subscribe([]byte("tag"))
			return s
		})
		_ = sub
		for ok := false; !ok; {
			peer.do(map[string]any{"op": "publish", "message": []byte("probe"), "tag": []byte("tag-probe")})
			select {
			case m := <-got:
				if m.tag != "tag-probe" {
					t.Fatalf("before the probe: %+v", m)
				}
				ok = true
			case <-time.After(20 * time.Millisecond):
			}
		}
		peer.do(map[string]any{"op": "publish", "message": []byte("xyz"), "tag": []byte("different-tag")})
		peer.do(map[string]any{"op": "publish", "message": []byte("ab\x00cd"), "tag": []byte("tag1")})
		// The two-frame form other publishers use.
		peer.do(map[string]any{"op": "send", "parts": [][]byte{[]byte("tag2"), []byte("two frames")}})
		m1, m2 := nextNonProbe(t, got), nextNonProbe(t, got)
		if m1 != (tagged{"tag1", "ab\x00cd"}) || m2 != (tagged{"tag2", "two frames"}) {
			t.Fatalf("Go SUB got %+v %+v", m1, m2)
		}
	})
}

func TestInteropGoPushTxPull(t *testing.T) {
	directions(t, func(t *testing.T, goBinds bool) {
		f := newTestFactory(t)
		push, peer := pair(t, goBinds, "pull", nil, func(e Endpoint) *PushConnection {
			return must[*PushConnection](t)(NewPushConnection(f, e, WithSendTimeout(testTimeout)))
		})
		big := bytes.Repeat([]byte{0, 1, 2, 255}, 2500)
		if err := push.Push([]byte("a"), []byte{}, big); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if err := push.Push([]byte(strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		e := peer.expect("pull")
		if len(e.Parts) != 3 || string(e.Parts[0]) != "a" || len(e.Parts[1]) != 0 || !bytes.Equal(e.Parts[2], big) {
			t.Fatalf("txZMQ PULL got %d frames", len(e.Parts))
		}
		for i := range 100 {
			if e := peer.expect("pull"); len(e.Parts) != 1 || string(e.Parts[0]) != strconv.Itoa(i) {
				t.Fatalf("message %d: %q", i, e.Parts)
			}
		}
	})
}

func TestInteropTxPushGoPull(t *testing.T) {
	directions(t, func(t *testing.T, goBinds bool) {
		f := newTestFactory(t)
		got := make(chan [][]byte, 100)
		_, peer := pair(t, goBinds, "push", nil, func(e Endpoint) *PullConnection {
			return must[*PullConnection](t)(NewPullConnection(f, func(parts [][]byte) { got <- parts }, e))
		})
		big := bytes.Repeat([]byte("1"), 10000)
		peer.do(map[string]any{"op": "push", "parts": [][]byte{bytes.Repeat([]byte("0"), 10000), big}})
		for i := range 10 {
			peer.do(map[string]any{"op": "push", "parts": [][]byte{[]byte(strconv.Itoa(i))}})
		}
		m := recv(t, got, "multipart")
		if len(m) != 2 || len(m[0]) != 10000 || !bytes.Equal(m[1], big) {
			t.Fatalf("Go PULL got %d frames", len(m))
		}
		for i := range 10 {
			if m := recv(t, got, "message"); string(m[0]) != strconv.Itoa(i) {
				t.Fatalf("message %d: %q", i, m)
			}
		}
	})
}

func TestInteropGoReqTxRep(t *testing.T) {
	directions(t, func(t *testing.T, goBinds bool) {
		f := newTestFactory(t)
		req, peer := pair(t, goBinds, "rep", nil, func(e Endpoint) *ReqConnection {
			return must[*ReqConnection](t)(NewReqConnection(f, e, WithIdentity([]byte("go-client")), WithSendTimeout(testTimeout)))
		})
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		futures := map[string]*Future{}
		for i := range 10 {
			fu := req.SendMsg(ctx, []byte("aaa"), []byte(strconv.Itoa(i)))
			futures[string(fu.ID())] = fu
		}
		// txZMQ's REP sees our ids and parts; it answers in reverse order.
		var ids [][]byte
		for range 10 {
			e := peer.expect("request")
			if futures[string(e.ID)] == nil || len(e.Parts) != 2 || string(e.Parts[0]) != "aaa" {
				t.Fatalf("txZMQ REP got id %x parts %q", e.ID, e.Parts)
			}
			ids = append(ids, e.ID)
		}
		for i := len(ids) - 1; i >= 0; i-- {
			peer.command(map[string]any{"op": "reply", "id": ids[i], "parts": [][]byte{[]byte("re"), ids[i]}})
		}
		for id, fu := range futures {
			reply, err := fu.Wait(ctx)
			if err != nil || len(reply) != 2 || string(reply[0]) != "re" || string(reply[1]) != id {
				t.Fatalf("reply %q, %v", reply, err)
			}
		}
		// A timed-out request's late reply is dropped.
		short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancelShort()
		fu := req.SendMsg(short, []byte("slow"))
		e := peer.expect("request")
		if _, err := fu.Wait(ctx); !errors.Is(err, ErrRequestTimeout) {
			t.Fatalf("got %v, want ErrRequestTimeout", err)
		}
		peer.command(map[string]any{"op": "reply", "id": e.ID, "parts": [][]byte{[]byte("late")}})
		// The next request's reply comes after the late one on the same link.
		next := req.SendMsg(ctx, []byte("next"))
		e = peer.expect("request")
		peer.command(map[string]any{"op": "reply", "id": e.ID, "parts": [][]byte{[]byte("on time")}})
		if reply, err := next.Wait(ctx); err != nil || string(reply[0]) != "on time" {
			t.Fatalf("after a late reply: %q, %v", reply, err)
		}
		if req.Pending() != 0 {
			t.Fatal("requests left pending")
		}
	})
}

func TestInteropTxReqGoRep(t *testing.T) {
	directions(t, func(t *testing.T, goBinds bool) {
		f := newTestFactory(t)
		seenIDs := make(chan []byte, 100)
		var rep *RepConnection
		_, peer := pair(t, goBinds, "req", nil, func(e Endpoint) *RepConnection {
			r := must[*RepConnection](t)(NewRepConnection(f, func(id []byte, parts [][]byte) {
				seenIDs <- id
				if string(parts[0]) == "slow" {
					return // never answered: the txZMQ side times out
				}
				reply := [][]byte{[]byte("re")}
				if err := rep.Reply(id, append(reply, parts...)...); err != nil {
					t.Error(err)
				}
			}))
			rep = r
			if err := r.AddEndpoints(e); err != nil {
				t.Fatal(err)
			}
			return r
		})
		for i := range 10 {
			peer.command(map[string]any{"op": "request", "ref": strconv.Itoa(i), "parts": [][]byte{[]byte("q"), []byte(strconv.Itoa(i))}})
		}
		refs := map[string]bool{}
		for range 10 {
			e := peer.expect("reply")
			if len(e.Parts) != 3 || string(e.Parts[0]) != "re" || string(e.Parts[1]) != "q" || string(e.Parts[2]) != e.Ref {
				t.Fatalf("txZMQ REQ got reply %q to %s", e.Parts, e.Ref)
			}
			refs[e.Ref] = true
		}
		if len(refs) != 10 {
			t.Fatalf("replies to %d distinct requests", len(refs))
		}
		for range 10 {
			if id := recv(t, seenIDs, "id"); len(id) != 16 {
				t.Fatalf("txZMQ request id %x is not 16 bytes", id)
			}
		}
		peer.command(map[string]any{"op": "request", "ref": "slow", "parts": [][]byte{[]byte("slow")}, "timeout": 0.05})
		if e := peer.expect("request_error"); e.Ref != "slow" {
			t.Fatalf("request_error for %q", e.Ref)
		}
	})
}

func TestInteropGoRouterTxDealer(t *testing.T) {
	directions(t, func(t *testing.T, goBinds bool) {
		f := newTestFactory(t)
		got := make(chan string, 10)
		var router *RouterConnection
		_, peer := pair(t, goBinds, "dealer", []string{"--identity", "py-dealer"}, func(e Endpoint) *RouterConnection {
			r := must[*RouterConnection](t)(NewRouterConnection(f, func(sender []byte, parts [][]byte) {
				got <- string(sender) + ":" + string(bytes.Join(parts, []byte(",")))
				if err := router.SendMultipart(sender, append([][]byte{[]byte("re")}, parts...)); err != nil {
					t.Error(err)
				}
			}))
			router = r
			if err := r.AddEndpoints(e); err != nil {
				t.Fatal(err)
			}
			return r
		})
		peer.command(map[string]any{"op": "send_multipart", "parts": [][]byte{[]byte("hello"), []byte("world")}})
		peer.command(map[string]any{"op": "send_msg", "message": []byte("single")})
		if g := recv(t, got, "message"); g != "py-dealer:hello,world" {
			t.Fatalf("Go ROUTER got %q", g)
		}
		if g := recv(t, got, "message"); g != "py-dealer:single" {
			t.Fatalf("Go ROUTER got %q", g)
		}
		if e := peer.expect("dealer"); len(e.Parts) != 3 || string(e.Parts[0]) != "re" || string(e.Parts[2]) != "world" {
			t.Fatalf("txZMQ DEALER got %q", e.Parts)
		}
		if e := peer.expect("dealer"); len(e.Parts) != 2 || string(e.Parts[1]) != "single" {
			t.Fatalf("txZMQ DEALER got %q", e.Parts)
		}
	})
}

func TestInteropTxRouterGoDealer(t *testing.T) {
	directions(t, func(t *testing.T, goBinds bool) {
		f := newTestFactory(t)
		got := make(chan [][]byte, 10)
		dealer, peer := pair(t, goBinds, "router", nil, func(e Endpoint) *DealerConnection {
			return must[*DealerConnection](t)(NewDealerConnection(f, func(parts [][]byte) { got <- parts },
				e, WithIdentity([]byte("go-dealer")), WithSendTimeout(testTimeout)))
		})
		if err := dealer.SendMultipart([][]byte{[]byte("hi"), []byte("there")}); err != nil {
			t.Fatal(err)
		}
		e := peer.expect("router")
		if string(e.Sender) != "go-dealer" || len(e.Parts) != 2 || string(e.Parts[0]) != "hi" {
			t.Fatalf("txZMQ ROUTER got %q from %q", e.Parts, e.Sender)
		}
		peer.command(map[string]any{"op": "send_msg", "recipient": e.Sender, "message": []byte("back")})
		peer.command(map[string]any{"op": "send_multipart", "recipient": e.Sender, "parts": [][]byte{[]byte("a"), []byte("b")}})
		if m := recv(t, got, "reply"); len(m) != 1 || string(m[0]) != "back" {
			t.Fatalf("Go DEALER got %q", m)
		}
		if m := recv(t, got, "reply"); len(m) != 2 || string(m[1]) != "b" {
			t.Fatalf("Go DEALER got %q", m)
		}
	})
}
