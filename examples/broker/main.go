// Command broker is the router-dealer pattern as a message broker: clients
// (DEALER) register by name with a broker (ROUTER) and send each other
// direct messages and broadcasts, list the clients and ping the broker, in
// JSON messages (see broker.go for the protocol).
//
// With no arguments it runs a broker and the clients Alice, Bob and Charlie
// in one process and prints their conversation. As separate programs:
//
//	broker -role broker -bind tcp://127.0.0.1:5555
//	broker -role client -name Alice -connect tcp://127.0.0.1:5555
//
// A client reads commands from standard input: "@Bob hello" sends Bob a
// direct message, "/list" lists the clients, "/ping" pings the broker, any
// other line is broadcast. It prints what the broker sends.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zmqgo/zmq/reactor"
)

func main() {
	if err := run(context.Background(), os.Stdin, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, in io.Reader, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	role := fs.String("role", "demo", "demo, broker or client")
	bind := fs.String("bind", "tcp://127.0.0.1:5555", "broker: endpoint to bind")
	connect := fs.String("connect", "tcp://127.0.0.1:5555", "client: broker to connect to")
	name := fs.String("name", "Alice", "client: name to register")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "demo":
		return demo(ctx, w)
	case "broker":
		f := reactor.NewFactory()
		f.RegisterForShutdown()
		defer f.Shutdown()
		b, err := NewBroker(f, reactor.Bind(*bind))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "broker listening on %s\n", b.Addr())
		select {
		case <-f.Done():
		case <-ctx.Done():
		}
		return nil
	case "client":
		return clientRole(ctx, in, w, *name, *connect)
	}
	return fmt.Errorf("unknown role %q", *role)
}

// clientRole registers, then runs the commands read from in. Once in is
// exhausted it waits for the answers to its requests and returns.
func clientRole(ctx context.Context, in io.Reader, w io.Writer, name, addr string) error {
	f := reactor.NewFactory()
	f.RegisterForShutdown()
	defer f.Shutdown()
	c, err := NewClient(f, name, addr)
	if err != nil {
		return err
	}
	// Every request gets exactly one answer; count them to know when to go.
	outstanding := 0
	do := func(send func() error) error {
		if err := send(); err != nil {
			return err
		}
		outstanding++
		return nil
	}
	if err := do(c.Register); err != nil {
		return err
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			case <-f.Done():
				return
			}
		}
	}()
	for lines != nil || outstanding > 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			line = strings.TrimSpace(line)
			var err error
			switch {
			case line == "":
				continue
			case line == "/list":
				err = do(c.ListClients)
			case line == "/ping":
				err = do(c.Ping)
			case strings.HasPrefix(line, "@"):
				target, text, _ := strings.Cut(line[1:], " ")
				err = do(func() error { return c.Direct(target, text) })
			default:
				err = do(func() error { return c.Broadcast(line) })
			}
			if err != nil {
				return err
			}
		case m := <-c.Inbox:
			if isReply(m) {
				outstanding--
			}
			fmt.Fprintf(w, "%s: %s\n", name, Describe(m))
		case <-f.Done():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// demo: a broker, Alice, Bob and Charlie, and a scripted conversation.
func demo(ctx context.Context, w io.Writer) error {
	f := reactor.NewFactory()
	defer f.Shutdown()
	b, err := NewBroker(f, reactor.Bind("tcp://127.0.0.1:0"))
	if err != nil {
		return err
	}
	clients := map[string]*Client{}
	for _, name := range []string{"Alice", "Bob", "Charlie"} {
		c, err := NewClient(f, name, b.Addr())
		if err != nil {
			return err
		}
		clients[name] = c
	}
	alice, bob, charlie := clients["Alice"], clients["Bob"], clients["Charlie"]
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	// expect prints the next message of c, which must be of type typ.
	expect := func(c *Client, typ string) error {
		m, err := c.Expect(ctx, typ)
		if err == nil {
			say("  %s <- %s", c.Name, Describe(m))
		}
		return err
	}
	steps := []func() error{
		func() error {
			for _, c := range []*Client{alice, bob, charlie} {
				say("%s registers", c.Name)
				if err := c.Register(); err != nil {
					return err
				}
				if err := expect(c, "registration_ack"); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			say("Alice -> Bob: Hi Bob!")
			alice.Direct("Bob", "Hi Bob!")
			return firstErr(expect(bob, "direct_message"), expect(alice, "delivery_confirmation"))
		},
		func() error {
			say("Bob -> Alice: Hello Alice, good to hear from you")
			bob.Direct("Alice", "Hello Alice, good to hear from you")
			return firstErr(expect(alice, "direct_message"), expect(bob, "delivery_confirmation"))
		},
		func() error {
			say("Charlie broadcasts: Hello everyone!")
			charlie.Broadcast("Hello everyone!")
			return firstErr(expect(alice, "broadcast"), expect(bob, "broadcast"), expect(charlie, "broadcast_confirmation"))
		},
		func() error {
			say("Alice lists the clients")
			alice.ListClients()
			return expect(alice, "client_list")
		},
		func() error {
			say("Charlie -> Dave: anyone there?")
			charlie.Direct("Dave", "anyone there?")
			return expect(charlie, "error")
		},
		func() error {
			say("Bob pings the broker")
			bob.Ping()
			return expect(bob, "pong")
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
