package zmq_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmqgo/zmq"
)

// A PUSH socket hands each message to one PULL peer.
func Example_pushPull() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pull, _ := zmq.NewSocket(zmq.Pull)
	defer pull.Close()
	if err := pull.Bind("tcp://127.0.0.1:0"); err != nil {
		panic(err)
	}

	push, _ := zmq.NewSocket(zmq.Push, zmq.WithLinger(time.Second))
	defer push.Close()
	// Connecting before or after the peer binds both work: messages queue
	// until the connection is up.
	push.Connect(pull.LastEndpoint())
	push.Send(ctx, zmq.NewMsgString("job", "42"))

	m, err := pull.Recv(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", m.Frames)
	// Output: ["job" "42"]
}

// REQ and REP add and remove the envelope themselves; the application sees
// only its own frames.
func Example_reqRep() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	rep, _ := zmq.NewSocket(zmq.Rep, zmq.WithLinger(0))
	defer rep.Close()
	rep.Bind("tcp://127.0.0.1:0")
	go func() {
		req, err := rep.Recv(ctx)
		if err != nil {
			return
		}
		rep.Send(ctx, zmq.NewMsgString("hello, "+string(req.Frames[0])))
	}()

	req, _ := zmq.NewSocket(zmq.Req, zmq.WithLinger(0))
	defer req.Close()
	req.Connect(rep.LastEndpoint())
	req.Send(ctx, zmq.NewMsgString("world"))
	reply, err := req.Recv(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(reply)
	// Output: hello, world
}

// A ROUTER sees who sent each message and replies by naming the peer in the
// first frame.
func Example_router() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	router, _ := zmq.NewSocket(zmq.Router, zmq.WithLinger(0))
	defer router.Close()
	router.Bind("tcp://127.0.0.1:0")

	dealer, _ := zmq.NewSocket(zmq.Dealer, zmq.WithRoutingID([]byte("alice")), zmq.WithLinger(0))
	defer dealer.Close()
	dealer.Connect(router.LastEndpoint())
	dealer.Send(ctx, zmq.NewMsgString("ping"))

	m, _ := router.Recv(ctx)
	fmt.Printf("from %s: %s\n", m.Frames[0], m.Frames[1])
	router.Send(ctx, zmq.NewMsg(m.Frames[0], []byte("pong")))
	reply, _ := dealer.Recv(ctx)
	fmt.Println(reply)
	// Output:
	// from alice: ping
	// pong
}

// A SUB socket receives only messages whose first frame starts with one of
// its subscriptions. Subscriptions take a moment to reach the publisher, so
// a publisher that must not lose the first messages waits until a
// subscriber has seen one.
func Example_pubSub() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pub, _ := zmq.NewSocket(zmq.Pub, zmq.WithLinger(0))
	defer pub.Close()
	pub.Bind("tcp://127.0.0.1:0")

	sub, _ := zmq.NewSocket(zmq.Sub, zmq.WithLinger(0))
	defer sub.Close()
	sub.Subscribe([]byte("weather."))
	sub.Connect(pub.LastEndpoint())

	got := make(chan zmq.Msg)
	go func() {
		for {
			m, err := sub.Recv(ctx)
			if err != nil {
				return
			}
			select {
			case got <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		pub.Send(ctx, zmq.NewMsgString("news.sport", "ignored"))
		pub.Send(ctx, zmq.NewMsgString("weather.paris", "sunny"))
		select {
		case m := <-got:
			fmt.Println(m)
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Output: weather.paris	sunny
}

// A receiver of large messages that is done with each one before the next
// hands its buffers back with Release: later receives refill them instead of
// allocating (and faulting in, and collecting) a fresh buffer per message.
func ExampleMsg_Release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pull, _ := zmq.NewSocket(zmq.Pull)
	defer pull.Close()
	if err := pull.Bind("tcp://127.0.0.1:0"); err != nil {
		panic(err)
	}
	push, _ := zmq.NewSocket(zmq.Push, zmq.WithLinger(time.Second))
	defer push.Close()
	push.Connect(pull.LastEndpoint())
	for range 3 {
		push.Send(ctx, zmq.NewMsg(make([]byte, 64<<10)))
	}

	total := 0
	for range 3 {
		m, err := pull.Recv(ctx)
		if err != nil {
			panic(err)
		}
		total += len(m.Frames[0]) // use the message ...
		m.Release()               // ... then let its buffer serve the next one
	}
	fmt.Println(total)
	// Output: 196608
}

// A sender of large messages can take their buffers from zmqgo: each goes
// back to a pool once written, so the sender makes no garbage and its memory
// stays near what its queue holds (HWM × size).
func ExampleAllocMsg() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pull, _ := zmq.NewSocket(zmq.Pull)
	defer pull.Close()
	if err := pull.Bind("tcp://127.0.0.1:0"); err != nil {
		panic(err)
	}
	push, _ := zmq.NewSocket(zmq.Push, zmq.WithLinger(time.Second))
	defer push.Close()
	push.Connect(pull.LastEndpoint())

	m := zmq.AllocMsg(64 << 10)
	copy(m.Frames[0], "payload")
	push.Send(ctx, m) // m is the socket's now: do not touch or resend it

	r, err := pull.Recv(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(r.Frames[0]), string(r.Frames[0][:7]))
	r.Release()
	// Output: 65536 payload
}

// A server that limits request sizes answers an oversized request instead
// of buffering it or cutting the connection: WithTruncateOver reads it off
// the wire and hands over only the routing id and the size it had.
func ExampleWithTruncateOver() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	server, err := zmq.NewSocket(zmq.Router, zmq.WithTruncateOver(64<<10), zmq.WithLinger(0))
	if err != nil {
		panic(err)
	}
	defer server.Close()
	if err := server.Bind("tcp://127.0.0.1:0"); err != nil {
		panic(err)
	}

	client, err := zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	if err := client.Connect(server.LastEndpoint()); err != nil {
		panic(err)
	}
	if err := client.Send(ctx, zmq.NewMsg(make([]byte, 1<<20))); err != nil {
		panic(err)
	}

	req, err := server.Recv(ctx)
	if err != nil {
		panic(err)
	}
	if req.Truncated > 0 {
		reply := fmt.Sprintf("error: request of %d bytes, limit %d", req.Truncated, 64<<10)
		if err := server.Send(ctx, zmq.NewMsg(req.Frames[0], []byte(reply))); err != nil {
			panic(err)
		}
	}
	m, err := client.Recv(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(m)
	// Output: error: request of 1048576 bytes, limit 65536
}

// Shutdown waits until queued messages are written, through
// reconnections, and says what it could not deliver; Close would have
// returned at once, since no peer is there.
func ExampleSocket_Shutdown() {
	push, err := zmq.NewSocket(zmq.Push)
	if err != nil {
		panic(err)
	}
	if err := push.Connect("tcp://127.0.0.1:1"); err != nil { // nobody listens
		panic(err)
	}
	if err := push.Send(context.Background(), zmq.NewMsgString("job")); err != nil {
		panic(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = push.Shutdown(ctx)
	var ue *zmq.UndeliveredError
	if errors.As(err, &ue) {
		fmt.Println(ue.Messages, "undelivered; a peer connected:", ue.Connected)
	}
	// Output: 1 undelivered; a peer connected: false
}
