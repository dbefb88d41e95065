package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/reactor"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, nil, &out, nil); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := `Alice registers
  Alice <- registered (success): Welcome, Alice!
Bob registers
  Bob <- registered (success): Welcome, Bob!
Charlie registers
  Charlie <- registered (success): Welcome, Charlie!
Alice -> Bob: Hi Bob!
  Bob <- message from Alice: Hi Bob!
  Alice <- delivered to Bob
Bob -> Alice: Hello Alice, good to hear from you
  Alice <- message from Bob: Hello Alice, good to hear from you
  Bob <- delivered to Alice
Charlie broadcasts: Hello everyone!
  Alice <- broadcast from Charlie: Hello everyone!
  Bob <- broadcast from Charlie: Hello everyone!
  Charlie <- broadcast reached 2 clients
Alice lists the clients
  Alice <- 3 clients: [Alice (3 messages) Bob (2 messages) Charlie (2 messages)]
Charlie -> Dave: anyone there?
  Charlie <- error: client "Dave" is not registered
Bob pings the broker
  Bob <- pong: received 9, sent 12, errors 1
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// The wire: every field of every reply, as the protocol names them.
func TestProtocolFields(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := reactor.NewFactory()
	defer f.Shutdown()
	b, err := NewBroker(f, reactor.Bind("tcp://127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := NewClient(f, "x", b.Addr())
	y, _ := NewClient(f, "y", b.Addr())
	keys := func(c *Client, typ string) string {
		t.Helper()
		m, err := c.Expect(ctx, typ)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		return strings.Join(sortStrings(ks), ",")
	}
	check := func(got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("fields %s, want %s", got, want)
		}
	}
	x.Register()
	check(keys(x, "registration_ack"), "client_id,message,status,type")
	y.Register()
	keys(y, "registration_ack")
	x.Direct("y", "hi")
	check(keys(y, "direct_message"), "content,from,timestamp,type")
	check(keys(x, "delivery_confirmation"), "status,target,type")
	x.Broadcast("all")
	check(keys(y, "broadcast"), "content,from,timestamp,type")
	check(keys(x, "broadcast_confirmation"), "recipients,type")
	x.ListClients()
	m, _ := x.Expect(ctx, "client_list")
	if m.Num("total") != 2 {
		t.Fatalf("client_list %v", m)
	}
	entry := m["clients"].([]any)[0].(map[string]any)
	var ek []string
	for k := range entry {
		ek = append(ek, k)
	}
	check(strings.Join(sortStrings(ek), ","), "connected_since,last_activity,message_count,name")
	x.Ping()
	m, _ = x.Expect(ctx, "pong")
	if _, ok := m["stats"].(map[string]any)["received"]; !ok || m.Num("timestamp") == 0 {
		t.Fatalf("pong %v", m)
	}
	// Bad input: an error reply, and the broker goes on.
	for _, bad := range []string{"not json", `{"type":"nope"}`, `{"type":"register"}`, `{"type":"direct_message","target":"y"}`, `[1,2]`} {
		x.conn.SendMsg([]byte(bad))
		check(keys(x, "error"), "message,timestamp,type")
	}
	// A name held by another client is refused; re-registering is fine.
	y.send(map[string]any{"type": "register", "name": "x"})
	keys(y, "error")
	x.Register()
	keys(x, "registration_ack")
	// Unregistered clients may not send.
	z, _ := NewClient(f, "z", b.Addr())
	z.Direct("x", "psst")
	keys(z, "error")
	if b, _ := json.Marshal(ClientInfo{}); !strings.Contains(string(b), "connected_since") {
		t.Fatal(string(b))
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

type chanWriter chan string

func (w chanWriter) Write(p []byte) (int, error) {
	select {
	case w <- string(p):
	default:
	}
	return len(p), nil
}

// lineWriter hands the test each line written.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(p), "\n") {
		if l != "" {
			w <- l
		}
	}
	return len(p), nil
}

// The broker and client roles, as separate programs run them.
func TestRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokerCtx, stop := context.WithCancel(ctx)
	lines := make(chanWriter, 1)
	brokerErr := make(chan error, 1)
	go func() {
		brokerErr <- run(brokerCtx, nil, lines, []string{"-role", "broker", "-bind", "tcp://127.0.0.1:0"})
	}()
	var addr string
	select {
	case l := <-lines:
		addr = strings.TrimSpace(strings.TrimPrefix(l, "broker listening on "))
	case <-ctx.Done():
		t.Fatal("broker did not start")
	}
	// Bob stays until his input ends.
	bobIn, bobInW := io.Pipe()
	bobOut := make(lineWriter, 100)
	bobErr := make(chan error, 1)
	go func() {
		bobErr <- run(ctx, bobIn, bobOut, []string{"-role", "client", "-name", "Bob", "-connect", addr})
	}()
	if l := <-bobOut; l != "Bob: registered (success): Welcome, Bob!\n" {
		t.Fatalf("Bob: %q", l)
	}
	var out bytes.Buffer
	in := strings.NewReader("@Bob hello\nhi all\n/list\n@Dave are you there?\n/ping\n")
	if err := run(ctx, in, &out, []string{"-role", "client", "-name", "Alice", "-connect", addr}); err != nil {
		t.Fatal(err)
	}
	// Bob has what Alice sent him (the broker forwarded it before it
	// answered Alice); then his input ends and he goes.
	var bob []string
	for range 2 {
		select {
		case l := <-bobOut:
			bob = append(bob, l)
		case <-ctx.Done():
			t.Fatalf("Bob got only %q", bob)
		}
	}
	bobInW.Close()
	if err := <-bobErr; err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-brokerErr; err != nil {
		t.Fatal(err)
	}
	want := `Alice: registered (success): Welcome, Alice!
Alice: delivered to Bob
Alice: broadcast reached 1 clients
Alice: 2 clients: [Alice (4 messages) Bob (1 messages)]
Alice: error: client "Dave" is not registered
Alice: pong: received 7, sent 8, errors 1
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	if got := strings.Join(bob, ""); got != "Bob: message from Alice: hello\nBob: broadcast from Alice: hi all\n" {
		t.Fatalf("Bob got %q", got)
	}
}

// A client that has gone is reported as such and forgotten.
func TestVanishedClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := reactor.NewFactory()
	defer f.Shutdown()
	b, err := NewBroker(f, reactor.Bind("tcp://127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := NewClient(f, "x", b.Addr())
	x.Register()
	x.Expect(ctx, "registration_ack")
	g := reactor.NewFactory()
	y, _ := NewClient(g, "y", b.Addr())
	y.Register()
	if _, err := y.Expect(ctx, "registration_ack"); err != nil {
		t.Fatal(err)
	}
	g.Shutdown()
	// Until the broker notices the disconnection, messages to y still queue.
	for {
		x.Direct("y", "are you there?")
		m, err := x.Expect(ctx, "delivery_confirmation")
		if err != nil {
			t.Fatal(err)
		}
		if m.Str("status") == "failed" {
			break
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	x.ListClients()
	if m, _ := x.Expect(ctx, "client_list"); m.Num("total") != 1 {
		t.Fatalf("after y left: %v", m)
	}
}
