package main

import (
	"encoding/hex"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// End-to-end tests: two in-process runs of the command talking over TCP.

const anyPort = "tcp://127.0.0.1:0"

func expectLines(t *testing.T, what string, o *output, want ...string) {
	t.Helper()
	if got := o.lines(); !slices.Equal(got, want) {
		t.Errorf("%s printed %q, want %q", what, got, want)
	}
}

func TestPushPull(t *testing.T) {
	for _, bind := range []string{anyPort, "ipc://*"} {
		t.Run(bind, func(t *testing.T) {
			pull := start(t, strings.NewReader(""), "pull", "--bind", bind, "--count", "3")
			ep := pull.endpoint(t)
			push := start(t, nil, "push", "--connect", ep)
			push.write(t, "one", "two\tframes", "")
			pull.expectExit(t, exitOK)
			expectLines(t, "pull", pull.stdout, "one", "two\tframes", "")
			push.closeStdin()
			push.expectExit(t, exitOK)
			if s := push.stdout.String(); s != "" {
				t.Errorf("push printed %q", s)
			}
		})
	}
}

// --count on a sending socket stops after N lines, whatever stdin holds.
func TestPushCount(t *testing.T) {
	pull := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "2", "--timeout", "10s")
	ep := pull.endpoint(t)
	// push ends as soon as it has queued its messages, so the connection
	// may be made while Close lingers.
	push := start(t, nil, "push", "--connect", ep, "--count", "2")
	push.write(t, "a", "b")
	push.expectExit(t, exitOK)
	pull.expectExit(t, exitOK)
	expectLines(t, "pull", pull.stdout, "a", "b")
}

func TestHexAndDelimiter(t *testing.T) {
	pull := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "2", "--hex", "-d", ",")
	ep := pull.endpoint(t)
	push := start(t, nil, "push", "--connect", ep, "-delimiter", `\x1f`)
	push.write(t, "hi\x1f,", "\x1f\x1f")
	pull.expectExit(t, exitOK)
	expectLines(t, "pull --hex -d ,", pull.stdout, "6869,2c", ",,")
	push.closeStdin()
	push.expectExit(t, exitOK)

	pull = start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "1", "-d", "|")
	push = start(t, nil, "push", "--connect", pull.endpoint(t), "--hex")
	push.write(t, "6869\t7c\t")
	pull.expectExit(t, exitOK)
	expectLines(t, "pull -d |", pull.stdout, "hi|||")
	push.closeStdin()
	push.expectExit(t, exitOK)
}

// A connecting sender queues its messages until the peer is there, and at
// stdin EOF lingers until they are delivered.
func TestPushQueuesUntilPeer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "tcp://" + l.Addr().String()
	l.Close()
	push := start(t, strings.NewReader("queued 1\nqueued 2\n"), "push", "--connect", ep, "--linger", "15s")
	pull := start(t, strings.NewReader(""), "pull", "--bind", ep, "--count", "2", "--timeout", "10s")
	pull.expectExit(t, exitOK)
	expectLines(t, "pull", pull.stdout, "queued 1", "queued 2")
	push.expectExit(t, exitOK)
}

func TestPubSub(t *testing.T) {
	pub := start(t, nil, "pub", "--bind", anyPort)
	ep := pub.endpoint(t)
	sub := start(t, strings.NewReader(""), "sub", "--connect", ep, "--subscribe", "weather.", "--subscribe", "news.", "--count", "4")

	// Slow joiner: PUB drops what it sends before the subscription arrives,
	// so publish until the subscriber has what it wants.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			if _, err := pub.stdin.Write([]byte("sports.tennis\t" + strconv.Itoa(i) + "\nweather.rain\t" + strconv.Itoa(i) + "\n")); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	sub.expectExit(t, exitOK)
	close(stop)
	wg.Wait()
	pub.closeStdin()
	pub.expectExit(t, exitOK)

	got := sub.stdout.lines()
	if len(got) != 4 {
		t.Fatalf("sub printed %d lines, want 4: %q", len(got), got)
	}
	for _, l := range got {
		if !strings.HasPrefix(l, "weather.rain\t") {
			t.Errorf("sub printed %q, want only weather.rain", l)
		}
	}
}

func TestReqRep(t *testing.T) {
	rep := start(t, strings.NewReader(""), "rep", "--bind", anyPort, "--count", "3")
	ep := rep.endpoint(t)
	req := start(t, strings.NewReader("x\ny\tz\n\nnot sent\n"), "req", "--connect", ep, "--count", "3")
	req.expectExit(t, exitOK)
	rep.expectExit(t, exitOK)
	expectLines(t, "req", req.stdout, "x", "y\tz", "")
	expectLines(t, "rep", rep.stdout, "x", "y\tz", "")
}

func TestReqRepFixedReply(t *testing.T) {
	rep := start(t, strings.NewReader(""), "rep", "--bind", anyPort, "--reply", "ok\tdone")
	ep := rep.endpoint(t)
	// req ends at stdin EOF, after the last reply.
	req := start(t, strings.NewReader("q1\nq2\n"), "req", "--connect", ep)
	req.expectExit(t, exitOK)
	expectLines(t, "req", req.stdout, "ok\tdone", "ok\tdone")
	rep.stdout.waitLine(t, "second request", func(l string) bool { return l == "q2" })
	expectLines(t, "rep", rep.stdout, "q1", "q2")
	rep.cancel() // as SIGINT
	rep.expectExit(t, exitOK)
}

func TestDealerRouter(t *testing.T) {
	router := start(t, nil, "router", "--bind", anyPort)
	ep := router.endpoint(t)
	// The dealer's stdin ends at once; with --count it waits for a reply.
	dealer := start(t, strings.NewReader("hello\nagain\tmore\n"), "dealer", "--connect", ep, "--count", "1")

	router.stdout.waitLine(t, "second message at router", func(l string) bool { return strings.HasSuffix(l, "\tagain\tmore") })
	got := router.stdout.lines()
	id, msg, ok := strings.Cut(got[0], "\t")
	if !ok || msg != "hello" {
		t.Fatalf("router printed %q, want ID<TAB>hello", got[0])
	}
	if b, err := hex.DecodeString(id); err != nil || len(b) == 0 {
		t.Fatalf("router printed routing id %q, want hex", id)
	}
	expectLines(t, "router", router.stdout, id+"\thello", id+"\tagain\tmore")
	router.write(t, id+"\tworld\tbye")
	dealer.expectExit(t, exitOK)
	expectLines(t, "dealer", dealer.stdout, "world\tbye")
	// Without --count, router ends at stdin EOF.
	router.closeStdin()
	router.expectExit(t, exitOK)
}

func TestRouterNamedPeer(t *testing.T) {
	router := start(t, strings.NewReader(""), "router", "--bind", anyPort, "--count", "1")
	dealer := start(t, nil, "dealer", "--connect", router.endpoint(t), "--routing-id", "alice")
	dealer.write(t, "hi")
	router.expectExit(t, exitOK)
	expectLines(t, "router", router.stdout, "616c696365\thi")
	// Without --count, dealer ends at stdin EOF.
	dealer.closeStdin()
	dealer.expectExit(t, exitOK)
}

func TestPair(t *testing.T) {
	a := start(t, nil, "pair", "--bind", anyPort)
	b := start(t, nil, "pair", "--connect", a.endpoint(t), "--count", "1")
	b.write(t, "from b")
	a.stdout.waitLine(t, "message at a", func(l string) bool { return l == "from b" })
	a.write(t, "from a")
	b.expectExit(t, exitOK)
	expectLines(t, "b", b.stdout, "from a")
	a.closeStdin()
	a.expectExit(t, exitOK)
	expectLines(t, "a", a.stdout, "from b")
}

func TestTimeout(t *testing.T) {
	p := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--timeout", "100ms")
	p.expectExit(t, exitFailure)
	if want := "zmqgo: timeout: nothing sent or received for 100ms\n"; !strings.HasSuffix(p.stderr.String(), want) {
		t.Errorf("stderr %q, want it to end with %q", p.stderr, want)
	}
	// Traffic keeps the watchdog quiet; then silence trips it.
	rep := start(t, strings.NewReader(""), "rep", "--bind", anyPort, "--timeout", "300ms")
	req := start(t, nil, "req", "--connect", rep.endpoint(t), "--timeout", "10s")
	req.write(t, "ping")
	req.stdout.waitLine(t, "reply", func(l string) bool { return l == "ping" })
	rep.expectExit(t, exitFailure)
	expectLines(t, "rep", rep.stdout, "ping")
	req.closeStdin()
	req.expectExit(t, exitOK)
}

// Cancelling run's context, as SIGINT and SIGTERM do, is a clean end.
func TestInterrupt(t *testing.T) {
	for _, args := range [][]string{
		{"pull", "--bind", anyPort},
		{"req", "--bind", anyPort},
		{"router", "--bind", anyPort, "--count", "1"},
	} {
		p := start(t, nil, args...)
		p.endpoint(t)
		if args[0] == "req" {
			p.write(t, "unanswered")
		}
		p.cancel()
		p.expectExit(t, exitOK)
		if s := p.stderr.String(); strings.Count(s, "\n") != 1 {
			t.Errorf("%v: stderr %q, want only the bound line", args, s)
		}
	}
}

func TestRuntimeErrors(t *testing.T) {
	pull := start(t, strings.NewReader(""), "pull", "--bind", anyPort)
	ep := pull.endpoint(t)
	code, _, stderr := runSync("pull", "--bind", ep)
	if code != exitFailure || !strings.HasPrefix(stderr, "zmqgo: --bind "+ep+": ") {
		t.Errorf("bind in use: exit code %d, stderr %q", code, stderr)
	}

	router := start(t, strings.NewReader("0102\tok\nnothex\tx\n"), "router", "--bind", anyPort)
	router.expectExit(t, exitFailure)
	if want := `zmqgo: stdin line 2: routing id: invalid hex "nothex"`; !strings.Contains(router.stderr.String(), want) {
		t.Errorf("stderr %q, want %q", router.stderr, want)
	}
}

func TestVerbose(t *testing.T) {
	p := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--verbose", "--timeout", "50ms")
	p.expectExit(t, exitFailure)
	if s := p.stderr.String(); !strings.Contains(s, "level=DEBUG") {
		t.Errorf("--verbose: no debug log on stderr:\n%s", s)
	}
	q := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--timeout", "50ms")
	q.expectExit(t, exitFailure)
	if s := q.stderr.String(); strings.Contains(s, "level=") {
		t.Errorf("without --verbose: log on stderr:\n%s", s)
	}
}
