package zmq_test

// Security tests: keys, PLAIN, CURVE and ZAP between zmqgo sockets, plus raw
// peers that attack the data phase. Interop with libzmq is in
// security_interop_test.go.
//
// These tests change process-wide ZAP state (SetZAPHandler, a socket bound
// at inproc://zeromq.zap.01), so none of them runs in parallel.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	zmq "github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

// libzmq's test-suite key pairs (checked with pyzmq's zmq.curve_public).
const (
	serverPublicZ85 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	serverSecretZ85 = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	clientPublicZ85 = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	clientSecretZ85 = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
)

type keys struct {
	serverPub, clientPub zmq.CurvePublicKey
	serverSec, clientSec zmq.CurveSecretKey
}

func testKeys(t testing.TB) keys {
	t.Helper()
	var k keys
	var err error
	must := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	k.serverPub, err = zmq.ParseCurvePublicKey(serverPublicZ85)
	var e error
	k.serverSec, e = zmq.ParseCurveSecretKey(serverSecretZ85)
	must(e)
	k.clientPub, e = zmq.ParseCurvePublicKey(clientPublicZ85)
	must(e)
	k.clientSec, e = zmq.ParseCurveSecretKey(clientSecretZ85)
	must(e)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCurveKeys(t *testing.T) {
	k := testKeys(t)
	if k.serverSec.Public() != k.serverPub || k.clientSec.Public() != k.clientPub {
		t.Fatal("Public() does not match libzmq's key pairs")
	}
	if k.serverPub.String() != serverPublicZ85 || k.serverSec.String() != serverSecretZ85 {
		t.Fatalf("String() = %s / %s", k.serverPub, k.serverSec)
	}
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		t.Fatal(err)
	}
	if len(pub.String()) != 40 || len(sec.String()) != 40 || sec.Public() != pub {
		t.Fatalf("NewCurveKeypair: %s %s", pub, sec)
	}
	pub2, sec2, _ := zmq.NewCurveKeypair()
	if pub2 == pub || sec2 == sec {
		t.Fatal("two key pairs are equal")
	}
	b, _ := pub.MarshalText()
	var pub3 zmq.CurvePublicKey
	if err := pub3.UnmarshalText(b); err != nil || pub3 != pub {
		t.Fatalf("text round trip: %v", err)
	}
	var sec3 zmq.CurveSecretKey
	b, _ = sec.MarshalText()
	if err := sec3.UnmarshalText(b); err != nil || sec3 != sec {
		t.Fatalf("text round trip: %v", err)
	}
	for _, bad := range []string{"", serverPublicZ85[:39], serverPublicZ85 + "0", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf~", strings.Repeat("#", 40)} {
		if _, err := zmq.ParseCurvePublicKey(bad); !errors.Is(err, zmq.ErrInvalidKey) {
			t.Errorf("ParseCurvePublicKey(%q): %v, want ErrInvalidKey", bad, err)
		}
	}
}

func TestSecurityOptions(t *testing.T) {
	k := testKeys(t)
	for name, opt := range map[string]zmq.Option{
		"mismatched client pair": zmq.WithCurveClient(k.serverPub, k.serverPub, k.clientSec),
		"zero server key":        zmq.WithCurveClient(zmq.CurvePublicKey{}, k.clientPub, k.clientSec),
		"zero secret":            zmq.WithCurveServer(zmq.CurveSecretKey{}),
		"long user":              zmq.WithPlainClient(strings.Repeat("u", 256), "p"),
		"long password":          zmq.WithPlainClient("u", strings.Repeat("p", 256)),
		"long domain":            zmq.WithZAPDomain(strings.Repeat("d", 256)),
	} {
		if _, err := zmq.NewSocket(zmq.Push, opt); !errors.Is(err, zmq.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

// ---------------------------------------------------------------------------
// Helpers.

const secTimeout = 10 * time.Second

func secSock(t *testing.T, typ zmq.Type, opts ...zmq.Option) *zmq.Socket {
	t.Helper()
	s, err := zmq.NewSocket(typ, append([]zmq.Option{zmq.WithLinger(0)}, opts...)...)
	if err != nil {
		t.Fatalf("NewSocket(%v): %v", typ, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func secBind(t *testing.T, s *zmq.Socket) string {
	t.Helper()
	if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return s.LastEndpoint()
}

func secConnect(t *testing.T, s *zmq.Socket, ep string) {
	t.Helper()
	if err := s.Connect(ep); err != nil {
		t.Fatal(err)
	}
}

func secSend(t *testing.T, s *zmq.Socket, frames ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), secTimeout)
	defer cancel()
	if err := s.Send(ctx, zmq.NewMsgString(frames...)); err != nil {
		t.Fatalf("%v Send: %v", s.Type(), err)
	}
}

func secRecv(t *testing.T, s *zmq.Socket) zmq.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), secTimeout)
	defer cancel()
	m, err := s.Recv(ctx)
	if err != nil {
		t.Fatalf("%v Recv: %v", s.Type(), err)
	}
	return m
}

func secExpect(t *testing.T, s *zmq.Socket, frames ...string) zmq.Msg {
	t.Helper()
	m := secRecv(t, s)
	if got, want := m.String(), zmq.NewMsgString(frames...).String(); got != want {
		t.Fatalf("%v received %q, want %q", s.Type(), got, want)
	}
	return m
}

// noMsg checks that nothing arrives within d.
func secNoMsg(t *testing.T, s *zmq.Socket, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := s.Recv(ctx); err == nil {
		t.Fatalf("%v received %q, want nothing", s.Type(), m)
	}
}

// waitEvent returns the next event of type typ from ch.
func secWaitEvent(t *testing.T, ch <-chan zmq.Event, typ zmq.EventType) zmq.Event {
	t.Helper()
	timer := time.NewTimer(secTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("monitor closed while waiting for %v", typ)
			}
			if ev.Type == typ {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %v event within %v", typ, secTimeout)
		}
	}
}

func secMonitor(t *testing.T, s *zmq.Socket) <-chan zmq.Event {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return s.Monitor(ctx)
}

func plainAuth(users ...string) *zmq.Authenticator {
	a := zmq.NewAuthenticator()
	for i := 0; i+1 < len(users); i += 2 {
		a.AddUser(users[i], users[i+1])
	}
	return a
}

// ---------------------------------------------------------------------------
// PLAIN.

func TestPlain(t *testing.T) {
	for _, serverBinds := range []bool{true, false} {
		t.Run(map[bool]string{true: "server-binds", false: "client-binds"}[serverBinds], func(t *testing.T) {
			srv := secSock(t, zmq.Pull, zmq.WithPlainServer(), zmq.WithZAPHandler(plainAuth("admin", "secret")))
			cli := secSock(t, zmq.Push, zmq.WithPlainClient("admin", "secret"))
			if serverBinds {
				secConnect(t, cli, secBind(t, srv))
			} else {
				secConnect(t, srv, secBind(t, cli))
			}
			secSend(t, cli, "hello", "world")
			m := secExpect(t, srv, "hello", "world")
			if m.UserID() != "admin" {
				t.Errorf("UserID = %q, want admin", m.UserID())
			}
			for name, want := range map[string]string{"Socket-Type": "PUSH", "socket-type": "PUSH", "User-Id": "admin", "Peer-Address": "127.0.0.1"} {
				if v, ok := m.Property(name); !ok || v != want {
					t.Errorf("Property(%q) = %q, %v; want %q", name, v, ok, want)
				}
			}
			if _, ok := m.Property("No-Such"); ok {
				t.Error("Property(No-Such) found")
			}
		})
	}
}

func TestPlainWrongPassword(t *testing.T) {
	srv := secSock(t, zmq.Pull, zmq.WithPlainServer(), zmq.WithZAPHandler(plainAuth("admin", "secret")))
	srvEv := secMonitor(t, srv)
	ep := secBind(t, srv)
	cli := secSock(t, zmq.Push, zmq.WithPlainClient("admin", "wrong"))
	cliEv := secMonitor(t, cli)
	secConnect(t, cli, ep)
	secSend(t, cli, "must not arrive")

	ev := secWaitEvent(t, srvEv, zmq.EventHandshakeFailedAuth)
	var ae *zmq.AuthError
	if !errors.As(ev.Err, &ae) || ae.Status != 400 || ae.Remote || ae.User != "admin" || ae.Text != "invalid user name or password" {
		t.Errorf("server event error %v (%#v)", ev.Err, ae)
	}
	ev = secWaitEvent(t, cliEv, zmq.EventHandshakeFailedAuth)
	if !errors.As(ev.Err, &ae) || ae.Status != 400 || !ae.Remote || ae.Text != "400" || !errors.Is(ev.Err, zmq.ErrAuthFailed) {
		t.Errorf("client event error %v (%#v)", ev.Err, ae)
	}
	secCheckBackoff(t, cliEv)
	secNoMsg(t, srv, 100*time.Millisecond)
}

// checkBackoff follows a refused client's reconnection attempts: each wait
// must be at least the reconnect interval and the waits must grow.
func secCheckBackoff(t *testing.T, ev <-chan zmq.Event) {
	t.Helper()
	var waits []time.Duration
	for len(waits) < 4 {
		e := secWaitEvent(t, ev, zmq.EventConnectRetried)
		waits = append(waits, e.Interval)
	}
	for i, w := range waits {
		if w < 100*time.Millisecond {
			t.Errorf("wait %d after a refused handshake is %v, want >= 100ms (%v)", i, w, waits)
		}
	}
	if waits[3] < 2*waits[0] || waits[3] < 800*time.Millisecond {
		t.Errorf("waits do not back off: %v", waits)
	}
}

func TestPlainNoAuthenticatorRejects(t *testing.T) {
	old := zmq.SetZAPHandler(nil)
	t.Cleanup(func() { zmq.SetZAPHandler(old) })
	rec := ztest.NewLogRecorder()
	srv := secSock(t, zmq.Pull, zmq.WithPlainServer(), zmq.WithLogger(rec.Logger()))
	srvEv := secMonitor(t, srv)
	cli := secSock(t, zmq.Push, zmq.WithPlainClient("anyone", "anything"))
	secConnect(t, cli, secBind(t, srv))
	secSend(t, cli, "x")
	ev := secWaitEvent(t, srvEv, zmq.EventHandshakeFailedAuth)
	var ae *zmq.AuthError
	if !errors.As(ev.Err, &ae) || ae.Status != 500 {
		t.Errorf("event error %v", ev.Err)
	}
	if _, ok := rec.WaitFor(0, -100, secTimeout, "no ZAP handler"); !ok {
		t.Error("no log line saying there is no ZAP handler")
	}
	secNoMsg(t, srv, 100*time.Millisecond)
}

func TestPlainGlobalHandler(t *testing.T) {
	old := zmq.SetZAPHandler(plainAuth("global", "pw"))
	t.Cleanup(func() { zmq.SetZAPHandler(old) })
	srv := secSock(t, zmq.Rep, zmq.WithPlainServer())
	cli := secSock(t, zmq.Req, zmq.WithPlainClient("global", "pw"))
	secConnect(t, cli, secBind(t, srv))
	secSend(t, cli, "ping")
	m := secExpect(t, srv, "ping")
	if m.UserID() != "global" {
		t.Errorf("REP: UserID = %q after the envelope was stripped", m.UserID())
	}
	secSend(t, srv, "pong")
	if m := secExpect(t, cli, "pong"); m.UserID() != "" {
		t.Errorf("client saw UserID %q", m.UserID())
	}
}

func TestMechanismMismatch(t *testing.T) {
	srv := secSock(t, zmq.Pull, zmq.WithPlainServer(), zmq.WithZAPHandler(plainAuth("a", "b")))
	srvEv := secMonitor(t, srv)
	cli := secSock(t, zmq.Push)
	cliEv := secMonitor(t, cli)
	secConnect(t, cli, secBind(t, srv))
	secSend(t, cli, "x")
	secWaitEvent(t, srvEv, zmq.EventHandshakeFailedProtocol)
	// Even a NULL client backs off when the peer wants another mechanism.
	secCheckBackoff(t, cliEv)
}

// ---------------------------------------------------------------------------
// ZAP.

func TestZAPStatuses(t *testing.T) {
	for _, c := range []struct {
		status    string
		clientErr bool // the client gets ERROR
	}{
		{"300", false},
		{"400", true},
		{"500", true},
		{"999", true}, // invalid: treated as 500
	} {
		t.Run(c.status, func(t *testing.T) {
			h := zmq.ZAPHandlerFunc(func(context.Context, *zmq.ZAPRequest) zmq.ZAPReply {
				return zmq.ZAPReply{StatusCode: c.status, StatusText: "because"}
			})
			srv := secSock(t, zmq.Pull, zmq.WithPlainServer(), zmq.WithZAPHandler(h))
			srvEv := secMonitor(t, srv)
			cli := secSock(t, zmq.Push, zmq.WithPlainClient("u", "p"))
			cliEv := secMonitor(t, cli)
			secConnect(t, cli, secBind(t, srv))
			ev := secWaitEvent(t, srvEv, zmq.EventHandshakeFailedAuth)
			var ae *zmq.AuthError
			if !errors.As(ev.Err, &ae) {
				t.Fatalf("server: %v", ev.Err)
			}
			if c.status == "999" {
				if ae.Status != 500 {
					t.Errorf("server status %d", ae.Status)
				}
			} else if ae.Status/100 != int(c.status[0]-'0') || ae.Text != "because" {
				t.Errorf("server: %v", ev.Err)
			}
			if c.clientErr {
				ev = secWaitEvent(t, cliEv, zmq.EventHandshakeFailedAuth)
				if !errors.As(ev.Err, &ae) || !ae.Remote {
					t.Errorf("client: %v", ev.Err)
				}
			} else {
				// 300: closed without ERROR, so the client sees no reason.
				ev = secWaitEvent(t, cliEv, zmq.EventHandshakeFailedNoDetail)
				if errors.Is(ev.Err, zmq.ErrAuthFailed) {
					t.Errorf("client got an auth failure after 300: %v", ev.Err)
				}
			}
		})
	}
}

func TestZAPRequestAndMetadata(t *testing.T) {
	got := make(chan *zmq.ZAPRequest, 10)
	h := zmq.ZAPHandlerFunc(func(_ context.Context, r *zmq.ZAPRequest) zmq.ZAPReply {
		got <- r
		return zmq.ZAPReply{StatusCode: "200", UserID: "bob", Metadata: map[string]string{"X-Role": "admin", "bad name": "x"}}
	})
	srv := secSock(t, zmq.Router, zmq.WithPlainServer(), zmq.WithZAPHandler(h), zmq.WithZAPDomain("global"), zmq.WithRoutingID([]byte("srv")))
	cli := secSock(t, zmq.Dealer, zmq.WithPlainClient("bob", "pw"), zmq.WithRoutingID([]byte("cli")))
	secConnect(t, cli, secBind(t, srv))
	secSend(t, cli, "hi")
	m := secExpect(t, srv, "cli", "hi")
	r := <-got
	if r.Domain != "global" || r.Address != "127.0.0.1" || string(r.Identity) != "srv" || r.Mechanism != "PLAIN" || len(r.RequestID) == 0 {
		t.Errorf("request %+v", r)
	}
	if u, p, ok := r.PlainCredentials(); !ok || u != "bob" || p != "pw" {
		t.Errorf("credentials %q %q", u, p)
	}
	if v, ok := m.Property("X-Role"); !ok || v != "admin" || m.UserID() != "bob" {
		t.Errorf("X-Role = %q %v, UserID %q", v, ok, m.UserID())
	}
	if v, _ := m.Property("Identity"); v != "cli" {
		t.Errorf("Identity = %q", v)
	}
}

// A libzmq-style handler: a REP socket bound at inproc://zeromq.zap.01.
func TestZAPInprocHandler(t *testing.T) {
	old := zmq.SetZAPHandler(nil)
	t.Cleanup(func() { zmq.SetZAPHandler(old) })
	k := testKeys(t)
	zap := secSock(t, zmq.Rep)
	if err := zap.Bind(zmq.ZAPEndpoint); err != nil {
		t.Fatal(err)
	}
	auth := zmq.NewAuthenticator()
	auth.AllowCurveKeys(k.clientPub)
	auth.AddUser("admin", "secret")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- zmq.ServeZAP(ctx, zap, auth) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	srv := secSock(t, zmq.Pull, zmq.WithCurveServer(k.serverSec))
	cli := secSock(t, zmq.Push, zmq.WithCurveClient(k.serverPub, k.clientPub, k.clientSec))
	secConnect(t, cli, secBind(t, srv))
	secSend(t, cli, "via inproc ZAP")
	if m := secExpect(t, srv, "via inproc ZAP"); m.UserID() != clientPublicZ85 {
		t.Errorf("UserID = %q, want the client key", m.UserID())
	}
	// An unknown key is refused by the same handler.
	pub, sec, _ := zmq.NewCurveKeypair()
	bad := secSock(t, zmq.Push, zmq.WithCurveClient(k.serverPub, pub, sec))
	badEv := secMonitor(t, bad)
	secConnect(t, bad, srv.LastEndpoint())
	ev := secWaitEvent(t, badEv, zmq.EventHandshakeFailedAuth)
	var ae *zmq.AuthError
	if !errors.As(ev.Err, &ae) || ae.Status != 400 {
		t.Errorf("unknown key: %v", ev.Err)
	}
	// PLAIN through the same handler.
	psrv := secSock(t, zmq.Pull, zmq.WithPlainServer())
	pcli := secSock(t, zmq.Push, zmq.WithPlainClient("admin", "secret"))
	secConnect(t, pcli, secBind(t, psrv))
	secSend(t, pcli, "plain")
	if m := secExpect(t, psrv, "plain"); m.UserID() != "admin" {
		t.Errorf("UserID = %q", m.UserID())
	}
}

func TestAuthenticatorRules(t *testing.T) {
	k := testKeys(t)
	a := zmq.NewAuthenticator()
	a.AddUser("admin", "secret")
	if err := a.Deny("10.0.0.0/8", "192.168.1.1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Allow("not an ip"); err == nil {
		t.Error("Allow(junk) accepted")
	}
	ctx := context.Background()
	plain := func(addr, user, pass, domain string) string {
		return a.HandleZAP(ctx, &zmq.ZAPRequest{Address: addr, Domain: domain, Mechanism: "PLAIN",
			Credentials: [][]byte{[]byte(user), []byte(pass)}}).StatusCode
	}
	curve := func(addr string, key zmq.CurvePublicKey) zmq.ZAPReply {
		return a.HandleZAP(ctx, &zmq.ZAPRequest{Address: addr, Mechanism: "CURVE", Credentials: [][]byte{key[:]}})
	}
	null := func(addr string) string {
		return a.HandleZAP(ctx, &zmq.ZAPRequest{Address: addr, Mechanism: "NULL"}).StatusCode
	}
	for i, c := range []struct{ got, want string }{
		{plain("127.0.0.1", "admin", "secret", ""), "200"},
		{plain("127.0.0.1", "admin", "secreT", ""), "400"},
		{plain("127.0.0.1", "admin", "", ""), "400"},
		{plain("127.0.0.1", "nobody", "", ""), "400"},
		{plain("10.1.2.3", "admin", "secret", ""), "400"},
		{plain("192.168.1.1", "admin", "secret", ""), "400"},
		{plain("::ffff:192.168.1.1", "admin", "secret", ""), "400"},
		{plain("192.168.1.2", "admin", "secret", ""), "200"},
		{null("127.0.0.1"), "200"},
		{null("10.0.0.1"), "400"},
		{curve("127.0.0.1", k.clientPub).StatusCode, "400"},
		{a.HandleZAP(ctx, &zmq.ZAPRequest{Mechanism: "GSSAPI"}).StatusCode, "400"},
	} {
		if c.got != c.want {
			t.Errorf("case %d: got %s, want %s", i, c.got, c.want)
		}
	}
	a.AllowCurveKeys(k.clientPub)
	if r := curve("127.0.0.1", k.clientPub); r.StatusCode != "200" || r.UserID != clientPublicZ85 {
		t.Errorf("allowed key: %+v", r)
	}
	if r := curve("127.0.0.1", k.serverPub); r.StatusCode != "400" {
		t.Errorf("other key: %+v", r)
	}
	a.AllowAnyCurveKey(true)
	if r := curve("127.0.0.1", k.serverPub); r.StatusCode != "200" {
		t.Errorf("any key: %+v", r)
	}
	a.RemoveCurveKey(k.clientPub)
	a.AllowAnyCurveKey(false)
	if r := curve("127.0.0.1", k.clientPub); r.StatusCode != "400" {
		t.Errorf("removed key: %+v", r)
	}
	if err := a.Allow("127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	if plain("192.168.1.2", "admin", "secret", "") != "400" || plain("127.0.0.2", "admin", "secret", "") != "200" {
		t.Error("allow list not applied")
	}
	a.AllowDomains("prod")
	if plain("127.0.0.1", "admin", "secret", "") != "400" || plain("127.0.0.1", "admin", "secret", "prod") != "200" {
		t.Error("domains not applied")
	}
	a.RemoveUser("admin")
	if plain("127.0.0.1", "admin", "secret", "prod") != "400" {
		t.Error("removed user accepted")
	}
}

// NULL with a ZAP domain asks the handler (address filtering), as libzmq does.
func TestNullWithZAPDomain(t *testing.T) {
	a := zmq.NewAuthenticator()
	a.Deny("127.0.0.1")
	srv := secSock(t, zmq.Pull, zmq.WithZAPDomain("d"), zmq.WithZAPHandler(a))
	srvEv := secMonitor(t, srv)
	cli := secSock(t, zmq.Push)
	cliEv := secMonitor(t, cli)
	secConnect(t, cli, secBind(t, srv))
	secSend(t, cli, "x")
	ev := secWaitEvent(t, srvEv, zmq.EventHandshakeFailedAuth)
	var ae *zmq.AuthError
	if !errors.As(ev.Err, &ae) || ae.Status != 400 || ae.Text != "address denied" {
		t.Errorf("%v", ev.Err)
	}
	// The NULL client gets ERROR "400": an auth failure, and it backs off.
	ev = secWaitEvent(t, cliEv, zmq.EventHandshakeFailedAuth)
	if !errors.As(ev.Err, &ae) || ae.Status != 400 || !ae.Remote {
		t.Errorf("client: %v", ev.Err)
	}
	secCheckBackoff(t, cliEv)
	secNoMsg(t, srv, 100*time.Millisecond)

	ok := secSock(t, zmq.Pull, zmq.WithZAPDomain("d"), zmq.WithZAPHandler(zmq.NewAuthenticator()))
	cli2 := secSock(t, zmq.Push)
	secConnect(t, cli2, secBind(t, ok))
	secSend(t, cli2, "y")
	secExpect(t, ok, "y")
}

// ---------------------------------------------------------------------------
// CURVE.

func curvePair(t *testing.T, k keys, srvType, cliType zmq.Type, srvOpts ...zmq.Option) (*zmq.Socket, *zmq.Socket) {
	srv := secSock(t, srvType, append([]zmq.Option{zmq.WithCurveServer(k.serverSec)}, srvOpts...)...)
	cli := secSock(t, cliType, zmq.WithCurveClient(k.serverPub, k.clientPub, k.clientSec))
	return srv, cli
}

func TestCurvePatterns(t *testing.T) {
	old := zmq.SetZAPHandler(nil)
	t.Cleanup(func() { zmq.SetZAPHandler(old) })
	k := testKeys(t)
	big := strings.Repeat("x", 70000)
	for _, serverBinds := range []bool{true, false} {
		link := func(srv, cli *zmq.Socket) {
			if serverBinds {
				secConnect(t, cli, secBind(t, srv))
			} else {
				secConnect(t, srv, secBind(t, cli))
			}
		}
		name := map[bool]string{true: "server-binds", false: "client-binds"}[serverBinds]
		t.Run("PUSH-PULL/"+name, func(t *testing.T) {
			srv, cli := curvePair(t, k, zmq.Pull, zmq.Push)
			link(srv, cli)
			for i := range 100 {
				secSend(t, cli, "m", strings.Repeat("y", i))
			}
			secSend(t, cli, big, "", "tail")
			for i := range 100 {
				secExpect(t, srv, "m", strings.Repeat("y", i))
			}
			m := secExpect(t, srv, big, "", "tail")
			if v, _ := m.Property("Socket-Type"); v != "PUSH" || m.UserID() != "" {
				t.Errorf("Socket-Type %q, UserID %q (no ZAP handler: no user id)", v, m.UserID())
			}
		})
		t.Run("REQ-REP/"+name, func(t *testing.T) {
			srv, cli := curvePair(t, k, zmq.Rep, zmq.Req)
			link(srv, cli)
			for range 3 {
				secSend(t, cli, "q")
				secExpect(t, srv, "q")
				secSend(t, srv, "a", big)
				secExpect(t, cli, "a", big)
			}
		})
		t.Run("DEALER-ROUTER/"+name, func(t *testing.T) {
			srv, cli := curvePair(t, k, zmq.Router, zmq.Dealer)
			link(srv, cli)
			secSend(t, cli, "A", "hello")
			m := secRecv(t, srv)
			if len(m.Frames) != 3 || string(m.Frames[1]) != "A" || string(m.Frames[2]) != "hello" {
				t.Fatalf("ROUTER got %q", m)
			}
			if err := srv.Send(context.Background(), zmq.NewMsg(m.Frames[0], []byte("back"))); err != nil {
				t.Fatal(err)
			}
			secExpect(t, cli, "back")
		})
		t.Run("PUB-SUB/"+name, func(t *testing.T) {
			srv, cli := curvePair(t, k, zmq.Pub, zmq.Sub)
			// The subscription travels encrypted inside MESSAGE (COMMAND bit).
			if err := cli.Subscribe([]byte("data/")); err != nil {
				t.Fatal(err)
			}
			link(srv, cli)
			deadline := time.Now().Add(secTimeout)
			for {
				secSend(t, srv, "data/hello")
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				_, err := cli.Recv(ctx)
				cancel()
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("subscription never arrived")
				}
			}
			secSend(t, srv, "other/x")
			secSend(t, srv, "data/1")
			m := secRecv(t, cli)
			for m.String() == "data/hello" {
				m = secRecv(t, cli)
			}
			if m.String() != "data/1" {
				t.Fatalf("SUB got %q", m)
			}
		})
		t.Run("PAIR/"+name, func(t *testing.T) {
			srv, cli := curvePair(t, k, zmq.Pair, zmq.Pair)
			link(srv, cli)
			secSend(t, cli, "to server")
			secExpect(t, srv, "to server")
			secSend(t, srv, "to client")
			secExpect(t, cli, "to client")
		})
	}
}

func TestCurveAuth(t *testing.T) {
	k := testKeys(t)
	a := zmq.NewAuthenticator()
	a.AllowCurveKeys(k.clientPub)
	srv, cli := curvePair(t, k, zmq.Pull, zmq.Push, zmq.WithZAPHandler(a))
	ep := secBind(t, srv)
	secConnect(t, cli, ep)
	secSend(t, cli, "ok")
	if m := secExpect(t, srv, "ok"); m.UserID() != clientPublicZ85 {
		t.Errorf("UserID = %q", m.UserID())
	}

	t.Run("unknown key", func(t *testing.T) {
		pub, sec, _ := zmq.NewCurveKeypair()
		bad := secSock(t, zmq.Push, zmq.WithCurveClient(k.serverPub, pub, sec))
		ev := secMonitor(t, bad)
		secConnect(t, bad, ep)
		secSend(t, bad, "must not arrive")
		e := secWaitEvent(t, ev, zmq.EventHandshakeFailedAuth)
		var ae *zmq.AuthError
		if !errors.As(e.Err, &ae) || ae.Status != 400 || !ae.Remote {
			t.Errorf("%v", e.Err)
		}
		secCheckBackoff(t, ev)
		secNoMsg(t, srv, 50*time.Millisecond)
	})
	t.Run("wrong server key", func(t *testing.T) {
		other, _, _ := zmq.NewCurveKeypair()
		bad := secSock(t, zmq.Push, zmq.WithCurveClient(other, k.clientPub, k.clientSec))
		ev := secMonitor(t, bad)
		srvEv := secMonitor(t, srv)
		secConnect(t, bad, ep)
		secSend(t, bad, "must not arrive")
		// The server cannot open HELLO and drops the connection silently.
		e := secWaitEvent(t, srvEv, zmq.EventHandshakeFailedProtocol)
		if !errors.Is(e.Err, zmtp.ErrCryptographic) {
			t.Errorf("server: %v", e.Err)
		}
		secCheckBackoff(t, ev)
		secNoMsg(t, srv, 50*time.Millisecond)
	})
}

func TestCurveMaxMsgSize(t *testing.T) {
	k := testKeys(t)
	srv, cli := curvePair(t, k, zmq.Pull, zmq.Push, zmq.WithMaxMsgSize(1000))
	secConnect(t, cli, secBind(t, srv))
	secSend(t, cli, strings.Repeat("z", 1000)) // exactly the limit: the MESSAGE overhead does not count
	secExpect(t, srv, strings.Repeat("z", 1000))
}

// rawCurveClient completes a CURVE handshake by hand as a PUSH socket and
// returns the peer and its mechanism, for sending forged MESSAGEs.
func rawCurveClient(t *testing.T, k keys, ep, typ string) (*ztest.Peer, *zmtp.CurveClient) {
	t.Helper()
	p, err := ztest.Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	m := &zmtp.CurveClient{ServerKey: k.serverPub, PublicKey: k.clientPub, SecretKey: k.clientSec,
		Local: zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte(typ)}}}
	hello, err := m.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(append(zmtp.AppendGreeting(nil, zmtp.MechCurve, false), hello...)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReadGreeting(secTimeout); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		_, body, err := p.ReadFrame(secTimeout)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		out, done, err = m.Next(nil, body)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 0 {
			if err := p.Write(out); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p, m
}

func TestCurveForgedMessages(t *testing.T) {
	k := testKeys(t)
	for _, attack := range []string{"replay", "tamper", "truncate", "plain-frame", "plain-command"} {
		t.Run(attack, func(t *testing.T) {
			srv := secSock(t, zmq.Pull, zmq.WithCurveServer(k.serverSec))
			ev := secMonitor(t, srv)
			ep := secBind(t, srv)
			p, m := rawCurveClient(t, k, ep, "PUSH")
			good, err := m.AppendMessage(nil, 0, []byte("good"))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Write(good); err != nil {
				t.Fatal(err)
			}
			secExpect(t, srv, "good")
			var bad []byte
			switch attack {
			case "replay":
				bad = good
			case "tamper":
				bad, _ = m.AppendMessage(nil, 0, []byte("evil"))
				bad[len(bad)-1] ^= 1
			case "truncate":
				bad, _ = m.AppendMessage(nil, 0, []byte("evil"))
				bad = zmtp.AppendFrame(nil, 0, bad[2:len(bad)-1])
			case "plain-frame":
				bad = zmtp.AppendFrame(nil, 0, []byte("evil"))
			case "plain-command":
				bad = zmtp.AppendPing(nil, 0, nil)
			}
			if err := p.Write(bad); err != nil {
				t.Fatal(err)
			}
			e := secWaitEvent(t, ev, zmq.EventDisconnected)
			if !errors.Is(e.Err, zmq.ErrProtocol) {
				t.Errorf("disconnected with %v, want a protocol error", e.Err)
			}
			if err := p.ExpectClosed(secTimeout); err != nil {
				t.Error(err)
			}
			secNoMsg(t, srv, 50*time.Millisecond)
		})
	}
}

// The server's first MESSAGE uses short nonce 2 (READY was 1) and is an
// ordinary data frame, as in libzmq's capture.
func TestCurveServerNonces(t *testing.T) {
	k := testKeys(t)
	srv := secSock(t, zmq.Push, zmq.WithCurveServer(k.serverSec))
	ep := secBind(t, srv)
	p, m := rawCurveClient(t, k, ep, "PULL")
	secSend(t, srv, "a", "b")
	for i, want := range []string{"a", "b"} {
		flags, body, err := p.ReadFrame(secTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if flags != 0 {
			t.Errorf("outer flags %#x", flags)
		}
		if n := binary.BigEndian.Uint64(body[8:]); n != uint64(2+i) {
			t.Errorf("nonce %d, want %d", n, 2+i)
		}
		f, plain, err := m.OpenMessage(body)
		if err != nil || !bytes.Equal(plain, []byte(want)) || (i == 0) != (f == zmtp.FlagMore) {
			t.Errorf("frame %d: %#x %q %v", i, f, plain, err)
		}
	}
}

// TestZAPErrorText: with WithZAPErrorText the refused client learns the
// handler's status text as well as the code, under every mechanism that
// asks ZAP; without it the ERROR carries the bare code (libzmq's form).
func TestZAPErrorText(t *testing.T) {
	k := testKeys(t)
	pub, sec, _ := zmq.NewCurveKeypair()
	deny := zmq.ZAPHandlerFunc(func(_ context.Context, r *zmq.ZAPRequest) zmq.ZAPReply {
		return zmq.ZAPReply{StatusCode: zmq.ZAPStatusDenied, StatusText: "no entry for " + r.Mechanism}
	})
	cases := []struct {
		name     string
		srv, cli []zmq.Option
		want     string
	}{
		{"PLAIN", []zmq.Option{zmq.WithPlainServer()}, []zmq.Option{zmq.WithPlainClient("u", "p")}, "no entry for PLAIN"},
		{"CURVE", []zmq.Option{zmq.WithCurveServer(k.serverSec)}, []zmq.Option{zmq.WithCurveClient(k.serverPub, pub, sec)}, "no entry for CURVE"},
		{"NULL", []zmq.Option{zmq.WithZAPDomain("d")}, nil, "no entry for NULL"},
	}
	for _, c := range cases {
		for _, withText := range []bool{true, false} {
			name := c.name + "/code"
			srvOpts := append([]zmq.Option{zmq.WithZAPHandler(deny)}, c.srv...)
			want := "400"
			if withText {
				name = c.name + "/text"
				srvOpts = append(srvOpts, zmq.WithZAPErrorText())
				want = c.want
			}
			t.Run(name, func(t *testing.T) {
				srv := secSock(t, zmq.Pull, srvOpts...)
				ep := secBind(t, srv)
				cli := secSock(t, zmq.Push, c.cli...)
				ev := secMonitor(t, cli)
				secConnect(t, cli, ep)
				e := secWaitEvent(t, ev, zmq.EventHandshakeFailedAuth)
				var ae *zmq.AuthError
				if !errors.As(e.Err, &ae) || ae.Status != 400 || !ae.Remote || ae.Text != want {
					t.Errorf("client event error %v (%#v), want status 400 text %q", e.Err, ae, want)
				}
			})
		}
	}
}
