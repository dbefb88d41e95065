package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zmqgo/zmq/rpc"
)

// rpcCommand is `zmqgo rpc`: hololinked's ZMQ RPC (package rpc) as a
// program: serve the demo Thing, or read, write, invoke, subscribe to and
// describe a Thing served by hololinked or zmqgo.
func rpcCommand() *command {
	return &command{
		name:    "rpc",
		summary: "serve or call Things over hololinked's ZMQ RPC",
		help: `Subcommands (flags may come before or after the arguments):
	zmqgo rpc demo --bind ADDR [--id demo] [--allow-exit]
	zmqgo rpc read --connect ADDR [--server ID] THING PROPERTY
	zmqgo rpc write --connect ADDR [--server ID] THING PROPERTY JSON
	zmqgo rpc invoke --connect ADDR [--server ID] [--oneway]
	      [--invocation-timeout D] [--execution-timeout D] THING ACTION [JSON-OBJECT]
	zmqgo rpc subscribe --connect ADDR [--server ID] [--count N] THING EVENT
	zmqgo rpc td --connect ADDR [--server ID] THING

demo serves the demo Thing (id --id, also the server id): property count
(number, default 1, writable); actions sleep_for(seconds=0.1) returning
{"slept": seconds}, fail() raising ValueError, emit(value=0) publishing
event tick {"value": value} and returning value. ADDR (repeatable) is
tcp://HOST:PORT (port 0: any free port whose successor is free too), TCP
(hololinked's search from port 60000), ipc://PATH, IPC (hololinked's
~/.hololinked/sockets paths), inproc://NAME or INPROC. Each request
endpoint is printed on stderr as "zmqgo: bound ADDR", its event endpoint
(tcp: port+1) as "zmqgo: events ADDR". A client's EXIT is refused unless
--allow-exit. Runs until SIGINT or SIGTERM.

The client subcommands connect to the server with id --server (default
THING, as hololinked's run_with_zmq_server uses the Thing id) at the
request address ADDR, retrying the handshake every 500 ms. Results are
JSON on stdout: read prints the value, invoke the return value (nothing
with --oneway), write nothing, td the Thing Description, subscribe one
line per event (its value), at the event address the Thing Description
gives (as hololinked's client finds it). A JSON argument that starts
with '-' may follow "--".

Exit status: 0 success; 1 the server raised (EXCEPTION or INVALID_MESSAGE:
"TYPE: MESSAGE" on stderr) or another runtime error; 2 usage error;
3 timeout (the server's TIMEOUT, or --timeout without a reply).`,
		flags: func(fs *flag.FlagSet) action {
			c := &rpcCmd{fs: fs}
			c.register(fs)
			return c
		},
	}
}

type rpcCmd struct {
	fs  *flag.FlagSet
	sub string
	pos []string

	bind      listFlag
	id        string
	allowExit bool

	connect, server string
	oneway          bool
	invocation      time.Duration
	execution       time.Duration
	timeout         time.Duration
	count           int
	verbose         bool
	sec             secFlags
}

func (c *rpcCmd) register(fs *flag.FlagSet) {
	fs.Var(&c.bind, "bind", "demo: serve on `ADDR` (repeatable)")
	fs.StringVar(&c.id, "id", "demo", "demo: the Thing and server `ID`")
	fs.BoolVar(&c.allowExit, "allow-exit", false, "demo: stop when a client sends EXIT")
	fs.StringVar(&c.connect, "connect", "", "the server's request address `ADDR`")
	fs.StringVar(&c.server, "server", "", "the server `ID` (default THING)")
	fs.BoolVar(&c.oneway, "oneway", false, "invoke: ask for no reply")
	fs.DurationVar(&c.invocation, "invocation-timeout", 5*time.Second, "the server must start the operation within `D` (negative: no limit)")
	fs.DurationVar(&c.execution, "execution-timeout", 5*time.Second, "the server must finish the operation within `D` (negative: no limit)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up after `D` without the handshake or the reply")
	fs.IntVar(&c.count, "count", 0, "subscribe: stop after `N` events (0: run until a signal)")
	fs.BoolVar(&c.verbose, "verbose", false, "log at debug level on stderr")
	c.sec.register(fs)
}

var rpcArity = map[string][2]int{ // positional arguments after the subcommand: min, max
	"demo": {0, 0}, "read": {2, 2}, "write": {3, 3}, "invoke": {2, 3}, "subscribe": {2, 2}, "td": {1, 1},
}

func (c *rpcCmd) validate(args []string) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: demo, read, write, invoke, subscribe or td")
	}
	c.sub = args[0]
	arity, ok := rpcArity[c.sub]
	if !ok {
		return fmt.Errorf("unknown rpc subcommand %q (want demo, read, write, invoke, subscribe or td)", c.sub)
	}
	// Flags may follow the arguments: parse them wherever they are.
	rest := args[1:]
	for len(rest) > 0 {
		a := rest[0]
		if a == "--" {
			c.pos = append(c.pos, rest[1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" || isNumber(a) {
			c.pos = append(c.pos, a)
			rest = rest[1:]
			continue
		}
		if err := c.fs.Parse(rest); err != nil {
			return flagError(err)
		}
		next := c.fs.Args()
		if n := len(rest) - len(next); n > 0 && rest[n-1] == "--" {
			c.pos = append(c.pos, next...)
			break
		}
		rest = next
	}
	if len(c.pos) < arity[0] || len(c.pos) > arity[1] {
		return fmt.Errorf("%s: want %s", c.sub, strings.TrimPrefix(rpcSynopsis[c.sub], "zmqgo rpc "))
	}
	if err := c.sec.validate(); err != nil {
		return err
	}
	if c.sub == "demo" {
		if len(c.bind) == 0 {
			return errors.New("demo: want at least one --bind ADDR")
		}
		return nil
	}
	if c.connect == "" {
		return fmt.Errorf("%s: want --connect ADDR", c.sub)
	}
	if c.server == "" {
		c.server = c.pos[0]
	}
	switch c.sub {
	case "write":
		if !json.Valid([]byte(c.pos[2])) {
			return fmt.Errorf("write: the value %q is not JSON", c.pos[2])
		}
	case "invoke":
		if len(c.pos) == 3 {
			var m map[string]any
			if err := json.Unmarshal([]byte(c.pos[2]), &m); err != nil || m == nil {
				return fmt.Errorf("invoke: the arguments %q are not a JSON object", c.pos[2])
			}
		}
	case "subscribe":
		if c.count < 0 {
			return errors.New("subscribe: --count must not be negative")
		}
	}
	return nil
}

var rpcSynopsis = map[string]string{
	"demo":      "zmqgo rpc demo --bind ADDR [--id demo]",
	"read":      "zmqgo rpc read --connect ADDR [--server ID] THING PROPERTY",
	"write":     "zmqgo rpc write --connect ADDR [--server ID] THING PROPERTY JSON",
	"invoke":    "zmqgo rpc invoke --connect ADDR [--server ID] [--oneway] THING ACTION [JSON-OBJECT]",
	"subscribe": "zmqgo rpc subscribe --connect ADDR [--server ID] [--count N] THING EVENT",
	"td":        "zmqgo rpc td --connect ADDR [--server ID] THING",
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// rpcExit is an error with its own exit status.
type rpcExit struct {
	code int
	err  error
}

func (e *rpcExit) Error() string { return e.err.Error() }
func (e *rpcExit) Unwrap() error { return e.err }
func (e *rpcExit) ExitCode() int { return e.code }

const exitTimeout = 3

// rpcError maps a call's error to the exit status contract.
func rpcError(err error) error {
	if err == nil {
		return nil
	}
	var ex *rpc.Exception
	if errors.As(err, &ex) {
		msg := ex.Type + ": " + ex.Message
		if ex.Invalid {
			msg = "invalid message: " + msg
		}
		return &rpcExit{code: exitFailure, err: errors.New(msg)}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rpc.ErrHandshake) {
		return &rpcExit{code: exitTimeout, err: err}
	}
	return err
}

func (c *rpcCmd) run(ctx context.Context, e *env) error {
	log := e.logger(c.verbose)
	if c.sub == "demo" {
		return c.demo(ctx, e)
	}
	opts := []rpc.Option{rpc.WithLogger(log), rpc.WithSocketOptions(c.sec.opts...),
		rpc.WithTimeouts(c.invocation, c.execution)}
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl, err := rpc.Dial(tctx, c.connect, c.server, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return nil // a signal
		}
		return rpcError(err)
	}
	defer cl.Close()
	thing := c.pos[0]
	var resp *rpc.Response
	switch c.sub {
	case "read":
		resp, err = cl.Do(tctx, thing, c.pos[1], rpc.OpReadProperty, nil)
	case "write":
		_, err = cl.Do(tctx, thing, c.pos[1], rpc.OpWriteProperty, json.RawMessage(c.pos[2]))
		return rpcError(err)
	case "invoke":
		var args any = json.RawMessage("{}")
		if len(c.pos) == 3 {
			args = json.RawMessage(c.pos[2])
		}
		var copts []rpc.CallOption
		if c.oneway {
			copts = append(copts, rpc.Oneway())
		}
		resp, err = cl.Do(tctx, thing, c.pos[1], rpc.OpInvokeAction, args, copts...)
	case "td":
		var td map[string]any
		if td, err = cl.ThingDescription(tctx, thing); err == nil {
			return printJSON(e, td)
		}
	case "subscribe":
		return c.subscribe(ctx, tctx, e, cl)
	}
	if err != nil {
		return rpcError(err)
	}
	if resp == nil { // oneway
		return nil
	}
	return printValue(e, resp)
}

// printValue prints a reply's value as JSON: a JSON payload verbatim,
// others re-encoded.
func printValue(e *env, resp *rpc.Response) error {
	if resp.Header.PayloadContentType == rpc.ContentJSON && !(len(resp.Preencoded) > 0 && string(resp.Payload) == "null") {
		_, err := fmt.Fprintf(e.stdout, "%s\n", resp.Payload)
		return err
	}
	var v any
	if err := resp.Decode(&v); err != nil {
		return err
	}
	return printJSON(e, v)
}

func printJSON(e *env, v any) error {
	b, err := rpc.JSON.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

func (c *rpcCmd) subscribe(ctx, tctx context.Context, e *env, cl *rpc.Client) error {
	sub, err := cl.Subscribe(tctx, c.pos[0], c.pos[1])
	if err != nil {
		return rpcError(err)
	}
	defer sub.Close()
	for n := 0; c.count == 0 || n < c.count; n++ {
		select {
		case ev := <-sub.C:
			var v any
			if err := ev.Decode(&v); err != nil {
				return err
			}
			if ev.Header.PayloadContentType == rpc.ContentJSON {
				fmt.Fprintf(e.stdout, "%s\n", ev.Payload)
			} else if err := printJSON(e, v); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

func (c *rpcCmd) demo(ctx context.Context, e *env) error {
	s, err := rpc.NewServer(c.id, rpc.WithLogger(e.logger(c.verbose)), rpc.WithSocketOptions(c.sec.opts...),
		rpc.WithAllowExit(c.allowExit))
	if err != nil {
		return err
	}
	if err := s.AddThing(rpc.NewDemoThing(c.id)); err != nil {
		s.Close()
		return err
	}
	for _, b := range c.bind {
		req, err := s.Listen(b)
		if err != nil {
			s.Close()
			return err
		}
		e.warnf("bound %s", req)
		e.warnf("events %s", s.EventEndpointFor(req))
	}
	return s.Serve(ctx)
}
