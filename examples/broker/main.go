// Command broker is the router-dealer pattern as a message broker: clients
// (DEALER) register by name with a broker (ROUTER) and send each other
// direct messages and broadcasts, list the clients and ping the broker, in
// JSON messages. The broker and its client are package broker (see its
// documentation for the protocol); `zmqgo broker` is the production
// broker.
//
// With no arguments it runs a broker and the clients Alice, Bob and Charlie
// in one process and prints their conversation. As separate programs:
//
//	broker -role broker -bind tcp://127.0.0.1:5555
//	broker -role client -name Alice -connect tcp://127.0.0.1:5555
//
// A client reads commands from standard input: "@Bob hello" sends Bob a
// direct message, "/list" lists the clients, "/ping" pings the broker, any
// other line is broadcast. It prints the broker's answers and what other
// clients send it.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/zmqgo/zmq/broker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdin, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, in io.Reader, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	role := fs.String("role", "demo", "demo, broker or client")
	bind := fs.String("bind", broker.DefaultBind, "broker: endpoint to bind")
	connect := fs.String("connect", broker.DefaultBind, "client: broker to connect to")
	name := fs.String("name", "Alice", "client: name to register")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "demo":
		return demo(ctx, w)
	case "broker":
		b, err := broker.New(broker.Config{Bind: []string{*bind}})
		if err != nil {
			return err
		}
		defer b.Close()
		fmt.Fprintf(w, "broker listening on %s\n", b.Addr())
		<-ctx.Done()
		return nil
	case "client":
		return clientRole(ctx, in, w, *name, *connect)
	}
	return fmt.Errorf("unknown role %q", *role)
}

// lockedWriter keeps the lines of the handler and of the main goroutine
// whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

// clientRole registers, then runs the commands read from in, printing each
// answer; what other clients send is printed as it comes. It returns once
// in is exhausted.
func clientRole(ctx context.Context, in io.Reader, w io.Writer, name, addr string) error {
	out := &lockedWriter{w: w}
	c, err := broker.NewClient(addr, broker.WithHandler(func(ctx context.Context, m broker.Message) {
		out.printf("%s: %s", name, Describe(m))
	}))
	if err != nil {
		return err
	}
	defer c.Close()
	reg, err := c.Register(ctx, name)
	if err != nil {
		return err
	}
	out.printf("%s: registered (%s): %s", name, reg.Status, reg.Message)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var answer string
		var err error
		switch {
		case line == "":
			continue
		case line == "/list":
			var list []broker.ClientInfo
			list, err = c.List(ctx)
			answer = describeList(list)
		case line == "/ping":
			var p broker.Pong
			p, err = c.Ping(ctx)
			answer = describePong(p)
		case strings.HasPrefix(line, "@"):
			target, text, _ := strings.Cut(line[1:], " ")
			var status string
			status, err = c.Send(ctx, target, text)
			answer = fmt.Sprintf("%s to %s", status, target)
		default:
			var n int
			n, err = c.Broadcast(ctx, line)
			answer = fmt.Sprintf("broadcast reached %d clients", n)
		}
		var refused *broker.Error
		switch {
		case errors.As(err, &refused):
			answer = "error: " + refused.Message
		case err != nil:
			return err
		}
		out.printf("%s: %s", name, answer)
	}
	return sc.Err()
}

// Describe renders a message from another client as one line.
func Describe(m broker.Message) string {
	switch m.Type {
	case broker.TypeDirectMessage:
		return fmt.Sprintf("message from %s: %s", m.From, m.Text())
	case broker.TypeBroadcast:
		return fmt.Sprintf("broadcast from %s: %s", m.From, m.Text())
	case broker.TypeRoutingError:
		return fmt.Sprintf("could not reach %s: %s", m.FailedDestination, m.Error)
	}
	return string(m.Raw)
}

func describeList(list []broker.ClientInfo) string {
	names := make([]string, len(list))
	for i, c := range list {
		names[i] = fmt.Sprintf("%s (%d messages)", c.Name, c.MessageCount)
	}
	return fmt.Sprintf("%d clients: %v", len(list), names)
}

func describePong(p broker.Pong) string {
	return fmt.Sprintf("pong: received %d, sent %d, errors %d", p.Stats.Received, p.Stats.Sent, p.Stats.Errors)
}

// person is a client of the demo, with what others send it.
type person struct {
	name  string
	c     *broker.Client
	inbox chan broker.Message
}

// demo: a broker, Alice, Bob and Charlie, and a scripted conversation.
func demo(ctx context.Context, w io.Writer) error {
	b, err := broker.New(broker.Config{Bind: []string{"tcp://127.0.0.1:0"}})
	if err != nil {
		return err
	}
	defer b.Close()
	var people []*person
	for _, name := range []string{"Alice", "Bob", "Charlie"} {
		p := &person{name: name, inbox: make(chan broker.Message, 10)}
		p.c, err = broker.NewClient(b.Addr(), broker.WithHandler(func(ctx context.Context, m broker.Message) {
			select {
			case p.inbox <- m:
			case <-ctx.Done(): // closing
			}
		}))
		if err != nil {
			return err
		}
		defer p.c.Close()
		people = append(people, p)
	}
	alice, bob, charlie := people[0], people[1], people[2]
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	// got prints what p was told.
	got := func(p *person, what string) { say("  %s <- %s", p.name, what) }
	// receive prints the next message another client sent p.
	receive := func(p *person) error {
		select {
		case m := <-p.inbox:
			got(p, Describe(m))
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", p.name, ctx.Err())
		}
	}
	for _, p := range people {
		say("%s registers", p.name)
		reg, err := p.c.Register(ctx, p.name)
		if err != nil {
			return err
		}
		got(p, fmt.Sprintf("registered (%s): %s", reg.Status, reg.Message))
	}
	direct := func(from, to *person, text string) error {
		say("%s -> %s: %s", from.name, to.name, text)
		status, err := from.c.Send(ctx, to.name, text)
		if err != nil {
			return err
		}
		if err := receive(to); err != nil {
			return err
		}
		got(from, fmt.Sprintf("%s to %s", status, to.name))
		return nil
	}
	if err := direct(alice, bob, "Hi Bob!"); err != nil {
		return err
	}
	if err := direct(bob, alice, "Hello Alice, good to hear from you"); err != nil {
		return err
	}
	say("Charlie broadcasts: Hello everyone!")
	n, err := charlie.c.Broadcast(ctx, "Hello everyone!")
	if err != nil {
		return err
	}
	if err := receive(alice); err != nil {
		return err
	}
	if err := receive(bob); err != nil {
		return err
	}
	got(charlie, fmt.Sprintf("broadcast reached %d clients", n))
	say("Alice lists the clients")
	list, err := alice.c.List(ctx)
	if err != nil {
		return err
	}
	got(alice, describeList(list))
	say("Charlie -> Dave: anyone there?")
	var refused *broker.Error
	if _, err := charlie.c.Send(ctx, "Dave", "anyone there?"); !errors.As(err, &refused) {
		return fmt.Errorf("a message to nobody: %v", err)
	}
	got(charlie, "error: "+refused.Message)
	say("Bob pings the broker")
	p, err := bob.c.Ping(ctx)
	if err != nil {
		return err
	}
	got(bob, describePong(p))
	return nil
}
