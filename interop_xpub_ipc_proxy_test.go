package zmq_test

// Interop against libzmq 4.3 (pyzmq), for the socket layer completed in
// issue 3: XPUB/XSUB both ways, ipc both ways, a libzmq proxy between
// zmqgo sockets and a zmqgo proxy between libzmq sockets. It reuses the
// drivers and scenarios of interop_test.go (pyPeer, goEnd, pubSub,
// pushPull, reqRep) and adds testdata/pyzmq_peer3.py for what
// pyzmq_peer.py cannot do (runtime subscriptions, libzmq's proxy, a sink
// for the fault tests).
//
//	go test -race -run 'TestInterop3' -v .
//
// Under CI=true a missing pyzmq fails these tests; elsewhere they skip.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zmq "github.com/zmqgo/zmq"
)

const peer3Script = "testdata/pyzmq_peer3.py"

func requirePy3(t *testing.T) {
	t.Helper()
	requirePyzmq(t)
	if _, err := os.Stat(peer3Script); err != nil {
		t.Fatalf("%s: %v", peer3Script, err)
	}
}

// startPy3 runs pyzmq_peer3.py with args (the mode first) and returns its
// driver and the words of its READY line after "READY". The process is
// stopped (stdin closed, then killed if need be) when the test ends.
func startPy3(t *testing.T, label string, args ...string) (*pyPeer, []string) {
	t.Helper()
	p, rest := launchPy(t, label, append([]string{peer3Script}, args...))
	return p, strings.Fields(rest)
}

// py3Peer starts a peer-mode socket; mode is "--bind" or "--connect".
func py3Peer(t *testing.T, typ zmq.Type, mode, ep string, extra ...string) *pyPeer {
	t.Helper()
	args := append([]string{"peer", "--type", typ.String(), mode, ep, "--timeout", "30"}, extra...)
	p, words := startPy3(t, "pyzmq "+typ.String(), args...)
	if mode == "--bind" {
		p.ep = words[0]
	}
	return p
}

func (p *pyPeer) setSub(t *testing.T, on bool, topic string) {
	t.Helper()
	op := map[bool]string{true: "subscribe", false: "unsubscribe"}[on]
	if l := p.do(t, map[string]any{"op": op, "topic": hex.EncodeToString([]byte(topic))}); l != "OK" {
		t.Fatalf("%s: %s answered %q", p, op, l)
	}
}

// exit closes the peer's stdin and waits for it to end, as a disconnect.
func (p *pyPeer) exit(t *testing.T) {
	t.Helper()
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(peerAnswerTimeout):
		t.Fatalf("%s did not exit after stdin closed", p)
	}
}

// goSock wraps a zmqgo socket as an end (goEnd) that binds or connects ep,
// whatever the transport.
func goSock(t *testing.T, typ zmq.Type, bind bool, ep string, opts ...zmq.Option) *goEnd {
	t.Helper()
	s, err := zmq.NewSocket(typ, append([]zmq.Option{zmq.WithLinger(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	g := &goEnd{s: s, label: "zmqgo " + typ.String()}
	if bind {
		if err := s.Bind(ep); err != nil {
			t.Fatalf("%s: Bind(%q): %v", g, ep, err)
		}
		g.ep = s.LastEndpoint()
	} else if err := s.Connect(ep); err != nil {
		t.Fatalf("%s: Connect(%q): %v", g, ep, err)
	}
	return g
}

// ---------------------------------------------------------------------------
// XPUB/XSUB.

// subscriber is a SUB or XSUB end with its way to (un)subscribe: a socket
// option on SUB, a \x01topic / \x00topic message on XSUB.
type subscriber struct {
	end
	set func(t *testing.T, on bool, topic string)
}

func subFrame(on bool, topic string) [][]byte {
	b := []byte{0}
	if on {
		b[0] = 1
	}
	return [][]byte{append(b, topic...)}
}

func goSubscriber(g *goEnd) subscriber {
	return subscriber{g, func(t *testing.T, on bool, topic string) {
		t.Helper()
		if g.s.Type() == zmq.XSub {
			g.send(t, subFrame(on, topic))
			return
		}
		var err error
		if on {
			err = g.s.Subscribe([]byte(topic))
		} else {
			err = g.s.Unsubscribe([]byte(topic))
		}
		if err != nil {
			t.Fatalf("%s: (un)subscribe %q: %v", g, topic, err)
		}
	}}
}

func pySubscriber(p *pyPeer, typ zmq.Type) subscriber {
	return subscriber{p, func(t *testing.T, on bool, topic string) {
		t.Helper()
		if typ == zmq.XSub {
			p.send(t, subFrame(on, topic))
			return
		}
		p.setSub(t, on, topic)
	}}
}

// xpubScenario: the XPUB application sees each subscription change as
// \x01topic / \x00topic, data flows for what is subscribed only, and, if
// disconnect is not nil, a subscriber that goes away is unsubscribed.
// disconnect ends the subscriber.
//
// Only an XPUB that binds unsubscribes a subscriber that goes away. One
// that connects keeps the connection's pipe, and its subscriptions, for
// the reconnection: libzmq 4.3.4 reports no \x00topic then (checked with
// libzmq on both sides), and neither does zmqgo.
func xpubScenario(t *testing.T, xpub end, sub subscriber, disconnect func(t *testing.T)) {
	sub.set(t, true, topicPrefix)
	expect(t, xpub, subFrame(true, topicPrefix))
	// The XPUB reported it, so it applies it: no hello dance needed.
	var want [][][]byte
	for i, b := range bodies(0) {
		xpub.send(t, join(strFrames(fmt.Sprintf("skip/%d", i)), b))
		m := join(strFrames(fmt.Sprintf("%s%d", topicPrefix, i)), b)
		xpub.send(t, m)
		want = append(want, m)
	}
	for i, w := range want {
		checkFrames(t, fmt.Sprintf("%s message %d", sub, i), sub.recv(t), w)
	}
	sub.set(t, false, topicPrefix)
	expect(t, xpub, subFrame(false, topicPrefix))
	sub.set(t, true, "bye/")
	expect(t, xpub, subFrame(true, "bye/"))
	if disconnect == nil {
		return
	}
	disconnect(t)
	// The subscriber is gone: its subscriptions go with it.
	expect(t, xpub, subFrame(false, "bye/"))
}

func TestInterop3XPubXSub(t *testing.T) {
	requirePy3(t)
	cases := []struct {
		goType, pyType zmq.Type
	}{
		{zmq.XPub, zmq.Sub}, {zmq.XPub, zmq.XSub}, // zmqgo XPUB receives libzmq's subscriptions
		{zmq.XSub, zmq.XPub}, {zmq.Sub, zmq.XPub}, // libzmq XPUB receives zmqgo's
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("zmqgo=%v/pyzmq=%v", c.goType, c.pyType), func(t *testing.T) {
			for _, goBinds := range []bool{true, false} {
				t.Run(map[bool]string{true: "zmqgo-binds", false: "pyzmq-binds"}[goBinds], func(t *testing.T) {
					var g *goEnd
					var p *pyPeer
					if goBinds {
						g = goSock(t, c.goType, true, "tcp://127.0.0.1:0")
						p = py3Peer(t, c.pyType, "--connect", g.ep)
					} else {
						p = py3Peer(t, c.pyType, "--bind", "tcp://127.0.0.1:*")
						g = goSock(t, c.goType, false, p.ep)
					}
					xpubBinds := goBinds == (c.goType == zmq.XPub)
					var disconnect func(t *testing.T)
					if c.goType == zmq.XPub {
						if xpubBinds {
							disconnect = p.exit
						}
						xpubScenario(t, g, pySubscriber(p, c.pyType), disconnect)
					} else {
						if xpubBinds {
							disconnect = func(t *testing.T) {
								if err := g.s.Close(); err != nil {
									t.Fatal(err)
								}
							}
						}
						xpubScenario(t, p, goSubscriber(g), disconnect)
					}
				})
			}
		})
	}
}

// ---------------------------------------------------------------------------
// ipc.

// ipcAddrs are the ipc endpoint forms to bind: a path, an abstract name and
// a temporary path chosen by the binder (read back with LastEndpoint).
func ipcAddrs(t *testing.T) []struct{ name, ep string } {
	return []struct{ name, ep string }{
		{"path", "ipc://" + filepath.Join(t.TempDir(), "s.sock")},
		{"abstract", fmt.Sprintf("ipc://@zmqgo-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))},
		{"wildcard", "ipc://*"},
	}
}

func TestInterop3IPC(t *testing.T) {
	requirePy3(t)
	// libzmq makes ipc://* paths under $TMPDIR, or relative to its working
	// directory when it is unset.
	t.Setenv("TMPDIR", t.TempDir())
	for _, a := range ipcAddrs(t) {
		t.Run(a.name, func(t *testing.T) {
			ep := a.ep
			if a.name == "abstract" {
				ep += "-" + fmt.Sprint(time.Now().UnixNano()) // unique per run
			}
			t.Run("zmqgo=PULL-binds", func(t *testing.T) {
				g := goSock(t, zmq.Pull, true, ep)
				checkIPCEndpoint(t, g.ep, ep)
				pushers := []end{
					startPeer(t, side{typ: zmq.Push}, 0, "--connect", g.ep),
					startPeer(t, side{typ: zmq.Push}, 1, "--connect", g.ep),
				}
				pushPull(t, pushers, g)
			})
			t.Run("zmqgo=PUSH-pyzmq-binds", func(t *testing.T) {
				p := startPeer(t, side{typ: zmq.Pull}, 0, "--bind", ep)
				checkIPCEndpoint(t, p.ep, ep)
				pushPull(t, []end{goSock(t, zmq.Push, false, p.ep)}, p)
			})
			t.Run("zmqgo=REP-binds", func(t *testing.T) {
				g := goSock(t, zmq.Rep, true, ep)
				reqs := []end{
					startPeer(t, side{typ: zmq.Req}, 0, "--connect", g.ep),
					startPeer(t, side{typ: zmq.Req}, 1, "--connect", g.ep),
				}
				reqRep(t, reqs, g)
			})
			t.Run("zmqgo=REQ-pyzmq-binds", func(t *testing.T) {
				p := startPeer(t, side{typ: zmq.Rep}, 0, "--bind", ep)
				reqRep(t, []end{goSock(t, zmq.Req, false, p.ep)}, p)
			})
		})
	}
}

// checkIPCEndpoint: the endpoint reported after binding requested is
// usable as given, a wildcard resolved to a real path.
func checkIPCEndpoint(t *testing.T, got, requested string) {
	t.Helper()
	if requested != "ipc://*" {
		if got != requested {
			t.Fatalf("bound %q, endpoint reported %q", requested, got)
		}
		return
	}
	path, ok := strings.CutPrefix(got, "ipc://")
	if !ok || path == "*" || !strings.HasPrefix(path, "/") {
		t.Fatalf("bound ipc://*, endpoint reported %q: want ipc:///some/path", got)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("bound ipc://*, reported %q: %v", got, err)
	}
}

// ---------------------------------------------------------------------------
// Proxies.

// py3Stats asks the libzmq proxy for its STATISTICS.
func py3Stats(t *testing.T, p *pyPeer) [8]uint64 {
	t.Helper()
	l := p.do(t, map[string]any{"op": "stats"})
	js, ok := strings.CutPrefix(l, "STATS ")
	var v [8]uint64
	if !ok || json.Unmarshal([]byte(js), &v) != nil {
		t.Fatalf("%s: stats answered %q", p, l)
	}
	return v
}

// A libzmq proxy (zmq_proxy_steerable in the pyzmq process) between zmqgo
// sockets.
func TestInterop3LibzmqProxy(t *testing.T) {
	requirePy3(t)
	startProxy3 := func(t *testing.T, front, back zmq.Type) (*pyPeer, string, string) {
		t.Helper()
		p, eps := startPy3(t, fmt.Sprintf("libzmq proxy %v/%v", front, back), "proxy",
			"--frontend", front.String(), "--frontend-bind", "tcp://127.0.0.1:*",
			"--backend", back.String(), "--backend-bind", "tcp://127.0.0.1:*", "--timeout", "30")
		if len(eps) != 2 {
			t.Fatalf("proxy READY line gave %q", eps)
		}
		return p, eps[0], eps[1]
	}
	t.Run("XSUB-XPUB", func(t *testing.T) {
		proxy, fep, bep := startProxy3(t, zmq.XSub, zmq.XPub)
		pub := newGoEnd(t, side{typ: zmq.Pub}, "", []string{fep})
		sub := newGoEnd(t, side{typ: zmq.Sub}, "", []string{bep})
		pubSub(t, pub, sub)
		st := py3Stats(t, proxy)
		t.Logf("libzmq proxy statistics: %v", st)
		// Data went frontend→backend, the subscription backend→frontend.
		if st[0] < uint64(len(bodyShapes)) || st[6] != st[0] || st[4] < 1 || st[2] != st[4] {
			t.Fatalf("libzmq proxy statistics %v do not add up", st)
		}
	})
	t.Run("ROUTER-DEALER", func(t *testing.T) {
		proxy, fep, bep := startProxy3(t, zmq.Router, zmq.Dealer)
		reqs := []end{
			newGoEnd(t, side{typ: zmq.Req, id: "go-req-0"}, "", []string{fep}),
			newGoEnd(t, side{typ: zmq.Req}, "", []string{fep}),
		}
		rep := newGoEnd(t, side{typ: zmq.Rep}, "", []string{bep})
		reqRep(t, reqs, rep)
		st := py3Stats(t, proxy)
		n := uint64(len(reqs) * len(bodyShapes))
		if st[0] != n || st[2] != n || st[4] != n || st[6] != n {
			t.Fatalf("libzmq proxy statistics %v, want %d messages each way", st, n)
		}
	})
}

// A zmqgo proxy between libzmq sockets; the statistics match what libzmq's
// proxy would count.
func TestInterop3ZmqgoProxy(t *testing.T) {
	requirePy3(t)
	proxy := func(t *testing.T, front, back zmq.Type) (*zmq.SteerableProxy, string, string) {
		t.Helper()
		f := goSock(t, front, true, "tcp://127.0.0.1:0")
		b := goSock(t, back, true, "tcp://127.0.0.1:0")
		p := zmq.NewSteerableProxy(f.s, b.s, nil)
		startProxy(t, p)
		return p, f.ep, b.ep
	}
	t.Run("XSUB-XPUB", func(t *testing.T) {
		p, fep, bep := proxy(t, zmq.XSub, zmq.XPub)
		pub := startPeer(t, side{typ: zmq.Pub}, 0, "--connect", fep)
		sub := startPeer(t, side{typ: zmq.Sub}, 0, "--connect", bep)
		pubSub(t, pub, sub)
		st := p.Stats()
		t.Logf("zmqgo proxy statistics: %+v", st)
		if st.FrontendMsgsIn < uint64(len(bodyShapes)) || st.BackendMsgsOut != st.FrontendMsgsIn ||
			st.BackendMsgsIn < 1 || st.FrontendMsgsOut != st.BackendMsgsIn {
			t.Fatalf("statistics %+v do not add up", st)
		}
	})
	t.Run("ROUTER-DEALER", func(t *testing.T) {
		p, fep, bep := proxy(t, zmq.Router, zmq.Dealer)
		reqs := []end{
			startPeer(t, side{typ: zmq.Req, id: "py-req-0"}, 0, "--connect", fep),
			startPeer(t, side{typ: zmq.Req}, 1, "--connect", fep),
		}
		rep := startPeer(t, side{typ: zmq.Rep}, 0, "--connect", bep)
		reqRep(t, reqs, rep)
		st := p.Stats()
		n := uint64(len(reqs) * len(bodyShapes))
		if st.FrontendMsgsIn != n || st.BackendMsgsOut != n || st.BackendMsgsIn != n || st.FrontendMsgsOut != n {
			t.Fatalf("statistics %+v, want %d messages each way", st, n)
		}
	})
	t.Run("PULL-PUSH", func(t *testing.T) {
		_, fep, bep := proxy(t, zmq.Pull, zmq.Push)
		pushers := []end{
			startPeer(t, side{typ: zmq.Push}, 0, "--connect", fep),
			startPeer(t, side{typ: zmq.Push}, 1, "--connect", fep),
		}
		puller := startPeer(t, side{typ: zmq.Pull}, 0, "--connect", bep)
		pushPull(t, pushers, puller)
	})
}
