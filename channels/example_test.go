package channels_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmqgo/zmq/channels"
)

// A server, and a Go service in a group with Django consumers: whatever
// the group is sent reaches each member's channel.
func Example() {
	srv, err := channels.NewServer(channels.Config{Bind: "tcp://127.0.0.1:0", Capacity: 2})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	layer, err := channels.Dial(srv.Addr()) // DMB's layer: ip_address, port
	if err != nil {
		panic(err)
	}
	defer layer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	me := layer.NewChannel("gosvc")
	layer.GroupAdd(ctx, "room", me)
	layer.GroupSend(ctx, "room", channels.Message{"type": "chat.message", "text": "hello"})
	msg, err := layer.Receive(ctx, me)
	fmt.Println(msg["text"], err)

	members, _ := layer.GroupChannels(ctx, "room")
	fmt.Println(len(members), members[0] == me)

	layer.Send(ctx, "jobs", channels.Message{"n": 1})
	layer.Send(ctx, "jobs", channels.Message{"n": 2})
	err = layer.Send(ctx, "jobs", channels.Message{"n": 3})
	fmt.Println(errors.Is(err, channels.ErrChannelFull))
	// Output:
	// hello <nil>
	// 1 true
	// true
}
