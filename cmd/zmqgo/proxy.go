package main

// The proxy subcommand: zmq.SteerableProxy between two sockets, as
// zmq_proxy, with an optional capture socket.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/zmqgo/zmq"
)

const proxyHelp = `Runs a proxy (zmq_proxy): every message received on the frontend is sent
on the backend and every message received on the backend is sent on the
frontend, whole multipart messages, until SIGINT or SIGTERM. The usual pairs
are xsub/xpub (a forwarder for publishers and subscribers), router/dealer
(a shared queue between clients and workers) and pull/push (a streamer).
With --capture every message that crosses is also sent on a third socket.

Each socket is given as TYPE@ENDPOINTS, with TYPE a socket type
(xsub, xpub, router, dealer, pull, push, sub, pub, pair, ...; any case)
and ENDPOINTS one or more endpoints separated by commas. As in CZMQ, an
endpoint prefixed with '>' is connected to, one prefixed with '@' (or not
prefixed at all) is bound:

	--frontend 'xsub@tcp://*:5559'           bind
	--backend 'dealer@>tcp://worker:5560'    connect
	--frontend 'router@tcp://*:5559,>ipc:///tmp/q'   bind one, connect another

Each bound endpoint is printed on stderr as "zmqgo: bound ENDPOINT", the
frontend's first, then the backend's, then the capture's. A sub frontend
subscribes to everything. When the proxy ends it prints its statistics on
stderr: messages and bytes received and sent on each side, as libzmq's
zmq_proxy_steerable STATISTICS command reports them.

A direction runs only if its source can receive and its destination can
send (pull/push is one-way); a pair of types with no direction at all, or
a capture socket that cannot send, is a usage error. A blocked send holds
the proxy's direction back, so slow consumers push back on the producers
through the high-water marks instead of losing messages (as far as the
socket types allow: pub and xpub drop for a subscriber that is full).

On exit, messages still queued on a socket (for a peer that is gone or
never came) get up to --linger to be delivered; those left are reported,
socket by socket, and the exit status is 1.`

// proxyCmd is "zmqgo proxy".
type proxyCmd struct {
	frontend, backend, capture string
	linger                     time.Duration
	verbose                    bool

	front, back, capt *proxySpec // set by validate
}

// proxySpec is a parsed TYPE@ENDPOINTS.
type proxySpec struct {
	flag    string
	typ     zmq.Type
	bind    []string
	connect []string
}

func proxyCommand() *command {
	return &command{
		name:    "proxy",
		summary: "forward messages between a frontend and a backend socket",
		help:    proxyHelp,
		flags: func(fs *flag.FlagSet) action {
			c := &proxyCmd{}
			fs.StringVar(&c.frontend, "frontend", "", "the frontend socket, `TYPE@ENDPOINTS` (required)")
			fs.StringVar(&c.backend, "backend", "", "the backend socket, `TYPE@ENDPOINTS` (required)")
			fs.StringVar(&c.capture, "capture", "", "also send a copy of every message on this socket, `TYPE@ENDPOINTS`")
			fs.DurationVar(&c.linger, "linger", defaultLinger, "on exit, wait up to `D` for queued messages to be delivered,\nthrough reconnections (0: don't wait; negative: no limit);\nmessages still queued then are reported and exit 1")
			fs.BoolVar(&c.verbose, "verbose", false, "log socket events (debug level) to stderr")
			return c
		},
	}
}

// parseSockSpec parses TYPE@ENDPOINTS.
func parseSockSpec(flagName, s string) (*proxySpec, error) {
	typName, eps, ok := strings.Cut(s, "@")
	if !ok || typName == "" || eps == "" {
		return nil, fmt.Errorf("--%s %q: want TYPE@ENDPOINT, such as xsub@tcp://*:5559 (bind) or dealer@>tcp://host:5560 (connect)", flagName, s)
	}
	typ, ok := zmq.ParseType(typName)
	if !ok {
		return nil, fmt.Errorf("--%s %q: unknown socket type %q", flagName, s, typName)
	}
	sp := &proxySpec{flag: flagName, typ: typ}
	for _, ep := range strings.Split(eps, ",") {
		ep = strings.TrimSpace(ep)
		connect := false
		switch {
		case strings.HasPrefix(ep, ">"):
			connect, ep = true, ep[1:]
		case strings.HasPrefix(ep, "@"):
			ep = ep[1:]
		}
		check := checkEndpoint
		if connect {
			check = checkConnect
		}
		if err := check(ep); err != nil {
			return nil, fmt.Errorf("--%s: %w", flagName, err)
		}
		if connect {
			sp.connect = append(sp.connect, ep)
		} else {
			sp.bind = append(sp.bind, ep)
		}
	}
	return sp, nil
}

func proxyCanRecv(t zmq.Type) bool { return t != zmq.Pub && t != zmq.Push }
func proxyCanSend(t zmq.Type) bool { return t != zmq.Sub && t != zmq.Pull }

func (c *proxyCmd) validate(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q (sockets go after --frontend and --backend)", args[0])
	}
	if c.frontend == "" || c.backend == "" {
		return errors.New("--frontend and --backend are both required")
	}
	var err error
	if c.front, err = parseSockSpec("frontend", c.frontend); err != nil {
		return err
	}
	if c.back, err = parseSockSpec("backend", c.backend); err != nil {
		return err
	}
	f, b := c.front.typ, c.back.typ
	if !(proxyCanRecv(f) && proxyCanSend(b)) && !(proxyCanRecv(b) && proxyCanSend(f)) {
		return fmt.Errorf("a proxy from %v to %v can forward nothing in either direction", f, b)
	}
	if c.capture != "" {
		if c.capt, err = parseSockSpec("capture", c.capture); err != nil {
			return err
		}
		if !proxyCanSend(c.capt.typ) {
			return fmt.Errorf("--capture: a %v socket cannot send", c.capt.typ)
		}
	}
	return nil
}

// open makes the socket of sp, binds and connects it. The caller closes it,
// also on error.
func (c *proxyCmd) open(e *env, sp *proxySpec) (*zmq.Socket, error) {
	s, err := zmq.NewSocket(sp.typ, zmq.WithLinger(c.linger), zmq.WithLogger(e.logger(c.verbose)))
	if err != nil {
		return nil, err
	}
	for _, ep := range sp.bind {
		if err := s.Bind(ep); err != nil {
			s.Close()
			return nil, endpointError("proxy", "--"+sp.flag, ep, err)
		}
		e.warnf("bound %s", s.LastEndpoint())
	}
	for _, ep := range sp.connect {
		if err := s.Connect(ep); err != nil {
			s.Close()
			return nil, endpointError("proxy", "--"+sp.flag, ep, err)
		}
	}
	if sp.typ == zmq.Sub {
		if err := s.Subscribe(nil); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (c *proxyCmd) run(ctx context.Context, e *env) (err error) {
	var socks []*zmq.Socket
	defer func() {
		// Messages still queued get one --linger in all; those left then
		// are reported, per socket, and the exit status is 1.
		sctx, cancel := lingerContext(c.linger)
		defer cancel()
		names := []string{"frontend", "backend", "capture"}
		for i, s := range socks {
			if serr := shutdownSocket(sctx, s, c.linger, nil); serr != nil {
				e.warnf("proxy: %s: %v", names[i], serr)
				if err == nil {
					err = &reportedError{err: serr}
				}
			}
		}
	}()
	specs := []*proxySpec{c.front, c.back}
	if c.capt != nil {
		specs = append(specs, c.capt)
	}
	for _, sp := range specs {
		s, err := c.open(e, sp)
		if err != nil {
			return err
		}
		socks = append(socks, s)
	}
	var capture *zmq.Socket
	if len(socks) == 3 {
		capture = socks[2]
	}
	p := zmq.NewSteerableProxy(socks[0], socks[1], capture)
	err = p.Run(ctx)
	st := p.Stats()
	e.warnf("proxy statistics: frontend in %d msgs %d bytes, out %d msgs %d bytes; backend in %d msgs %d bytes, out %d msgs %d bytes",
		st.FrontendMsgsIn, st.FrontendBytesIn, st.FrontendMsgsOut, st.FrontendBytesOut,
		st.BackendMsgsIn, st.BackendBytesIn, st.BackendMsgsOut, st.BackendBytesOut)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // SIGINT or SIGTERM: the normal end of a proxy
	}
	return err
}
