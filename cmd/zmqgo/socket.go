package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zmqgo/zmq"
)

// pattern is how a socket command moves messages between stdio and the socket.
type pattern int

const (
	sendOnly pattern = iota // stdin lines -> socket (pub, push)
	recvOnly                // socket -> stdout (sub, pull)
	request                 // line -> request, reply -> stdout (req)
	reply                   // request -> stdout, echo/--reply -> socket (rep)
	duplex                  // both directions at once (dealer, router, pair)
)

const defaultLinger = 5 * time.Second

// socketCmd is a subcommand that runs one socket: pub, sub, push, ...
type socketCmd struct {
	name    string
	typ     zmq.Type
	pattern pattern

	bind, connect listFlag
	delim         delimFlag
	hex           bool
	count         int
	timeout       time.Duration
	linger        time.Duration
	verbose       bool

	subscribe listFlag // sub
	reply     string   // rep
	replySet  bool
	routingID string // req, rep, dealer, router
	mandatory bool   // router
	waitSubs  int    // pub

	sec secFlags // --curve-server, --curve-client, --plain, --plain-server (keygen.go)
}

// socketCommand returns the table entry of a socket subcommand.
func socketCommand(name string, t zmq.Type, p pattern, summary, help string) *command {
	return &command{
		name:    name,
		summary: summary,
		help:    help,
		flags: func(fs *flag.FlagSet) action {
			c := &socketCmd{name: name, typ: t, pattern: p}
			c.register(fs)
			return c
		},
	}
}

func (c *socketCmd) register(fs *flag.FlagSet) {
	fs.Var(&c.bind, "bind", "bind to `ADDR` (repeatable)")
	fs.Var(&c.connect, "connect", "connect to `ADDR` (repeatable)")
	c.delim = "\t"
	fs.Var(&c.delim, "delimiter", "separate the frames of a line with `STR` (Go escapes such as \\t work)")
	fs.Var(&c.delim, "d", "short for --delimiter")
	fs.BoolVar(&c.hex, "hex", false, "hex-encode every frame read and printed")
	switch c.pattern {
	case sendOnly:
		fs.IntVar(&c.count, "count", 0, "exit after sending `N` messages (0: no limit)")
	case recvOnly, duplex:
		fs.IntVar(&c.count, "count", 0, "exit after receiving `N` messages (0: no limit)")
	case request, reply:
		fs.IntVar(&c.count, "count", 0, "exit after `N` round trips (0: no limit)")
	}
	fs.DurationVar(&c.timeout, "timeout", 0, "fail (exit 1) after `D` without a message sent or received\n(0: never)")
	fs.DurationVar(&c.linger, "linger", defaultLinger, "on exit, wait up to `D` for queued messages to be delivered,\nthrough reconnections (0: don't wait; negative: no limit);\nmessages still queued then are reported and exit 1")
	fs.BoolVar(&c.verbose, "verbose", false, "log socket events (debug level) to stderr")
	switch c.typ {
	case zmq.Pub:
		fs.IntVar(&c.waitSubs, "wait-subscribers", 0, "send nothing until `N` subscribers have connected and\nsubscribed (an XPUB socket underneath); 0: don't wait")
	case zmq.Sub:
		fs.Var(&c.subscribe, "subscribe", "receive only messages starting with `PREFIX` (repeatable;\ndefault: everything)")
	case zmq.Rep:
		fs.Func("reply", "answer every request with `TEXT` (frames split by the delimiter)\ninstead of echoing it", func(s string) error {
			c.reply, c.replySet = s, true
			return nil
		})
	}
	switch c.typ {
	case zmq.Req, zmq.Rep, zmq.Dealer, zmq.Router:
		fs.StringVar(&c.routingID, "routing-id", "", "announce `ID` as this socket's routing id to ROUTER peers")
	}
	if c.typ == zmq.Router {
		fs.BoolVar(&c.mandatory, "mandatory", false, "fail on a message for an unknown routing id instead of dropping it")
	}
	c.sec.register(fs)
}

func (c *socketCmd) validate(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q (endpoints go after --bind or --connect)", args[0])
	}
	if len(c.bind)+len(c.connect) == 0 {
		return errors.New("at least one --bind or --connect address is required")
	}
	for _, ep := range c.bind {
		if err := checkEndpoint(ep); err != nil {
			return fmt.Errorf("--bind: %w", err)
		}
	}
	for _, ep := range c.connect {
		if err := checkConnect(ep); err != nil {
			return fmt.Errorf("--connect: %w", err)
		}
	}
	if c.delim == "" {
		return errors.New("--delimiter must not be empty")
	}
	if strings.ContainsAny(string(c.delim), "\n\r") {
		return errors.New("--delimiter must not contain a newline")
	}
	if c.count < 0 {
		return fmt.Errorf("--count must not be negative (got %d)", c.count)
	}
	if c.waitSubs < 0 {
		return fmt.Errorf("--wait-subscribers must not be negative (got %d)", c.waitSubs)
	}
	if c.timeout < 0 {
		return fmt.Errorf("--timeout must not be negative (got %v)", c.timeout)
	}
	cd := c.codec()
	for _, p := range c.subscribe {
		if _, err := cd.field(p); err != nil {
			return fmt.Errorf("--subscribe %q: %w", p, err)
		}
	}
	if c.replySet {
		if _, err := cd.decode(c.reply); err != nil {
			return fmt.Errorf("--reply: %w", err)
		}
	}
	if c.routingID != "" {
		id, err := cd.field(c.routingID)
		if err == nil && (len(id) > 255 || id[0] == 0) {
			err = errors.New("a routing id must be 1 to 255 bytes and not start with a zero byte")
		}
		if err != nil {
			return fmt.Errorf("--routing-id %q: %w", c.routingID, err)
		}
	}
	return c.sec.validate()
}

func (c *socketCmd) codec() codec {
	return codec{delim: string(c.delim), hex: c.hex, routingID: c.typ == zmq.Router}
}

func (c *socketCmd) options(e *env) []zmq.Option {
	opts := []zmq.Option{
		zmq.WithLinger(c.linger),
		zmq.WithLogger(e.logger(c.verbose)),
	}
	if c.routingID != "" {
		id, _ := c.codec().field(c.routingID) // checked by validate
		opts = append(opts, zmq.WithRoutingID(id))
	}
	if c.mandatory {
		opts = append(opts, zmq.WithRouterMandatory(true))
	}
	if c.waitSubs > 0 {
		// Every subscription of every peer reaches the application, so
		// that waitSubscribers can count them.
		opts = append(opts, zmq.WithXPubVerboser(true))
	}
	return append(opts, c.sec.opts...)
}

func (c *socketCmd) run(ctx context.Context, e *env) (err error) {
	typ := c.typ
	if c.waitSubs > 0 {
		typ = zmq.XPub // learns of subscribers, sends as PUB does
	}
	s, err := zmq.NewSocket(typ, c.options(e)...)
	if err != nil {
		return err
	}
	monCtx, stopMon := context.WithCancel(context.Background())
	peers := watchPeers(monCtx, s)
	defer func() {
		stopMon()
		<-peers.done
	}()
	defer func() {
		// Queued messages get up to --linger to be delivered, through
		// reconnections; what is left is an error, never a silent loss.
		if serr := c.shutdown(s, peers); serr != nil && (err == nil || errors.Is(err, errInterrupted)) {
			err = serr
		}
		if errors.Is(err, errInterrupted) {
			err = nil
		}
	}()
	if err := c.attach(e, s); err != nil {
		return err
	}
	cd := c.codec()
	for _, p := range c.subscribe {
		prefix, _ := cd.field(p)
		if err := s.Subscribe(prefix); err != nil {
			return fmt.Errorf("subscribe %q: %w", p, err)
		}
	}
	if c.typ == zmq.Sub && len(c.subscribe) == 0 {
		if err := s.Subscribe(nil); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}

	// The session ends at EOF, --count, or an error; or when ctx ends: by
	// a signal (exit 0) or by the --timeout watchdog (exit 1).
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := newWatchdog(c.timeout, cancel)
	defer wd.stop()
	sess := &session{cmd: c, sock: s, codec: cd, out: newPrinter(e.stdout, cd), env: e, wd: wd, peers: peers}
	err = sess.run(ctx)
	cause := context.Cause(ctx)
	cancel(nil) // ends the session's background goroutines
	sess.bg.Wait()
	switch {
	case errors.Is(cause, errTimeout):
		return cause
	case parent.Err() != nil:
		return errInterrupted // a clean end, whatever it interrupted, unless messages are lost
	}
	return err
}

// errInterrupted ends a session that SIGINT or SIGTERM stopped: exit 0,
// unless queued messages could not be delivered.
var errInterrupted = errors.New("interrupted")

// shutdown closes s, waiting up to --linger (a negative one: without
// limit) for queued messages to be written, and reports those that were
// not: how many and why.
func (c *socketCmd) shutdown(s *zmq.Socket, peers *peerWatch) error {
	ctx, cancel := lingerContext(c.linger)
	defer cancel()
	return shutdownSocket(ctx, s, c.linger, peers)
}

// lingerContext is the context of a Shutdown that waits up to linger: 0
// does not wait, a negative linger waits without limit.
func lingerContext(linger time.Duration) (context.Context, context.CancelFunc) {
	switch {
	case linger == 0:
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	case linger > 0:
		return context.WithTimeout(context.Background(), linger)
	}
	return context.Background(), func() {}
}

// shutdownSocket shuts s down within ctx (whose deadline is --linger) and
// returns an *undeliveredError for what was not delivered. peers, if not
// nil, is s's peerWatch: it tells a failed handshake from no peer at all.
func shutdownSocket(ctx context.Context, s *zmq.Socket, linger time.Duration, peers *peerWatch) error {
	err := s.Shutdown(ctx)
	var ue *zmq.UndeliveredError
	if !errors.As(err, &ue) {
		if err != nil && !errors.Is(err, zmq.ErrClosed) {
			return fmt.Errorf("close: %w", err)
		}
		return nil
	}
	var hsErr error
	if peers != nil {
		<-peers.done // Shutdown has ended the monitor: every event is counted
		_, hsErr = peers.status()
	}
	var why string
	switch {
	case !ue.Connected && hsErr != nil:
		why = "the handshake failed (" + hsErr.Error() + ")"
	case !ue.Connected && ue.Cause != nil:
		why = "no peer ever connected (" + ue.Cause.Error() + ")"
	case !ue.Connected:
		why = "no peer ever connected"
	case ue.Cause != nil:
		why = "the peer was lost (" + ue.Cause.Error() + ")"
	default:
		why = "the peer did not take them"
	}
	switch {
	case linger == 0:
		why += "; --linger 0 does not wait"
	case linger > 0 && errors.Is(ue.Err, context.DeadlineExceeded):
		why += fmt.Sprintf(" within --linger %v", linger)
	}
	return &undeliveredError{n: ue.Messages, why: why, err: err}
}

// undeliveredError is the exit 1 of a command that could not deliver
// queued messages.
type undeliveredError struct {
	n   int
	why string
	err error
}

func (e *undeliveredError) Error() string {
	m := "messages were"
	if e.n == 1 {
		m = "message was"
	}
	return fmt.Sprintf("%d %s not delivered: %s", e.n, m, e.why)
}

func (e *undeliveredError) Unwrap() error { return e.err }

// attach binds and connects s, announcing each bound endpoint on stderr.
func (c *socketCmd) attach(e *env, s *zmq.Socket) error {
	for _, ep := range c.bind {
		if err := s.Bind(ep); err != nil {
			return endpointError(c.name, "--bind", ep, err)
		}
		e.warnf("bound %s", s.LastEndpoint())
	}
	for _, ep := range c.connect {
		if err := s.Connect(ep); err != nil {
			return endpointError(c.name, "--connect", ep, err)
		}
	}
	return nil
}

// endpointError makes a bad endpoint a usage error and anything else
// (address in use, permission denied, ...) a runtime error.
func endpointError(cmd, flagName, ep string, err error) error {
	err = fmt.Errorf("%s %s: %w", flagName, ep, err)
	if errors.Is(err, zmq.ErrInvalidEndpoint) || errors.Is(err, zmq.ErrUnsupportedTransport) {
		return &usageError{cmd: cmd, err: err}
	}
	return err
}

// delimFlag is the --delimiter value: Go escape sequences (\t, \x00, \u00a0)
// are interpreted, so that -d '\t' works from a shell.
type delimFlag string

func (d *delimFlag) String() string {
	if d == nil {
		return ""
	}
	q := strconv.Quote(string(*d))
	return q[1 : len(q)-1]
}

func (d *delimFlag) Set(s string) error {
	var b strings.Builder
	for rest := s; rest != ""; {
		if rest[0] != '\\' {
			b.WriteByte(rest[0])
			rest = rest[1:]
			continue
		}
		r, multibyte, tail, err := strconv.UnquoteChar(rest, 0)
		if err != nil {
			return fmt.Errorf("bad escape sequence in %q", s)
		}
		if multibyte {
			b.WriteRune(r)
		} else {
			b.WriteByte(byte(r))
		}
		rest = tail
	}
	*d = delimFlag(b.String())
	return nil
}
