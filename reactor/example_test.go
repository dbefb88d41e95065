package reactor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zmqgo/zmq/reactor"
)

// A PULL connection's handler runs on the factory's loop for every message
// a PUSH connection sends it.
func Example_pushPull() {
	f := reactor.NewFactory()
	defer f.Shutdown()

	got := make(chan string)
	pull, err := reactor.NewPullConnection(f, func(parts [][]byte) {
		got <- fmt.Sprintf("%q", parts)
	}, reactor.Bind("tcp://127.0.0.1:0"))
	if err != nil {
		panic(err)
	}
	push, err := reactor.NewPushConnection(f, reactor.Connect(pull.Addr()))
	if err != nil {
		panic(err)
	}
	push.Push([]byte("job"), []byte("42"))
	fmt.Println(<-got)
	// Output: ["job" "42"]
}

// Requests return futures. The REP handler replies with the id it was
// given; the connection is made without endpoints so the handler's
// variable is set before any request can arrive.
func Example_requestReply() {
	f := reactor.NewFactory()
	defer f.Shutdown()

	var rep *reactor.RepConnection
	rep, err := reactor.NewRepConnection(f, func(id []byte, parts [][]byte) {
		rep.Reply(id, append([]byte("hello, "), parts[0]...))
	})
	if err != nil {
		panic(err)
	}
	if err := rep.AddEndpoints(reactor.Bind("tcp://127.0.0.1:0")); err != nil {
		panic(err)
	}

	req, err := reactor.NewReqConnection(f, reactor.Connect(rep.Addr()))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the request's timeout
	defer cancel()
	reply, err := req.SendMsg(ctx, []byte("world")).Wait(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", reply[0])
	// Output: hello, world
}

// CallLater schedules work on the loop; the timer it returns can be
// cancelled.
func ExampleFactory_CallLater() {
	f := reactor.NewFactory()
	defer f.Shutdown()

	done := make(chan struct{})
	never := f.CallLater(time.Hour, func() { fmt.Println("never") })
	f.CallLater(10*time.Millisecond, func() {
		fmt.Println("cancelled:", never.Cancel())
		close(done)
	})
	<-done
	// Output: cancelled: true
}
