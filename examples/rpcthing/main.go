// Command rpcthing serves a Go Thing, an oven, to hololinked clients over
// hololinked's ZMQ RPC (package rpc).
//
//	rpcthing -bind tcp://127.0.0.1:6000
//
// From Python, with hololinked:
//
//	from hololinked.client import ClientFactory
//	oven = ClientFactory.zmq("oven", "oven", "tcp://127.0.0.1:6000")
//	oven.setpoint = 180
//	oven.heat(minutes=0.01)
//	oven.temperature
//
// or with the bare pyzmq client beside this file:
//
//	/usr/bin/python3 client.py --connect tcp://127.0.0.1:6000 oven read temperature
//
// The oven has a read-only property temperature (read from the "hardware"
// by a Get hook), a writable setpoint (an integer, checked), an action
// heat(minutes) that runs as long as it says unless the caller's execution
// timeout cancels it first, and an event ready, published when heat ends.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/zmqgo/zmq/rpc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stderr, os.Args[1:], nil); err != nil {
		fmt.Fprintln(os.Stderr, "rpcthing:", err)
		os.Exit(1)
	}
}

// Oven is the "hardware".
type Oven struct {
	mu          sync.Mutex
	temperature float64
}

func (o *Oven) Temperature() float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.temperature
}

// NewOvenThing describes the oven as a Thing.
func NewOvenThing(o *Oven) *rpc.Thing {
	t := rpc.NewThing("oven")
	t.Title = "Oven"
	t.AddProperty(rpc.Property{Name: "temperature", Type: "number", ReadOnly: true,
		Description: "current temperature, °C",
		Get:         func(context.Context) (any, error) { return o.Temperature(), nil }})
	t.AddProperty(rpc.Property{Name: "setpoint", Type: "integer", Default: 20,
		Description: "temperature heat() aims for, °C"})
	t.AddAction(rpc.Action{Name: "heat", Params: []string{"minutes"},
		Description: "heat towards the setpoint for the given minutes",
		Func: func(ctx context.Context, a rpc.Args) (any, error) {
			minutes, err := a.Float("minutes", 1)
			if err != nil {
				return nil, err
			}
			if minutes < 0 {
				return nil, rpc.Errorf("ValueError", "minutes must not be negative, got %g", minutes)
			}
			sp, _ := rpc.ToFloat(t.Value("setpoint"))
			select {
			case <-time.After(time.Duration(minutes * float64(time.Minute))):
			case <-ctx.Done(): // the caller's execution timeout: stop heating
				return nil, ctx.Err()
			}
			o.mu.Lock()
			o.temperature = sp
			o.mu.Unlock()
			t.Emit("ready", map[string]any{"temperature": sp})
			return sp, nil
		}})
	t.AddEvent(rpc.Event{Name: "ready", Description: "heat() finished"})
	return t
}

// run serves the oven until ctx ends. ready, if not nil, receives the
// request endpoint once serving.
func run(ctx context.Context, log io.Writer, args []string, ready chan<- string) error {
	fs := flag.NewFlagSet("rpcthing", flag.ContinueOnError)
	bind := fs.String("bind", "tcp://127.0.0.1:6000", "serve on `ADDR` (events on port+1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := rpc.NewServer("oven")
	if err != nil {
		return err
	}
	if err := s.AddThing(NewOvenThing(&Oven{temperature: 20})); err != nil {
		return err
	}
	ep, err := s.Listen(*bind)
	if err != nil {
		s.Close()
		return err
	}
	fmt.Fprintf(log, "rpcthing: serving oven at %s, events at %s\n", ep, s.EventEndpointFor(ep))
	if ready != nil {
		ready <- ep
	}
	if err := s.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
