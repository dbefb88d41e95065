package zmq_test

// Security interop against libzmq 4.3 through pyzmq: CURVE and PLAIN, zmqgo
// as server and as client, both bind directions, every pattern of the plain
// interop matrix (interop_test.go, whose scenarios and ends this reuses),
// plus refused handshakes (wrong password, unknown key, wrong server key)
// seen from both sides. The pyzmq side is testdata/pyzmq_secure_peer.py.
//
//	go test -race -run 'TestSecureInterop' -v .

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	zmq "github.com/zmqgo/zmq"
)

const securePeerScript = "testdata/pyzmq_secure_peer.py"

// secMode is one security configuration of a case.
type secMode struct {
	name     string
	goServer bool // zmqgo plays the PLAIN/CURVE server; pyzmq the client
	curve    bool
}

var secModes = []secMode{
	{"CURVE/zmqgo-server", true, true},
	{"CURVE/zmqgo-client", false, true},
	{"PLAIN/zmqgo-server", true, false},
	{"PLAIN/zmqgo-client", false, false},
}

// Credentials used throughout; the pyzmq server's ZAP handler knows them.
const (
	interopUser = "admin"
	interopPass = "s3cret:with colon"
)

func requireSecurePeer(t *testing.T) {
	t.Helper()
	requirePyzmq(t)
	if _, err := os.Stat(securePeerScript); err != nil {
		t.Fatal(err)
	}
}

// goOpts returns zmqgo's security options for mode.
func (m secMode) goOpts(t *testing.T, k keys) []zmq.Option {
	switch {
	case m.curve && m.goServer:
		a := zmq.NewAuthenticator()
		a.AllowCurveKeys(k.clientPub)
		return []zmq.Option{zmq.WithCurveServer(k.serverSec), zmq.WithZAPHandler(a)}
	case m.curve:
		return []zmq.Option{zmq.WithCurveClient(k.serverPub, k.clientPub, k.clientSec)}
	case m.goServer:
		return []zmq.Option{zmq.WithPlainServer(), zmq.WithZAPHandler(plainAuth(interopUser, interopPass))}
	default:
		return []zmq.Option{zmq.WithPlainClient(interopUser, interopPass)}
	}
}

// pyArgs returns the pyzmq peer's security arguments for mode.
func (m secMode) pyArgs() []string {
	switch {
	case m.curve && m.goServer:
		return []string{"--curve-client", serverPublicZ85, "--curve-public", clientPublicZ85, "--curve-secret", clientSecretZ85}
	case m.curve:
		return []string{"--curve-server", serverSecretZ85, "--zap-curve-key", clientPublicZ85}
	case m.goServer:
		return []string{"--plain-client", interopUser + ":" + interopPass}
	default:
		return []string{"--plain-server", "--zap-user", interopUser + ":" + interopPass}
	}
}

// newSecureGoEnd is newGoEnd (interop_test.go) with security options.
func newSecureGoEnd(t *testing.T, sd side, bind string, connect []string, sec []zmq.Option) end {
	t.Helper()
	opts := append([]zmq.Option{zmq.WithLinger(0)}, sec...)
	g := &goEnd{label: "zmqgo " + sd.typ.String()}
	if sd.id != "" {
		g.rid = []byte(sd.id)
		opts = append(opts, zmq.WithRoutingID(g.rid))
	}
	if sd.mandatory {
		opts = append(opts, zmq.WithRouterMandatory(true))
	}
	s, err := zmq.NewSocket(sd.typ, opts...)
	if err != nil {
		t.Fatalf("NewSocket(%v): %v", sd.typ, err)
	}
	g.s = s
	t.Cleanup(func() { s.Close() })
	if sd.typ == zmq.Sub {
		if err := s.Subscribe([]byte(topicPrefix)); err != nil {
			t.Fatal(err)
		}
	}
	if bind != "" {
		if err := s.Bind(bind); err != nil {
			t.Fatal(err)
		}
		g.ep = s.LastEndpoint()
	}
	for _, ep := range connect {
		if err := s.Connect(ep); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// startSecurePeer is startPeer (interop_test.go) running the secure script
// with extra arguments.
func startSecurePeer(t *testing.T, sd side, k int, mode string, endpoints []string, extra ...string) *pyPeer {
	t.Helper()
	args := sideArgs(securePeerScript, sd, "30", mode, endpoints)
	// A Z85 key may start with '-', which argparse would take for an
	// option: keys go as --flag=value.
	for i := 0; i < len(extra); i++ {
		switch extra[i] {
		case "--curve-server", "--curve-client", "--curve-public", "--curve-secret", "--zap-curve-key":
		default:
			args = append(args, extra[i])
			continue
		}
		if i+1 < len(extra) {
			args = append(args, extra[i]+"="+extra[i+1])
			i++
			continue
		}
		args = append(args, extra[i])
	}
	return startSidePeer(t, sd, k, mode, args)
}

// TestSecureInterop runs the whole interop matrix under CURVE and PLAIN.
func TestSecureInterop(t *testing.T) {
	requireSecurePeer(t)
	k := testKeys(t)
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) {
			if testing.Short() && !m.curve {
				t.Skip("PLAIN matrix skipped with -short")
			}
			for _, p := range interopPatterns {
				t.Run(p.name, func(t *testing.T) {
					for _, r := range p.roles {
						t.Run("zmqgo="+r.local.typ.String(), func(t *testing.T) {
							for _, localBinds := range []bool{true, false} {
								name := map[bool]string{true: "zmqgo-binds", false: "pyzmq-binds"}[localBinds]
								t.Run(name, func(t *testing.T) {
									local, remote := secureSetup(t, m, k, r, localBinds)
									r.run(t, local, remote, localBinds)
								})
							}
						})
					}
				})
			}
		})
	}
}

// secureSetup is setup (interop_test.go) with security on both sides.
func secureSetup(t *testing.T, m secMode, k keys, r role, localBinds bool) (end, []end) {
	t.Helper()
	var remote []end
	if localBinds {
		local := newSecureGoEnd(t, r.local, "tcp://127.0.0.1:0", nil, m.goOpts(t, k))
		for i, s := range r.remote {
			remote = append(remote, startSecurePeer(t, s, i, "--connect", []string{local.endpoint()}, m.pyArgs()...))
		}
		return local, remote
	}
	var eps []string
	for i, s := range r.remote {
		p := startSecurePeer(t, s, i, "--bind", []string{"tcp://127.0.0.1:*"}, m.pyArgs()...)
		remote = append(remote, p)
		eps = append(eps, p.endpoint())
	}
	return newSecureGoEnd(t, r.local, "", eps, m.goOpts(t, k)), remote
}

// peerEvent waits for one of the named libzmq monitor events on p and
// returns its name and value.
func peerEvent(t *testing.T, p *pyPeer, names ...string) (string, int) {
	t.Helper()
	l := p.do(t, map[string]any{"op": "event", "events": names, "timeout_ms": opTimeout.Milliseconds()})
	var name string
	var val int
	if _, err := fmt.Sscanf(l, "EVENT %s %d", &name, &val); err != nil {
		t.Fatalf("%s: event answered %q, want one of %v", p, l, names)
	}
	return name, val
}

func peerProps(t *testing.T, p *pyPeer) map[string]any {
	t.Helper()
	l := p.do(t, map[string]any{"op": "recv_props", "timeout_ms": opTimeout.Milliseconds()})
	js, ok := strings.CutPrefix(l, "PROPS ")
	var props map[string]any
	if !ok || json.Unmarshal([]byte(js), &props) != nil {
		t.Fatalf("%s: recv_props answered %q", p, l)
	}
	return props
}

// TestSecureInteropIdentity checks what each side learns about the other:
// zmqgo sees the user id its Authenticator gave a libzmq client, libzmq
// sees the one its ZAP handler gave a zmqgo client.
func TestSecureInteropIdentity(t *testing.T) {
	requireSecurePeer(t)
	k := testKeys(t)
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) {
			want := interopUser
			if m.curve {
				want = clientPublicZ85
			}
			if m.goServer {
				g := newSecureGoEnd(t, side{typ: zmq.Pull}, "tcp://127.0.0.1:0", nil, m.goOpts(t, k)).(*goEnd)
				p := startSecurePeer(t, side{typ: zmq.Push}, 0, "--connect", []string{g.ep}, m.pyArgs()...)
				p.send(t, strFrames("who"))
				msg := secRecv(t, g.s)
				if msg.String() != "who" || msg.UserID() != want {
					t.Fatalf("zmqgo got %q from user %q, want user %q", msg, msg.UserID(), want)
				}
				if v, _ := msg.Property("Socket-Type"); v != "PUSH" {
					t.Errorf("Socket-Type %q", v)
				}
				return
			}
			p := startSecurePeer(t, side{typ: zmq.Pull}, 0, "--bind", []string{"tcp://127.0.0.1:*"}, m.pyArgs()...)
			g := newSecureGoEnd(t, side{typ: zmq.Push}, "", []string{p.endpoint()}, m.goOpts(t, k))
			g.send(t, strFrames("who"))
			props := peerProps(t, p)
			if props["User-Id"] != want || props["Socket-Type"] != "PUSH" {
				t.Fatalf("libzmq saw %v, want User-Id %q", props, want)
			}
		})
	}
}

// TestSecureInteropRefused: wrong credentials in every direction. The
// refused side delivers nothing, both sides report an auth failure where
// libzmq does, and the zmqgo client backs off.
func TestSecureInteropRefused(t *testing.T) {
	requireSecurePeer(t)
	k := testKeys(t)
	otherPub, otherSec, _ := zmq.NewCurveKeypair()

	// zmqgo client, libzmq server.
	for _, c := range []struct {
		name string
		py   []string
		opts []zmq.Option
		auth bool // refused by ZAP (ERROR 400); else the server drops us silently
	}{
		{"PLAIN wrong password", []string{"--plain-server", "--zap-user", interopUser + ":" + interopPass},
			[]zmq.Option{zmq.WithPlainClient(interopUser, "wrong")}, true},
		{"PLAIN unknown user", []string{"--plain-server", "--zap-user", interopUser + ":" + interopPass},
			[]zmq.Option{zmq.WithPlainClient("mallory", interopPass)}, true},
		{"CURVE unknown client key", []string{"--curve-server", serverSecretZ85, "--zap-curve-key", clientPublicZ85},
			[]zmq.Option{zmq.WithCurveClient(k.serverPub, otherPub, otherSec)}, true},
		{"CURVE wrong server key", []string{"--curve-server", serverSecretZ85},
			[]zmq.Option{zmq.WithCurveClient(otherPub, k.clientPub, k.clientSec)}, false},
	} {
		t.Run("zmqgo-client/"+c.name, func(t *testing.T) {
			p := startSecurePeer(t, side{typ: zmq.Pull}, 0, "--bind", []string{"tcp://127.0.0.1:*"}, c.py...)
			cli := secSock(t, zmq.Push, c.opts...)
			ev := secMonitor(t, cli)
			secConnect(t, cli, p.endpoint())
			secSend(t, cli, "must not arrive")
			if c.auth {
				e := secWaitEvent(t, ev, zmq.EventHandshakeFailedAuth)
				var ae *zmq.AuthError
				if !errors.As(e.Err, &ae) || ae.Status != 400 || !ae.Remote {
					t.Errorf("client event: %v", e.Err)
				}
				if name, v := peerEvent(t, p, "HANDSHAKE_FAILED_AUTH"); v != 400 {
					t.Errorf("libzmq reported %s %d, want status 400", name, v)
				}
			} else {
				if name, _ := peerEvent(t, p, "HANDSHAKE_FAILED_PROTOCOL", "HANDSHAKE_FAILED_NO_DETAIL"); name == "" {
					t.Error("libzmq reported no handshake failure")
				}
			}
			secCheckBackoff(t, ev)
			if _, ok := p.tryRecv(t, 100*time.Millisecond); ok {
				t.Error("libzmq received a message from a refused client")
			}
		})
	}

	// libzmq client, zmqgo server.
	for _, c := range []struct {
		name string
		py   []string
		opts []zmq.Option
		auth bool
	}{
		{"PLAIN wrong password", []string{"--plain-client", interopUser + ":wrong"},
			[]zmq.Option{zmq.WithPlainServer(), zmq.WithZAPHandler(plainAuth(interopUser, interopPass))}, true},
		// What WithZAPErrorText documents: libzmq does not take a reason
		// other than a bare code for an authentication failure.
		{"PLAIN wrong password with status text", []string{"--plain-client", interopUser + ":wrong"},
			[]zmq.Option{zmq.WithPlainServer(), zmq.WithZAPHandler(plainAuth(interopUser, interopPass)), zmq.WithZAPErrorText()}, true},
		{"CURVE unknown client key with status text", []string{"--curve-client", serverPublicZ85, "--curve-public", otherPub.String(), "--curve-secret", otherSec.String()},
			[]zmq.Option{zmq.WithCurveServer(k.serverSec), zmq.WithZAPHandler(zmq.NewAuthenticator()), zmq.WithZAPErrorText()}, true},
		{"PLAIN no authenticator", []string{"--plain-client", interopUser + ":" + interopPass},
			[]zmq.Option{zmq.WithPlainServer()}, true},
		{"CURVE unknown client key", []string{"--curve-client", serverPublicZ85, "--curve-public", otherPub.String(), "--curve-secret", otherSec.String()},
			[]zmq.Option{zmq.WithCurveServer(k.serverSec), zmq.WithZAPHandler(zmq.NewAuthenticator())}, true},
		{"CURVE wrong server key", []string{"--curve-client", otherPub.String(), "--curve-public", clientPublicZ85, "--curve-secret", clientSecretZ85},
			[]zmq.Option{zmq.WithCurveServer(k.serverSec)}, false},
	} {
		t.Run("pyzmq-client/"+c.name, func(t *testing.T) {
			if c.name == "PLAIN no authenticator" {
				old := zmq.SetZAPHandler(nil)
				t.Cleanup(func() { zmq.SetZAPHandler(old) })
			}
			srv := secSock(t, zmq.Pull, c.opts...)
			ev := secMonitor(t, srv)
			ep := secBind(t, srv)
			p := startSecurePeer(t, side{typ: zmq.Push}, 0, "--connect", []string{ep}, c.py...)
			// The handshake may be refused before the peer queues this:
			// libzmq then has no pipe and answers AGAIN, which is fine.
			if l := p.do(t, map[string]any{"op": "try_send", "frames": []string{hex.EncodeToString([]byte("must not arrive"))}, "timeout_ms": 500}); l != "SENT" && l != "AGAIN" {
				t.Fatalf("%s: try_send answered %q", p, l)
			}
			if c.auth {
				e := secWaitEvent(t, ev, zmq.EventHandshakeFailedAuth)
				var ae *zmq.AuthError
				if !errors.As(e.Err, &ae) || ae.Remote || ae.Status/100 < 4 {
					t.Errorf("server event: %v", e.Err)
				}
				if strings.HasSuffix(c.name, "with status text") {
					// libzmq 4.3.4 reports no handshake failure at all, only the disconnection.
					if name, _ := peerEvent(t, p, "HANDSHAKE_FAILED_PROTOCOL", "HANDSHAKE_FAILED_AUTH", "HANDSHAKE_FAILED_NO_DETAIL", "DISCONNECTED"); name != "DISCONNECTED" {
						t.Errorf("libzmq reported %s, want DISCONNECTED only", name)
					}
				} else if name, v := peerEvent(t, p, "HANDSHAKE_FAILED_AUTH"); v != ae.Status {
					t.Errorf("libzmq reported %s %d, want status %d", name, v, ae.Status)
				}
			} else {
				e := secWaitEvent(t, ev, zmq.EventHandshakeFailedProtocol)
				if !strings.Contains(e.Err.Error(), "does not open") {
					t.Errorf("server event: %v", e.Err)
				}
			}
			secNoMsg(t, srv, 100*time.Millisecond)
		})
	}
}

// TestSecureInteropHeartbeat: PING and PONG travel inside CURVE MESSAGEs
// (COMMAND bit) and under PLAIN as commands. Both sides send PINGs every
// 50 ms and give up after 150 ms of silence, so a PING or PONG that either
// side failed to decode would end the connection well within the window.
func TestSecureInteropHeartbeat(t *testing.T) {
	requireSecurePeer(t)
	k := testKeys(t)
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) {
			opts := append(m.goOpts(t, k), zmq.WithHeartbeatInterval(50*time.Millisecond),
				zmq.WithHeartbeatTimeout(150*time.Millisecond), zmq.WithHeartbeatTTL(200*time.Millisecond))
			g := newSecureGoEnd(t, side{typ: zmq.Pair}, "tcp://127.0.0.1:0", nil, opts).(*goEnd)
			ev := secMonitor(t, g.s)
			p := startSecurePeer(t, side{typ: zmq.Pair}, 0, "--connect", []string{g.ep}, append(m.pyArgs(), "--heartbeat", "50")...)
			p.send(t, strFrames("first"))
			checkFrames(t, "zmqgo", g.recv(t), strFrames("first"))
			secWaitEvent(t, ev, zmq.EventHandshakeSucceeded) // this connection's
			// Idle for 20 heartbeat intervals: only PINGs and PONGs move.
			deadline := time.After(time.Second)
			for idle := true; idle; {
				select {
				case e := <-ev:
					if e.Type == zmq.EventDisconnected || e.Type == zmq.EventHandshakeSucceeded {
						t.Fatalf("connection event while idle: %v (%v)", e.Type, e.Err)
					}
				case <-deadline:
					idle = false
				}
			}
			g.send(t, strFrames("still", "here"))
			checkFrames(t, "pyzmq", p.recv(t), strFrames("still", "here"))
			if name, _ := peerEvent0(t, p, "DISCONNECTED", "HANDSHAKE_FAILED_PROTOCOL"); name != "" {
				t.Errorf("libzmq reported %s", name)
			}
		})
	}
}

// peerEvent0 is peerEvent that accepts no event (within 10 ms): "" then.
func peerEvent0(t *testing.T, p *pyPeer, names ...string) (string, int) {
	t.Helper()
	l := p.do(t, map[string]any{"op": "event", "events": names, "timeout_ms": 10})
	if l == "TIMEOUT" {
		return "", 0
	}
	var name string
	var val int
	fmt.Sscanf(l, "EVENT %s %d", &name, &val)
	return name, val
}
