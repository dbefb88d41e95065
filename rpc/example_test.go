package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmqgo/zmq/rpc"
)

// A Thing served over inproc and called with the Client; a hololinked
// Python client would reach it over tcp or ipc the same way.
func Example() {
	th := rpc.NewThing("lamp")
	th.AddProperty(rpc.Property{Name: "brightness", Type: "integer", Default: 50})
	th.AddAction(rpc.Action{Name: "blink", Params: []string{"times"},
		Func: func(ctx context.Context, a rpc.Args) (any, error) {
			n, err := a.Float("times", 1)
			return map[string]any{"blinked": n}, err
		}})

	s, _ := rpc.NewServer("lamp")
	s.AddThing(th)
	ep, _ := s.Listen("inproc://example-lamp")
	go s.Serve(context.Background())
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, ep, "lamp")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	c.WriteProperty(ctx, "lamp", "brightness", 80)
	var b int
	c.ReadProperty(ctx, "lamp", "brightness", &b)
	fmt.Println("brightness", b)

	var r map[string]float64
	c.InvokeAction(ctx, "lamp", "blink", map[string]any{"__args__": []any{3}}, &r)
	fmt.Println("blinked", r["blinked"])

	var e *rpc.Exception
	err = c.WriteProperty(ctx, "lamp", "brightness", "max")
	if errors.As(err, &e) {
		fmt.Println(e.Type+":", e.Message)
	}
	// Output:
	// brightness 80
	// blinked 3
	// TypeError: expected a value of type integer, got str
}

// Timeouts: the server answers TIMEOUT when an action outlives the
// request's execution timeout, and cancels the action's context.
func ExampleCallTimeouts() {
	s, _ := rpc.NewServer("demo")
	s.AddThing(rpc.NewDemoThing("demo"))
	ep, _ := s.Listen("inproc://example-timeouts")
	go s.Serve(context.Background())
	defer s.Close()

	ctx := context.Background()
	c, _ := rpc.Dial(ctx, ep, "demo")
	defer c.Close()
	err := c.InvokeAction(ctx, "demo", "sleep_for", map[string]any{"seconds": 10}, nil,
		rpc.CallTimeouts(time.Second, 50*time.Millisecond))
	var te *rpc.TimeoutError
	fmt.Println(errors.As(err, &te), te.Kind, errors.Is(err, context.DeadlineExceeded))
	// Output: true execution true
}
