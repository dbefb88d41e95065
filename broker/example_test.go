package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/broker"
)

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := broker.New(broker.Config{Bind: []string{"tcp://127.0.0.1:0"}})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	got := make(chan broker.Message, 1)
	bob, _ := broker.NewClient(b.Addr(), broker.WithHandler(func(ctx context.Context, m broker.Message) {
		got <- m
	}))
	defer bob.Close()
	bob.Register(ctx, "bob")

	alice, _ := broker.NewClient(b.Addr())
	defer alice.Close()
	reg, _ := alice.Register(ctx, "alice")
	fmt.Println(reg.Message)
	status, _ := alice.Send(ctx, "bob", "hi Bob")
	fmt.Println(status)
	m := <-got
	fmt.Printf("bob got a %s from %s: %s\n", m.Type, m.From, m.Text())
	list, _ := alice.List(ctx)
	for _, c := range list {
		fmt.Println(c.Name, c.MessageCount)
	}
	// Output:
	// Welcome, alice!
	// delivered
	// bob got a direct_message from alice: hi Bob
	// alice 3
	// bob 1
}

// A CURVE broker whose clients register only the names their key allows.
func ExampleNameRules() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverPub, serverSec, err := zmq.NewCurveKeypair()
	if err != nil {
		panic(err)
	}
	sensorPub, sensorSec, err := zmq.NewCurveKeypair()
	if err != nil {
		panic(err)
	}
	rules, err := broker.ParseNameRules(strings.NewReader(sensorPub.String() + ": sensor-*\n"))
	if err != nil {
		panic(err)
	}
	auth := zmq.NewAuthenticator()
	auth.AllowAnyCurveKey(true) // any key may connect; its key is its identity
	b, err := broker.New(broker.Config{
		Bind:     []string{"tcp://127.0.0.1:0"},
		Security: []zmq.Option{zmq.WithCurveServer(serverSec), zmq.WithZAPHandler(auth)},
		Names:    rules,
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	c, err := broker.NewClient(b.Addr(), broker.WithCurve(serverPub, sensorPub, sensorSec))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, "sensor-1"); err != nil {
		panic(err)
	}
	fmt.Println(c.Name())
	_, err = c.Register(ctx, "alice")
	var refused *broker.Error
	fmt.Println(errors.As(err, &refused))
	// Output:
	// sensor-1
	// true
}
