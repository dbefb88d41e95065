// Command multihop routes messages across a tree of nodes, several hops
// each way: top at the root, east and west below it. Every node keeps a
// routing table of the names below it, learned from its children's
// register messages; a message goes down when the destination is below,
// up otherwise, and records its route_path as it goes. A destination no
// node knows comes back to the sender as a routing_error.
//
// With no arguments it runs top, east and west in one process and sends a
// few messages. As separate programs (each reads "destination text" lines
// and prints what reaches it):
//
//	multihop -role node -name top -bind tcp://127.0.0.1:5560
//	multihop -role node -name east -parent tcp://127.0.0.1:5560
//	multihop -role node -name west -parent tcp://127.0.0.1:5560
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
		fmt.Fprintln(os.Stderr, "multihop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, in io.Reader, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("multihop", flag.ContinueOnError)
	role := fs.String("role", "demo", "demo or node")
	name := fs.String("name", "top", "node: its name")
	bind := fs.String("bind", "", "node: endpoint its children connect to")
	parent := fs.String("parent", "", "node: its parent's endpoint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "demo":
		return demo(ctx, w)
	case "node":
		return nodeRole(ctx, in, w, NodeConfig{Name: *name, Bind: *bind, Parent: *parent})
	}
	return fmt.Errorf("unknown role %q", *role)
}

// nodeRole runs one node: lines "destination text" from in are sent, and
// what reaches the node is printed. It ends when in does, or on a signal.
func nodeRole(ctx context.Context, in io.Reader, w io.Writer, cfg NodeConfig) error {
	f := reactor.NewFactory()
	f.RegisterForShutdown()
	defer f.Shutdown()
	n, err := NewNode(f, cfg)
	if err != nil {
		return err
	}
	if a := n.Addr(); a != "" {
		fmt.Fprintf(w, "%s listening on %s\n", n.Name, a)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-f.Done():
				return
			}
		}
	}()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			if dest, text, found := strings.Cut(strings.TrimSpace(line), " "); found {
				n.Send(dest, text)
			}
		case e := <-n.Delivered:
			fmt.Fprintf(w, "%s <- %s\n", n.Name, Describe(e))
		case <-f.Done():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func demo(ctx context.Context, w io.Writer) error {
	f := reactor.NewFactory()
	defer f.Shutdown()
	top, err := NewNode(f, NodeConfig{Name: "top", Bind: "tcp://127.0.0.1:0"})
	if err != nil {
		return err
	}
	east, err := NewNode(f, NodeConfig{Name: "east", Parent: top.Addr()})
	if err != nil {
		return err
	}
	west, err := NewNode(f, NodeConfig{Name: "west", Parent: top.Addr()})
	if err != nil {
		return err
	}
	if err := top.WaitRoutes(ctx, "east", "west"); err != nil {
		return err
	}
	fmt.Fprintf(w, "top routes: %s\n", strings.Join(top.Routes(), ", "))
	for _, m := range []struct {
		from, to *Node
		dest     string
		text     string
	}{
		{east, west, "west", "hello west"},
		{west, east, "east", "hello east, got yours"},
		{west, top, "top", "status ok"},
		{top, east, "east", "new config"},
		{east, east, "north", "anyone up north?"}, // no such node: the error comes back
	} {
		fmt.Fprintf(w, "%s -> %s: %s\n", m.from.Name, m.dest, m.text)
		m.from.Send(m.dest, m.text)
		select {
		case e := <-m.to.Delivered:
			fmt.Fprintf(w, "  %s <- %s\n", m.to.Name, Describe(e))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
