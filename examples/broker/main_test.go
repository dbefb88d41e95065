package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
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

// The broker and client roles, as separate programs run them.
func TestRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokerCtx, stop := context.WithCancel(ctx)
	lines := make(ztest.ChanWriter, 1)
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
	bobOut := make(ztest.LineWriter, 100)
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
