package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/zmqgo/zmq"
)

// A command is one subcommand. To add one (proxy, broker, bench, keygen...),
// write a type implementing action in its own file and add an entry to
// commands.
type command struct {
	name    string
	summary string // one line, for the command list
	help    string // paragraphs after the synopsis in "zmqgo help NAME"
	// flags registers the command's flags on fs and returns the action
	// they configure. It is called once per parse, and for help output.
	flags func(fs *flag.FlagSet) action
}

// action is a configured command, ready to validate and run.
type action interface {
	// validate checks the parsed flags and remaining arguments; errors
	// are usage errors.
	validate(args []string) error
	run(ctx context.Context, e *env) error
}

// commands is the command table, in the order "zmqgo help" lists them.
var commands = []*command{
	socketCommand("pub", zmq.Pub, sendOnly, "send stdin lines to subscribers",
		senderHelp+"\nA subscriber that is not connected yet misses what is published:\n"+
			"--wait-subscribers N sends nothing until N subscribers have connected\n"+
			"and subscribed (the socket is then an XPUB, which learns of them)."),
	socketCommand("sub", zmq.Sub, recvOnly, "print published messages",
		"Subscribes to every --subscribe PREFIX given, or to everything if none is.\n"+
			"Runs until --count messages have arrived. stdin is not read."),
	socketCommand("push", zmq.Push, sendOnly, "send stdin lines to pullers", senderHelp),
	socketCommand("pull", zmq.Pull, recvOnly, "print pushed messages",
		"Runs until --count messages have arrived. stdin is not read."),
	socketCommand("req", zmq.Req, request, "send each stdin line as a request, print the reply",
		"Requests go one at a time: the next line is sent once the reply to the\n"+
			"previous one has arrived. Ends at stdin EOF or after --count round trips.\n"+
			"A reply that is slow to come is announced on stderr: whether no peer has\n"+
			"connected yet or the peer has not answered."),
	socketCommand("rep", zmq.Rep, reply, "print requests and answer them",
		"Echoes each request back, or replies --reply TEXT. stdin is not read.\n"+
			"Runs until --count round trips."),
	socketCommand("dealer", zmq.Dealer, duplex, "send stdin lines and print what arrives", duplexHelp),
	socketCommand("router", zmq.Router, duplex, "send stdin lines to peers and print what arrives",
		duplexHelp+"\n\n"+
			"Each message printed starts with the sender's routing id, hex-encoded\n"+
			"(generated ids are binary: a zero byte and four more). A line sent must\n"+
			"start with the hex routing id of the peer to send it to, so a printed\n"+
			"message can be pasted back as a reply. A message for an unknown routing\n"+
			"id is dropped, unless --mandatory makes it an error."),
	socketCommand("pair", zmq.Pair, duplex, "send stdin lines to the peer and print what arrives", duplexHelp),
	keygenCommand(), // keygen.go
	proxyCommand(),  // proxy.go
	brokerCommand(), brokerLoadCommand(),
	benchCommand(),    // bench.go
	channelsCommand(), // channels.go
	rpcCommand(),      // rpc.go
}

const (
	senderHelp = "Sends each stdin line as a message, until stdin EOF or --count lines;\n" +
		"then waits up to --linger for queued messages to be delivered. Messages\n" +
		"still queued after that are reported, with the reason (no peer ever\n" +
		"connected, handshake failed, peer lost), and the exit status is 1."
	duplexHelp = "Sends stdin lines and prints arriving messages at the same time. Ends at\n" +
		"stdin EOF or, given --count N, once N messages have arrived."
)

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// dispatch runs the command line args.
func dispatch(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		printUsage(e.stderr)
		return &usageError{err: errors.New("no subcommand given"), noHint: true}
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return helpCommand(e, rest)
	}
	if strings.HasPrefix(name, "-") {
		return usageErrorf("", "flags come after the subcommand: zmqgo SUBCOMMAND [flags] (got %q first)", name)
	}
	c := lookup(name)
	if c == nil {
		return usageErrorf("", "unknown subcommand %q", name)
	}
	act, err := parseCommand(c, rest)
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(e.stdout, c)
		return err
	}
	if err != nil {
		return err
	}
	return act.run(ctx, e)
}

// parseCommand parses and validates the flags of c. Errors are usage
// errors, or flag.ErrHelp for -h and --help.
func parseCommand(c *command, args []string) (action, error) {
	fs := newFlagSet(c.name)
	act := c.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{cmd: c.name, err: flagError(durationHint(fs, err))}
	}
	if err := act.validate(fs.Args()); err != nil {
		return nil, &usageError{cmd: c.name, err: err}
	}
	return act, nil
}

func helpCommand(e *env, args []string) error {
	switch len(args) {
	case 0:
		printUsage(e.stdout)
		return nil
	case 1:
		c := lookup(args[0])
		if c == nil {
			return usageErrorf("", "help: unknown subcommand %q", args[0])
		}
		printCommandHelp(e.stdout, c)
		return nil
	default:
		return usageErrorf("", "help takes at most one subcommand")
	}
}

const usageHeader = `zmqgo is a command-line ZeroMQ peer: it sends the lines it reads on stdin
and prints the messages it receives on stdout.

Usage:
	zmqgo SUBCOMMAND [flags]
	zmqgo help [SUBCOMMAND]

Subcommands:
`

const usageFooter = `
Endpoints:
	The socket subcommands (pub ... pair) need at least one --bind ADDR
	or --connect ADDR; both repeat. ADDR is tcp://HOST:PORT or ipc://PATH. A tcp bind may use * for
	the host (every IPv4 interface) and 0 or * for the port (any free one);
	ipc://* binds a fresh temporary path. Each bound endpoint is printed on
	stderr: "zmqgo: bound tcp://127.0.0.1:40123".

Messages:
	One message per line. The frames of a message are separated by the
	delimiter (-d, default a tab): "a<TAB>b" is two frames, an empty line one
	empty frame. Frames are read and printed verbatim. With --hex every frame
	is hex-encoded instead, in both directions (and so are the values of
	--subscribe, --reply and --routing-id): use it for binary data and for
	frames that contain the delimiter or a newline. The first field of a
	ROUTER line, the peer's routing id, is always hex, as generated ids are
	binary (a zero byte and four more).

Ending:
	pub and push send stdin lines until EOF or --count; req until EOF or
	--count round trips. dealer, router and pair stop at stdin EOF too, or,
	given --count N, once N messages have arrived. sub and pull run until
	--count messages have arrived, rep until --count round trips. Then the
	socket is closed, waiting up to --linger for queued messages (queued
	even while no peer is connected) to be delivered, and zmqgo exits 0.
	SIGINT and SIGTERM end any subcommand the same way; a second signal
	does not wait. --timeout D fails (exit 1) after D without traffic.

Exit status:
	0 success; 1 runtime error (timeout, address in use, bad input line,
	I/O error, messages not delivered); 2 usage error (unknown subcommand,
	bad flag, missing or bad endpoint such as foo://x, a host that does not
	resolve such as tcp://nohost:1, an unreadable key file).

Examples:
	zmqgo pull --bind 'tcp://*:5690'
	seq 3 | zmqgo push --connect tcp://127.0.0.1:5690

	zmqgo pub --bind 'tcp://*:5691' --wait-subscribers 1 < events.log
	zmqgo sub --connect tcp://127.0.0.1:5691 --subscribe weather. --count 10

	zmqgo rep --bind 'tcp://*:5692' --reply ok
	printf 'hello\nworld\n' | zmqgo req --connect tcp://127.0.0.1:5692

	zmqgo router --bind 'tcp://*:5693'    # prints 006b8b4567<TAB>hi, reply
	                                      # by typing 006b8b4567<TAB>hello
	echo hi | zmqgo dealer --connect tcp://127.0.0.1:5693 --count 1

	(Port 5555 is the broker's: 'zmqgo broker' listens there by default.)

Run 'zmqgo help SUBCOMMAND' for a subcommand's flags.
`

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(usageHeader)
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "\t%-*s  %s\n", width, c.name, c.summary)
	}
	b.WriteString("\n" + securityHelp) // keygen.go
	b.WriteString(usageFooter)
	io.WriteString(w, b.String())
}

func printCommandHelp(w io.Writer, c *command) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: zmqgo %s [flags]\n\n%s.\n", c.name, capitalize(c.summary))
	if c.help != "" {
		fmt.Fprintf(&b, "\n%s\n", c.help)
	}
	b.WriteString("\nFlags:\n")
	fs := newFlagSet(c.name)
	c.flags(fs)
	writeFlagDefaults(&b, fs)
	b.WriteString("\nRun 'zmqgo help' for the message format and examples.\n")
	io.WriteString(w, b.String())
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
