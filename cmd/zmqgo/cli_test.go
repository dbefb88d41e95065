package main

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no subcommand", nil, "zmqgo: no subcommand given"},
		{"unknown subcommand", []string{"frob"}, `zmqgo: unknown subcommand "frob"`},
		{"flag first", []string{"--bind", "tcp://127.0.0.1:0", "pull"}, "flags come after the subcommand"},
		{"unknown flag", []string{"push", "--frob"}, "zmqgo: push: unknown flag --frob"},
		{"unknown flag single dash", []string{"push", "-frob"}, "zmqgo: push: unknown flag --frob"},
		{"flag of another command", []string{"pull", "--bind", "tcp://127.0.0.1:0", "--reply", "x"}, "zmqgo: pull: unknown flag --reply"},
		{"missing flag argument", []string{"push", "--connect"}, "zmqgo: push: flag needs an argument: --connect"},
		{"bad count", []string{"push", "--connect", "tcp://127.0.0.1:1", "--count", "x"}, `invalid value "x" for flag --count`},
		{"negative count", []string{"pull", "--bind", "tcp://127.0.0.1:0", "--count", "-1"}, "--count must not be negative"},
		{"bad timeout", []string{"pull", "--bind", "tcp://127.0.0.1:0", "--timeout", "soon"}, `invalid value "soon" for flag --timeout`},
		{"negative timeout", []string{"pull", "--bind", "tcp://127.0.0.1:0", "--timeout", "-1s"}, "--timeout must not be negative"},
		{"no endpoint", []string{"push"}, "zmqgo: push: at least one --bind or --connect address is required"},
		{"positional endpoint", []string{"push", "tcp://127.0.0.1:5555"}, `zmqgo: push: unexpected argument "tcp://127.0.0.1:5555"`},
		{"no transport", []string{"push", "--connect", "nohost"}, `zmqgo: push: --connect: invalid endpoint "nohost"`},
		{"empty delimiter", []string{"pull", "--bind", "tcp://127.0.0.1:0", "-d", ""}, "--delimiter must not be empty"},
		{"newline delimiter", []string{"pull", "--bind", "tcp://127.0.0.1:0", "-d", `\n`}, "--delimiter must not contain a newline"},
		{"bad delimiter escape", []string{"pull", "--bind", "tcp://127.0.0.1:0", "--delimiter", `\q`}, "bad escape sequence"},
		{"bad hex subscription", []string{"sub", "--connect", "tcp://127.0.0.1:1", "--hex", "--subscribe", "zz"}, `--subscribe "zz": invalid hex`},
		{"bad hex reply", []string{"rep", "--bind", "tcp://127.0.0.1:0", "--hex", "--reply", "abc"}, "--reply: frame 1: invalid hex"},
		{"routing id with zero byte", []string{"dealer", "--connect", "tcp://127.0.0.1:1", "--hex", "--routing-id", "00ab"}, "--routing-id"},
		{"help for unknown subcommand", []string{"help", "frob"}, `zmqgo: help: unknown subcommand "frob"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runSync(tc.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not contain %q:\n%s", tc.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
			// Every diagnostic line is prefixed (the usage text after "no
			// subcommand" excepted).
			if tc.args != nil {
				for _, l := range completeLines(stderr) {
					if !strings.HasPrefix(l, "zmqgo: ") {
						t.Errorf("stderr line without prefix: %q", l)
					}
				}
			}
		})
	}
}

// Endpoints that only the library can judge are usage errors too.
func TestBadEndpoints(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want error
	}{
		{[]string{"push", "--connect", "tcp://nohost"}, zmq.ErrInvalidEndpoint},
		{[]string{"pull", "--bind", "tcp://127.0.0.1:notaport"}, zmq.ErrInvalidEndpoint},
		{[]string{"push", "--connect", "foo://x"}, zmq.ErrUnsupportedTransport},
		{[]string{"sub", "--bind", "tcp://127.0.0.1:0", "--connect", "nope://x"}, zmq.ErrUnsupportedTransport},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := runSync(tc.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			ep := tc.args[len(tc.args)-1]
			if want := "zmqgo: " + tc.args[0] + ": " + tc.args[len(tc.args)-2] + " " + ep + ": "; !strings.HasPrefix(stderr, want) &&
				!strings.Contains(stderr, "\n"+want) {
				t.Errorf("stderr does not contain %q:\n%s", want, stderr)
			}
			if !strings.Contains(stderr, tc.want.Error()) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}} {
		code, stdout, stderr := runSync(args...)
		if code != exitOK || stderr != "" {
			t.Errorf("%v: exit code %d, stderr %q", args, code, stderr)
		}
		for _, c := range commands {
			if !strings.Contains(stdout, "\t"+c.name+" ") {
				t.Errorf("%v: usage does not list %s:\n%s", args, c.name, stdout)
			}
		}
		for _, s := range []string{"--bind", "--connect", "--hex", "Exit status", "Examples"} {
			if !strings.Contains(stdout, s) {
				t.Errorf("%v: usage does not mention %s", args, s)
			}
		}
	}
	// Without a subcommand the usage goes to stderr, with exit code 2.
	code, stdout, stderr := runSync()
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "Subcommands:") {
		t.Errorf("no args: exit code %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

func TestCommandHelp(t *testing.T) {
	specific := map[string][]string{
		"sub":    {"--subscribe PREFIX"},
		"rep":    {"--reply TEXT", "--routing-id ID"},
		"router": {"--mandatory", "--routing-id ID", "routing id"},
		"dealer": {"--routing-id ID"},
	}
	for _, c := range commands {
		if _, ok := c.flags(newFlagSet(c.name)).(*socketCmd); !ok {
			continue // keygen: see keygen_test.go
		}
		for _, args := range [][]string{{"help", c.name}, {c.name, "-h"}, {c.name, "--help"}} {
			code, stdout, stderr := runSync(args...)
			if code != exitOK || stderr != "" {
				t.Errorf("%v: exit code %d, stderr %q", args, code, stderr)
			}
			want := append([]string{"Usage: zmqgo " + c.name + " [flags]", "--bind ADDR", "--connect ADDR",
				"-d, --delimiter STR", "--count N", "--timeout D", "--linger D", "--verbose", "--hex"}, specific[c.name]...)
			for _, s := range want {
				if !strings.Contains(stdout, s) {
					t.Errorf("%v: help does not contain %q:\n%s", args, s, stdout)
				}
			}
		}
	}
}

func parse(t *testing.T, args ...string) *socketCmd {
	t.Helper()
	c := lookup(args[0])
	if c == nil {
		t.Fatalf("no command %q", args[0])
	}
	act, err := parseCommand(c, args[1:])
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return act.(*socketCmd)
}

func TestParseFlags(t *testing.T) {
	c := parse(t, "sub",
		"--bind", "tcp://127.0.0.1:1", "-bind=tcp://127.0.0.1:2",
		"--connect=tcp://127.0.0.1:3", "-connect", "tcp://127.0.0.1:4",
		"--subscribe", "a", "--subscribe", "", "-subscribe=b",
		"-d", `\x1f`, "--count", "7", "--timeout", "1.5s", "-linger", "0", "--hex=false", "--verbose")
	if want := []string{"tcp://127.0.0.1:1", "tcp://127.0.0.1:2"}; !slices.Equal(c.bind, want) {
		t.Errorf("bind %q, want %q", c.bind, want)
	}
	if want := []string{"tcp://127.0.0.1:3", "tcp://127.0.0.1:4"}; !slices.Equal(c.connect, want) {
		t.Errorf("connect %q, want %q", c.connect, want)
	}
	if want := []string{"a", "", "b"}; !slices.Equal(c.subscribe, want) {
		t.Errorf("subscribe %q, want %q", c.subscribe, want)
	}
	if c.delim != "\x1f" || c.count != 7 || c.timeout != 1500*time.Millisecond || c.linger != 0 || c.hex || !c.verbose {
		t.Errorf("parsed %+v", c)
	}
	if c.typ != zmq.Sub || c.pattern != recvOnly {
		t.Errorf("type %v pattern %v", c.typ, c.pattern)
	}

	d := parse(t, "router", "--bind", "tcp://*:0")
	if d.delim != "\t" || d.linger != defaultLinger || d.count != 0 || d.timeout != 0 || d.hex || d.mandatory {
		t.Errorf("defaults %+v", d)
	}
	if !d.codec().routingID {
		t.Error("router codec without routing id")
	}
	r := parse(t, "rep", "--connect", "tcp://localhost:1", "--reply", "")
	if !r.replySet || r.reply != "" {
		t.Errorf("--reply '': set %v, %q", r.replySet, r.reply)
	}
	if _, err := parseCommand(lookup("pull"), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestDelimFlag(t *testing.T) {
	for in, want := range map[string]string{
		`\t`: "\t", ",": ",", `\x00`: "\x00", `\xff`: "\xff", `\u00e9`: "é", "é": "é",
		`"`: `"`, `'`: "'", `a\\b`: `a\b`, "::": "::", `\x1e\x1f`: "\x1e\x1f",
	} {
		var d delimFlag
		if err := d.Set(in); err != nil || string(d) != want {
			t.Errorf("Set(%q) = %q, %v; want %q", in, d, err, want)
		}
	}
	for _, in := range []string{`\`, `\q`, `\x4`, `ab\`} {
		var d delimFlag
		if err := d.Set(in); err == nil {
			t.Errorf("Set(%q) = %q, want error", in, d)
		}
	}
	d := delimFlag("\t")
	if d.String() != `\t` {
		t.Errorf("String() = %q", d.String())
	}
}

// The command table is consistent: unique names, each socket command's
// name is its socket type.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		if c.name == "" || c.summary == "" || c.flags == nil {
			t.Errorf("incomplete command %+v", c)
		}
		if seen[c.name] {
			t.Errorf("duplicate command %s", c.name)
		}
		seen[c.name] = true
		if lookup(c.name) != c {
			t.Errorf("lookup(%s) failed", c.name)
		}
		if sc, ok := c.flags(newFlagSet(c.name)).(*socketCmd); ok {
			if typ, ok := zmq.ParseType(c.name); !ok || typ != sc.typ {
				t.Errorf("command %s has socket type %v", c.name, sc.typ)
			}
		}
	}
	for _, name := range []string{"pub", "sub", "push", "pull", "req", "rep", "dealer", "router", "pair"} {
		if !seen[name] {
			t.Errorf("no %s command", name)
		}
	}
}
