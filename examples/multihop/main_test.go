package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
	"github.com/zmqgo/zmq/reactor"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, nil, &out, nil); err != nil {
		t.Fatal(err)
	}
	want := `top routes: east->east, west->west
east -> west: hello west
  west <- "hello west" from east via east > top > west
west -> east: hello east, got yours
  east <- "hello east, got yours" from west via west > top > east
west -> top: status ok
  top <- "status ok" from west via west > top
top -> east: new config
  east <- "new config" from top via top > east
east -> north: anyone up north?
  east <- routing error from top: no route to north ("anyone up north?" sent along east > top), back via top > east
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// A deeper tree: leaves under east and west, four hops from leaf to leaf,
// with each node's table holding only what is below it.
func TestDeeperTree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := reactor.NewFactory()
	defer f.Shutdown()
	node := func(cfg NodeConfig) *Node {
		n, err := NewNode(f, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	top := node(NodeConfig{Name: "top", Bind: "tcp://127.0.0.1:0"})
	east := node(NodeConfig{Name: "east", Bind: "tcp://127.0.0.1:0", Parent: top.Addr()})
	west := node(NodeConfig{Name: "west", Bind: "tcp://127.0.0.1:0", Parent: top.Addr()})
	e1 := node(NodeConfig{Name: "east-1", Parent: east.Addr()})
	w1 := node(NodeConfig{Name: "west-1", Parent: west.Addr()})
	if err := top.WaitRoutes(ctx, "east", "west", "east-1", "west-1"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(top.Routes()); got != "[east->east east-1->east west->west west-1->west]" {
		t.Fatalf("top routes %s", got)
	}
	if got := fmt.Sprint(east.Routes()); got != "[east-1->east-1]" {
		t.Fatalf("east routes %s", got)
	}
	e1.Send("west-1", "across the tree")
	e := <-w1.Delivered
	if got := strings.Join(e.RoutePath, ">"); got != "east-1>east>top>west>west-1" || e.OriginalSender != "east-1" || e.Content != "across the tree" {
		t.Fatalf("delivered %+v", e)
	}
	w1.Send("east", "up and down")
	if e := <-east.Delivered; strings.Join(e.RoutePath, ">") != "west-1>west>top>east" {
		t.Fatalf("delivered %+v", e)
	}
	w1.Send("nowhere", "lost")
	e = <-w1.Delivered
	if e.Type != "routing_error" || e.FailedDestination != "nowhere" || strings.Join(e.FailedRoute, ">") != "west-1>west>top" ||
		strings.Join(e.RoutePath, ">") != "top>west>west-1" {
		t.Fatalf("routing error %+v", e)
	}
}

// The node role: top as its own program, east and west in the test.
func TestNodeRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, inW := io.Pipe()
	out := make(ztest.LineWriter, 100)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, in, out, []string{"-role", "node", "-name", "top", "-bind", "tcp://127.0.0.1:0"})
	}()
	addr := strings.TrimSpace(strings.TrimPrefix(<-out, "top listening on "))
	f := reactor.NewFactory()
	defer f.Shutdown()
	east, err := NewNode(f, NodeConfig{Name: "east", Parent: addr})
	if err != nil {
		t.Fatal(err)
	}
	east.Send("top", "hi top")
	if l := <-out; l != "top <- \"hi top\" from east via east > top\n" {
		t.Fatalf("top printed %q", l)
	}
	fmt.Fprintln(inW, "east hi east")
	if e := <-east.Delivered; e.Content != "hi east" {
		t.Fatalf("east got %+v", e)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
