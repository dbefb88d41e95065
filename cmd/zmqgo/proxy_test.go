package main

import (
	"strings"
	"testing"
)

func TestProxySpecs(t *testing.T) {
	good := []struct {
		args          []string
		front, back   string // "TYPE bind... | connect..."
		captureExists bool
	}{
		{[]string{"--frontend", "xsub@tcp://*:5559", "--backend", "XPUB@@tcp://*:5560"},
			"XSUB tcp://*:5559 |", "XPUB tcp://*:5560 |", false},
		{[]string{"--frontend", "router@tcp://*:1,>ipc:///tmp/q", "--backend", "dealer@>tcp://localhost:2", "--capture", "pub@ipc://@cap"},
			"ROUTER tcp://*:1 | ipc:///tmp/q", "DEALER | tcp://localhost:2", true},
		{[]string{"--frontend", "pull@tcp://*:1", "--backend", "push@tcp://*:2"},
			"PULL tcp://*:1 |", "PUSH tcp://*:2 |", false},
	}
	show := func(sp *proxySpec) string {
		return strings.TrimSpace(strings.Join(append([]string{sp.typ.String()}, sp.bind...), " ") + " | " + strings.Join(sp.connect, " "))
	}
	for _, g := range good {
		act, err := parseCommand(lookup("proxy"), g.args)
		if err != nil {
			t.Errorf("%q: %v", g.args, err)
			continue
		}
		c := act.(*proxyCmd)
		if show(c.front) != g.front || show(c.back) != g.back || (c.capt != nil) != g.captureExists {
			t.Errorf("%q: parsed frontend %q backend %q capture %v", g.args, show(c.front), show(c.back), c.capt != nil)
		}
	}

	bad := []struct {
		args []string
		msg  string
	}{
		{[]string{"--frontend", "xsub@tcp://*:1"}, "both required"},
		{[]string{"--frontend", "tcp://*:1", "--backend", "xpub@tcp://*:2"}, "want TYPE@ENDPOINT"},
		{[]string{"--frontend", "xsub@", "--backend", "xpub@tcp://*:2"}, "want TYPE@ENDPOINT"},
		{[]string{"--frontend", "frob@tcp://*:1", "--backend", "xpub@tcp://*:2"}, "unknown socket type"},
		{[]string{"--frontend", "xsub@nohost", "--backend", "xpub@tcp://*:2"}, "invalid endpoint"},
		{[]string{"--frontend", "xsub@>", "--backend", "xpub@tcp://*:2"}, "invalid endpoint"},
		{[]string{"--frontend", "push@tcp://*:1", "--backend", "pull@tcp://*:2", "x"}, "unexpected argument"},
		{[]string{"--frontend", "pub@tcp://*:1", "--backend", "push@tcp://*:2"}, "can forward nothing"},
		{[]string{"--frontend", "pull@tcp://*:1", "--backend", "push@tcp://*:2", "--capture", "sub@tcp://*:3"}, "cannot send"},
	}
	for _, b := range bad {
		code, _, stderr := runSync(append([]string{"proxy"}, b.args...)...)
		if code != exitUsage || !strings.Contains(stderr, b.msg) {
			t.Errorf("zmqgo proxy %q: exit %d, stderr %q; want %d and %q", b.args, code, stderr, exitUsage, b.msg)
		}
	}
}

// boundEndpoints waits for n "zmqgo: bound" lines and returns them in order.
func boundEndpoints(t *testing.T, p *proc, n int) []string {
	t.Helper()
	var eps []string
	p.stderr.waitLine(t, "bound endpoints on stderr", func(string) bool {
		eps = eps[:0]
		for _, l := range p.stderr.lines() {
			if ep, ok := strings.CutPrefix(l, "zmqgo: bound "); ok {
				eps = append(eps, ep)
			}
		}
		return len(eps) >= n
	})
	return eps
}

// A streamer with a capture socket: pull/push, one way.
func TestProxyStreamer(t *testing.T) {
	proxy := start(t, strings.NewReader(""), "proxy",
		"--frontend", "pull@"+anyPort, "--backend", "push@"+anyPort, "--capture", "push@"+anyPort, "--linger", "0")
	eps := boundEndpoints(t, proxy, 3)
	out := start(t, strings.NewReader(""), "pull", "--connect", eps[1], "--count", "3", "--timeout", "10s")
	tap := start(t, strings.NewReader(""), "pull", "--connect", eps[2], "--count", "3", "--timeout", "10s")
	in := start(t, nil, "push", "--connect", eps[0])
	in.write(t, "one", "two\tframes", "")
	out.expectExit(t, exitOK)
	tap.expectExit(t, exitOK)
	expectLines(t, "pull behind the proxy", out.stdout, "one", "two\tframes", "")
	expectLines(t, "capture", tap.stdout, "one", "two\tframes", "")
	in.closeStdin()
	in.expectExit(t, exitOK)
	proxy.cancel() // as SIGINT
	proxy.expectExit(t, exitOK)
	stats := proxy.stderr.waitLine(t, "statistics", func(l string) bool { return strings.Contains(l, "proxy statistics") })
	if !strings.Contains(stats, "frontend in 3 msgs 12 bytes") || !strings.Contains(stats, "backend in 0 msgs 0 bytes, out 3 msgs 12 bytes") {
		t.Errorf("statistics line %q", stats)
	}
}

// A shared queue: requests through router/dealer to a rep the proxy
// connects to ('>' endpoint).
func TestProxyQueue(t *testing.T) {
	rep := start(t, strings.NewReader(""), "rep", "--bind", anyPort, "--reply", "ok", "--count", "2")
	repEP := rep.endpoint(t)
	proxy := start(t, strings.NewReader(""), "proxy",
		"--frontend", "router@"+anyPort, "--backend", "dealer@>"+repEP, "--linger", "0")
	eps := boundEndpoints(t, proxy, 1)
	req := start(t, strings.NewReader("hello\nworld\n"), "req", "--connect", eps[0], "--timeout", "10s")
	req.expectExit(t, exitOK)
	expectLines(t, "req through the proxy", req.stdout, "ok", "ok")
	rep.expectExit(t, exitOK)
	expectLines(t, "rep behind the proxy", rep.stdout, "hello", "world")
}
