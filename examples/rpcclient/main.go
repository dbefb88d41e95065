// Command rpcclient is a Go client of a Python Thing served by hololinked
// (or anything speaking hololinked's ZMQ RPC): it fetches the Thing
// Description, reads and writes a property, calls actions (one that raises,
// one that outlives its execution timeout, a batch in flight at once) and
// listens to an event.
//
//	rpcclient -connect tcp://127.0.0.1:60000 -server demo -thing demo
//
// It expects the demo Thing of "zmqgo rpc demo" (property count, actions
// sleep_for, fail and emit, event tick). In Python, with hololinked:
//
//	class Demo(Thing):
//	    count = Number(default=1)
//	    tick = Event()
//	    @action()
//	    def sleep_for(self, seconds=0.1): time.sleep(seconds); return {"slept": seconds}
//	    @action()
//	    def fail(self): raise ValueError("deliberate failure from Demo.fail")
//	    @action()
//	    def emit(self, value=0): self.tick.push({"value": value}); return value
//	Demo(id="demo").run_with_zmq_server(access_points="tcp://*:60000")
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"time"

	"github.com/zmqgo/zmq/rpc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rpcclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("rpcclient", flag.ContinueOnError)
	addr := fs.String("connect", "tcp://127.0.0.1:60000", "the server's request `ADDR`")
	server := fs.String("server", "demo", "the server `ID`")
	thing := fs.String("thing", "demo", "the Thing `ID`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, *addr, *server)
	if err != nil {
		return err
	}
	defer c.Close()

	td, err := c.ThingDescription(ctx, *thing)
	if err != nil {
		return err
	}
	var names []string
	for n := range td["actions"].(map[string]any) {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(out, "thing %v: actions %v\n", td["id"], names)

	var count float64
	if err := c.ReadProperty(ctx, *thing, "count", &count); err != nil {
		return err
	}
	if err := c.WriteProperty(ctx, *thing, "count", count+1); err != nil {
		return err
	}
	if err := c.ReadProperty(ctx, *thing, "count", &count); err != nil {
		return err
	}
	fmt.Fprintf(out, "count is now %v\n", count)

	var slept struct{ Slept float64 }
	if err := c.InvokeAction(ctx, *thing, "sleep_for", map[string]any{"seconds": 0.05}, &slept); err != nil {
		return err
	}
	fmt.Fprintf(out, "slept %v s\n", slept.Slept)

	var e *rpc.Exception
	if err := c.InvokeAction(ctx, *thing, "fail", nil, nil); errors.As(err, &e) {
		fmt.Fprintf(out, "fail raised %s: %s (%d traceback lines)\n", e.Type, e.Message, len(e.Traceback))
	} else {
		return fmt.Errorf("fail: %v", err)
	}

	err = c.InvokeAction(ctx, *thing, "sleep_for", map[string]any{"seconds": 1}, nil,
		rpc.CallTimeouts(5*time.Second, 200*time.Millisecond))
	if errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(out, "sleep_for(1) with a 200 ms execution timeout: %v\n", err)
	} else {
		return fmt.Errorf("sleep_for(1): %v", err)
	}

	// Many requests in flight; replies are matched by message id.
	var calls []*rpc.Future
	for i := range 10 {
		calls = append(calls, c.InvokeActionAsync(ctx, *thing, "emit", map[string]any{"value": i}))
	}
	sum := 0
	for _, f := range calls {
		var v int
		if err := f.Result(ctx, &v); err != nil {
			return err
		}
		sum += v
	}
	fmt.Fprintf(out, "10 emits in flight, values add up to %d\n", sum)

	sub, err := c.Subscribe(ctx, *thing, "tick")
	if err != nil {
		return err
	}
	defer sub.Close()
	// A hololinked publisher has no last-value cache: emit until the
	// subscription is live.
	for {
		if err := c.InvokeAction(ctx, *thing, "emit", map[string]any{"value": 42}, nil); err != nil {
			return err
		}
		select {
		case ev := <-sub.C:
			var v struct{ Value int }
			if err := ev.Decode(&v); err != nil {
				return err
			}
			if v.Value == 42 {
				fmt.Fprintf(out, "event %s: value %d\n", ev.Topic, v.Value)
				return nil
			}
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
