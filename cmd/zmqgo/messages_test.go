package main

import (
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/broker"
)

// Issue 16 items 5 and 7: flags and messages that say what happened.

// A bare number given for a duration says that a unit is needed.
func TestDurationNeedsUnit(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pull", "--bind", anyPort, "--timeout", "5"}, `invalid value "5" for flag --timeout: a duration needs a unit, such as 5s`},
		{[]string{"push", "--connect", "tcp://127.0.0.1:1", "--linger", "0.5"}, `--linger: a duration needs a unit, such as 0.5s`},
		{[]string{"broker", "--expire", "3"}, `--expire: a duration needs a unit, such as 3s`},
		{[]string{"bench", "--timeout", "10"}, `--timeout: a duration needs a unit, such as 10s`},
		{[]string{"broker-load", "--timeout", "1"}, `--timeout: a duration needs a unit`},
		{[]string{"proxy", "--linger", "1"}, `--linger: a duration needs a unit`},
		{[]string{"pull", "--bind", anyPort, "--timeout", "soon"}, `invalid value "soon" for flag --timeout: not a duration (such as 500ms, 5s, 1m30s)`},
	} {
		code, _, stderr := runSync(c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("zmqgo %s: exit %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	// Durations with units still parse; a non-duration flag keeps its message.
	parse(t, "pull", "--bind", anyPort, "--timeout", "5s", "--linger", "0")
	if code, _, stderr := runSync("pull", "--bind", anyPort, "--count", "x"); code != exitUsage || strings.Contains(stderr, "duration") {
		t.Errorf("--count x: %d %q", code, stderr)
	}
}

// 0 means what it says or is refused: no flag takes 0 for "the default".
func TestZeroMeansZero(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--count", "0"}, "--count must be at least 1 (got 0)"},
		{[]string{"broker", "--burst", "0"}, "--burst must be at least 1 (got 0; leave it out for twice --rate)"},
		{[]string{"pub", "--bind", anyPort, "--wait-subscribers", "-1"}, "--wait-subscribers must not be negative"},
	} {
		code, _, stderr := runSync(c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("zmqgo %s: exit %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	// Left out, they take their defaults.
	act, err := parseCommand(lookup("bench"), []string{"--pattern", "reqrep"})
	if err != nil || act.(*benchCmd).count != 20000 {
		t.Errorf("bench default count: %v", err)
	}
	act, err = parseCommand(lookup("broker"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := act.(*brokerCmd)
	if cfg := b.config(nil); cfg.Burst != 0 {
		t.Errorf("broker without --burst: Config.Burst %d, want 0 (the default: twice the rate)", cfg.Burst)
	}
	// Every flag whose 0 means "off" says so in its help.
	for _, c := range []struct{ cmd, flag string }{
		{"broker", "--expire D\n    \tforget clients that cannot answer PINGs (ZMTP 3.0) after D of silence;\n    \t0: never"},
		{"broker", "0: no PINGs"},
		{"broker", "0: no limit"},
		{"broker", "0: don't wait"},
		{"pub", "0: don't wait"},
		{"bench", "(0: no limit)"},
	} {
		if _, stdout, _ := runSync("help", c.cmd); !strings.Contains(stdout, c.flag) {
			t.Errorf("help %s does not say %q", c.cmd, c.flag)
		}
	}
}

// A host that does not resolve fails at start (exit 2) in every
// subcommand that connects, instead of being retried in silence.
func TestUnknownHost(t *testing.T) {
	const ep = "tcp://nohost.invalid:1" // RFC 6761: never resolves
	for _, args := range [][]string{
		{"push", "--connect", ep},
		{"pull", "--connect", ep},
		{"req", "--connect", ep},
		{"sub", "--connect", ep},
		{"dealer", "--bind", anyPort, "--connect", ep},
		{"proxy", "--frontend", "router@tcp://127.0.0.1:0", "--backend", "dealer@>" + ep},
		{"broker", "--bind", anyPort, "--upstream", ep},
		{"broker-load", "--connect", ep},
		{"bench", "--connect", ep},
	} {
		code, stdout, stderr := runSync(args...)
		if code != exitUsage || !strings.Contains(stderr, ep+": host unknown") || stdout != "" {
			t.Errorf("zmqgo %s: exit %d, stderr %q; want 2 and %q", strings.Join(args, " "), code, stderr, ep+": host unknown")
		}
	}
	// Addresses are not looked up; localhost is.
	parse(t, "push", "--connect", "tcp://127.0.0.1:1", "--connect", "tcp://[::1]:1", "--connect", "tcp://localhost:1")
}

// closedPort returns a tcp endpoint where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "tcp://" + l.Addr().String()
	l.Close()
	return ep
}

func shortNotice(t *testing.T) {
	old := waitNotice
	waitNotice = 50 * time.Millisecond
	t.Cleanup(func() { waitNotice = old })
}

// zmqgo req with no REP says that it is waiting, and why.
func TestReqSaysItWaits(t *testing.T) {
	shortNotice(t)
	req := start(t, nil, "req", "--connect", closedPort(t), "--linger", "100ms")
	req.write(t, "anyone?")
	req.stderr.waitLine(t, "waiting notice", func(l string) bool {
		return l == "zmqgo: req: waiting for a reply: no peer has connected yet; the request is queued for the first one"
	})
	// SIGINT then: the request never left, and that is said.
	req.cancel()
	req.expectExit(t, exitFailure)
	req.stderr.waitLine(t, "undelivered request", func(l string) bool {
		return strings.HasPrefix(l, "zmqgo: 1 message was not delivered: no peer ever connected")
	})

	// A REP that is there but slow: the notice says so.
	rep := start(t, nil, "router", "--bind", anyPort) // takes the request, never answers
	req = start(t, nil, "req", "--connect", rep.endpoint(t))
	req.write(t, "slow?")
	rep.stdout.waitLine(t, "request at the router", func(l string) bool { return strings.HasSuffix(l, "\t\tslow?") })
	req.stderr.waitLine(t, "waiting notice", func(l string) bool {
		return l == "zmqgo: req: waiting for a reply: the peer has the request but has not answered yet"
	})
}

// zmqgo pub --wait-subscribers N sends once N subscribers are there, so
// the help's pub/sub pair loses nothing.
func TestPubWaitSubscribers(t *testing.T) {
	shortNotice(t)
	pub := start(t, strings.NewReader("one\ntwo\nthree\n"), "pub", "--bind", anyPort, "--wait-subscribers", "2")
	ep := pub.endpoint(t)
	pub.stderr.waitLine(t, "waiting notice", func(l string) bool {
		return l == "zmqgo: pub: waiting for 2 subscriber(s) (--wait-subscribers); 0 connected so far"
	})
	sub1 := start(t, nil, "sub", "--connect", ep, "--count", "3")
	sub2 := start(t, nil, "sub", "--connect", ep, "--count", "2", "--subscribe", "t")
	sub1.expectExit(t, exitOK)
	sub2.expectExit(t, exitOK)
	pub.expectExit(t, exitOK)
	expectLines(t, "sub1", sub1.stdout, "one", "two", "three")
	expectLines(t, "sub2", sub2.stdout, "two", "three")
	if _, stdout, _ := runSync("help", "pub"); !strings.Contains(stdout, "--wait-subscribers N") || !strings.Contains(stdout, "XPUB") {
		t.Errorf("help pub does not explain --wait-subscribers:\n%s", stdout)
	}
}

// broker-load against a rate-limited broker says so before measuring, and
// which flag lifts the limit.
func TestBrokerLoadRateLimited(t *testing.T) {
	b, err := broker.New(broker.Config{Bind: []string{"tcp://127.0.0.1:0"}, Rate: 100, Burst: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	code, stdout, stderr := runSync("broker-load", "--connect", b.Addrs()[0], "--clients", "2", "--messages", "200", "--broadcast", "0")
	if code != exitFailure || stdout != "" || !strings.Contains(stderr, "limits each client's rate") || !strings.Contains(stderr, "--rate 0") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing measured, and a hint at --rate 0", code, stdout, stderr)
	}
	// Nobody there: said within probeWait, not after --timeout.
	old := probeWait
	probeWait = 200 * time.Millisecond
	defer func() { probeWait = old }()
	ep := closedPort(t)
	code, _, stderr = runSync("broker-load", "--connect", ep, "--clients", "2", "--messages", "10", "--broadcast", "0")
	if code != exitFailure || !strings.Contains(stderr, "no broker answered at "+ep+" within 200ms") {
		t.Errorf("nobody there: exit %d, stderr %q", code, stderr)
	}
}

// --log-format json: every stderr line is a JSON object, the bound line
// included, and durations are strings.
func TestBrokerJSONLog(t *testing.T) {
	p := start(t, strings.NewReader(""), "broker", "--bind", anyPort, "--log-format", "json", "--expire", "90s")
	l := p.stderr.waitLine(t, "bound line", func(l string) bool { return strings.Contains(l, `"msg":"bound"`) })
	var bound struct{ Endpoint string }
	if err := json.Unmarshal([]byte(l), &bound); err != nil || !strings.HasPrefix(bound.Endpoint, "tcp://127.0.0.1:") {
		t.Fatalf("bound line %q: %v", l, err)
	}
	brokerClient(t, bound.Endpoint, "alice")
	p.cancel()
	p.expectExit(t, exitOK)
	sawDuration := false
	for _, l := range completeLines(p.stderr.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("not a JSON line: %q", l)
			continue
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				if _, err := time.ParseDuration(s); err == nil && s != "0" {
					sawDuration = true
				}
			} else if strings.Contains(k, "expire") || strings.Contains(k, "linger") {
				t.Errorf("duration %s=%v is not a string in %q", k, v, l)
			}
		}
	}
	if !sawDuration {
		t.Errorf("no duration string in the log:\n%s", p.stderr)
	}
	// A failure to start is a JSON line too.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	code, _, stderr := runSync("broker", "--bind", "tcp://"+l2.Addr().String(), "--log-format", "json")
	if code != exitFailure || !json.Valid([]byte(strings.TrimSpace(stderr))) || !strings.Contains(stderr, `"level":"ERROR"`) {
		t.Errorf("bind failure: exit %d, stderr %q", code, stderr)
	}
}

// A sender never loses a message silently: what is still queued when
// --linger is over is reported, with the reason, and the exit status is 1.
func TestUndeliveredReported(t *testing.T) {
	ep := closedPort(t)
	push := start(t, strings.NewReader("hi\nthere\n"), "push", "--connect", ep, "--linger", "300ms")
	push.expectExit(t, exitFailure)
	want := "zmqgo: 2 messages were not delivered: no peer ever connected ("
	if s := push.stderr.String(); !strings.HasPrefix(s, want) || !strings.Contains(s, "connection refused") || !strings.HasSuffix(s, ") within --linger 300ms\n") {
		t.Errorf("nobody there: stderr %q, want %q... connection refused ... within --linger 300ms", s, want)
	}

	push = start(t, strings.NewReader("hi\n"), "push", "--connect", ep, "--linger", "0")
	push.expectExit(t, exitFailure)
	if s := push.stderr.String(); !strings.HasPrefix(s, "zmqgo: 1 message was not delivered: no peer ever connected") || !strings.HasSuffix(s, "; --linger 0 does not wait\n") {
		t.Errorf("--linger 0: stderr %q", s)
	}

	// Every sending command: a dealer's line too.
	dealer := start(t, strings.NewReader("queued\n"), "dealer", "--connect", ep, "--linger", "100ms")
	dealer.expectExit(t, exitFailure)
	if s := dealer.stderr.String(); !strings.HasPrefix(s, "zmqgo: 1 message was not delivered: no peer ever connected") {
		t.Errorf("dealer: stderr %q", s)
	}
}

// A wrong --curve-client key: the handshake fails, and the sender says so.
func TestUndeliveredWrongKey(t *testing.T) {
	prefix := t.TempDir() + "/srv"
	if code, _, stderr := runSync("keygen", "--out", prefix); code != exitOK {
		t.Fatal(stderr)
	}
	pull := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--curve-server", prefix+".key")
	other, _, _ := zmqNewKeypair(t)
	push := start(t, strings.NewReader("secret\n"), "push", "--connect", pull.endpoint(t), "--curve-client", other, "--linger", "500ms")
	push.expectExit(t, exitFailure)
	if s := push.stderr.String(); !strings.HasPrefix(s, "zmqgo: 1 message was not delivered: the handshake failed (") {
		t.Errorf("stderr %q", s)
	}
	if s := pull.stdout.String(); s != "" {
		t.Errorf("pull printed %q", s)
	}
}

func zmqNewKeypair(t *testing.T) (pub, sec string, err error) {
	t.Helper()
	p, s, err := zmq.NewCurveKeypair()
	if err != nil {
		t.Fatal(err)
	}
	return p.String(), s.String(), nil
}

// zmqgo proxy reports the messages it could not pass on too (issue 16
// item 3's CLI side: every command ends by the same rule).
func TestProxyUndelivered(t *testing.T) {
	capture := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "2")
	proxy := start(t, strings.NewReader(""), "proxy", "--frontend", "pull@tcp://127.0.0.1:0",
		"--backend", "push@>"+closedPort(t), "--capture", "push@>"+capture.endpoint(t), "--linger", "200ms")
	front := proxy.endpoint(t)
	push := start(t, strings.NewReader("one\ntwo\n"), "push", "--connect", front)
	push.expectExit(t, exitOK)
	// The capture gets each message before the backend does: once it has
	// the second, the first is queued on the backend.
	capture.expectExit(t, exitOK)
	proxy.cancel()
	proxy.expectExit(t, exitFailure)
	proxy.stderr.waitLine(t, "undelivered report", func(l string) bool {
		return strings.HasPrefix(l, "zmqgo: proxy: backend: ") && strings.Contains(l, "not delivered: no peer ever connected") &&
			strings.HasSuffix(l, "within --linger 200ms")
	})
	if s := proxy.stderr.String(); strings.Contains(s, "frontend:") || strings.Contains(s, "capture:") {
		t.Errorf("only the backend lost messages:\n%s", s)
	}
}

// The issue's own commands, through the real program: exit statuses and
// messages as a shell sees them.
func TestBinaryNothingLostSilently(t *testing.T) {
	bin := zmqgoBinary(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"push", "--connect", closedPort(t), "--linger", "200ms"}, 1, "zmqgo: 1 message was not delivered: no peer ever connected ("},
		{[]string{"push", "--connect", "tcp://nohost.invalid:1"}, 2, `zmqgo: push: --connect: tcp://nohost.invalid:1: host unknown: "nohost.invalid" does not resolve`},
		{[]string{"pull", "--bind", anyPort, "--timeout", "5"}, 2, "a duration needs a unit, such as 5s"},
	} {
		var stderr strings.Builder
		cmd := exec.Command(bin, c.args...)
		cmd.Stdin = strings.NewReader("hi\n")
		cmd.Stderr = &stderr
		if code := exitCode(t, cmd); code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("echo hi | zmqgo %s: exit %d, stderr %q; want %d and %q", strings.Join(c.args, " "), code, &stderr, c.code, c.want)
		}
	}
}
