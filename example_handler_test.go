package zmq_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/zmqgo/zmq"
)

// A ROUTER server whose handler answers each request on the goroutine that
// read it: no receiving loop, and the replies sent with TrySend while the
// handler runs are written together when it returns.
func ExampleWithHandler() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var srv *zmq.Socket
	srv, err := zmq.NewSocket(zmq.Router, zmq.WithLinger(0), zmq.WithHandler(func(m zmq.Msg) {
		// m.Frames[0] is the client's routing id: keep it to reply. The
		// handler runs for several clients at once; it must not block on
		// srv (Send waiting for room, Close), hence TrySend.
		srv.TrySend(zmq.NewMsg(m.Frames[0], bytes.ToUpper(m.Frames[1])))
	}))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.Bind("tcp://127.0.0.1:0"); err != nil {
		panic(err)
	}

	client, _ := zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0))
	defer client.Close()
	client.Connect(srv.LastEndpoint())
	for _, word := range []string{"hello", "handler"} {
		client.Send(ctx, zmq.NewMsgString(word))
	}
	for range 2 {
		reply, err := client.Recv(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(reply.String())
	}
	// Output:
	// HELLO
	// HANDLER
}

// A ROUTER server that reads its requests where the connection read them
// (WithBorrowedFrames): what the handler keeps or sends is a copy made
// before it returns. Here it keeps each word as a string (a copy) and
// answers with fresh bytes.
func ExampleWithBorrowedFrames() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var srv *zmq.Socket
	var words []string // one client here: no lock needed
	srv, err := zmq.NewSocket(zmq.Router, zmq.WithLinger(0), zmq.WithBorrowedFrames(), zmq.WithHandler(func(m zmq.Msg) {
		word := string(m.Frames[1]) // a copy: m.Frames[1] is valid only until the handler returns
		words = append(words, word)
		// The routing id is the socket's own; the reply's body is new.
		srv.TrySend(zmq.NewMsg(m.Frames[0], []byte(fmt.Sprintf("%d:%s", len(words), word))))
	}))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.Bind("tcp://127.0.0.1:0"); err != nil {
		panic(err)
	}

	client, _ := zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0))
	defer client.Close()
	client.Connect(srv.LastEndpoint())
	for _, word := range []string{"borrowed", "frames"} {
		client.Send(ctx, zmq.NewMsgString(word))
	}
	for range 2 {
		reply, err := client.Recv(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(reply.String())
	}
	// Output:
	// 1:borrowed
	// 2:frames
}
