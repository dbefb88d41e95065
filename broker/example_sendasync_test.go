package broker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zmqgo/zmq/broker"
)

// Several messages in flight at once: SendAsync returns as soon as the
// request is queued, and done gets what Send would have returned, on the
// goroutine that receives the broker's replies (it must not block; it may
// send the next message).
func ExampleClient_SendAsync() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := broker.New(broker.Config{Bind: []string{"tcp://127.0.0.1:0"}})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	got := make(chan broker.Message, 3)
	bob, _ := broker.NewClient(b.Addr(), broker.WithHandler(func(ctx context.Context, m broker.Message) {
		got <- m
	}))
	defer bob.Close()
	bob.Register(ctx, "bob")

	alice, _ := broker.NewClient(b.Addr())
	defer alice.Close()
	alice.Register(ctx, "alice")

	type outcome struct {
		n      int
		status string
		err    error
	}
	outcomes := make(chan outcome, 4)
	for i, target := range []string{"bob", "bob", "carol", "bob"} {
		err := alice.SendAsync(target, fmt.Sprint("message ", i), func(status string, err error) {
			outcomes <- outcome{i, status, err}
		})
		if err != nil { // not sent: no connection, or too large; done is not called
			panic(err)
		}
	}
	// The broker answers a client's requests in order.
	for range 4 {
		o := <-outcomes
		fmt.Printf("%d: %q %v\n", o.n, o.status, o.err)
	}
	for range 3 {
		m := <-got
		fmt.Println("bob got", m.Text())
	}
	// Output:
	// 0: "delivered" <nil>
	// 1: "delivered" <nil>
	// 2: "" broker: client "carol" is not registered
	// 3: "delivered" <nil>
	// bob got message 0
	// bob got message 1
	// bob got message 3
}
