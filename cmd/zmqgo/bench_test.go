package main

import (
	"regexp"
	"strings"
	"testing"
)

// Both sides in one process, every pattern over every transport.
func TestBenchLoopback(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc", "inproc"} {
		for _, pat := range []string{"pushpull", "pubsub", "reqrep"} {
			t.Run(tr+"/"+pat, func(t *testing.T) {
				count := "3000"
				if pat == "reqrep" {
					count = "200"
				}
				code, stdout, stderr := runSync("bench", "--pattern", pat, "--transport", tr, "--count", count,
					"--warmup", "10", "--size", "100", "--progress", "0")
				if code != exitOK {
					t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
				}
				want := []string{"over " + tr + "://", "100-byte messages", "HWM 1000"}
				if pat == "reqrep" {
					want = append(want, "200 round trips in", "latency: avg", "p50", "p99", "answered 210 requests")
				} else {
					want = append(want, "received 3000 of 3000 messages", "throughput:", "msgs/s", "MB/s")
				}
				for _, w := range want {
					if !strings.Contains(stdout, w) {
						t.Errorf("stdout does not contain %q:\n%s", w, stdout)
					}
				}
				if stderr != "" {
					t.Errorf("stderr with --progress 0: %q", stderr)
				}
			})
		}
	}
}

// Two runs of the command, one binding and one connecting, as on two
// machines; either side may bind.
func TestBenchSplit(t *testing.T) {
	for _, tc := range []struct {
		pattern          string
		bindSide         string // "" for the default (recv)
		bindOut, connOut []string
	}{
		{"pushpull", "", []string{"(recv side)", "received 5000 of 5000 messages", "throughput:"},
			[]string{"(send side)", "sent 5000 messages", "send rate:"}},
		{"pushpull", "send", []string{"(send side)", "sent 5000 messages"},
			[]string{"(recv side)", "received 5000 of 5000 messages", "throughput:"}},
		{"pubsub", "", []string{"(recv side)", "received 5000 of 5000 messages", "throughput:"},
			[]string{"(send side)", "publisher waits at the HWM", "sent 5000 messages"}},
		{"pubsub", "send", []string{"(send side)", "sent 5000 messages"},
			[]string{"(recv side)", "received 5000 of 5000 messages"}},
		{"reqrep", "", []string{"(recv side)", "answered 5010 requests"},
			[]string{"(send side)", "5000 round trips in", "latency: avg"}},
	} {
		t.Run(tc.pattern+"/bind-"+tc.bindSide, func(t *testing.T) {
			common := []string{"--pattern", tc.pattern, "--count", "5000", "--warmup", "10", "--progress", "0"}
			bargs := append([]string{"bench", "--bind", "tcp://127.0.0.1:0"}, common...)
			cargs := []string{"bench"}
			if tc.bindSide == "send" {
				bargs = append(bargs, "--side", "send")
				cargs = append(cargs, "--side", "recv")
			}
			b := start(t, strings.NewReader(""), bargs...)
			ep := b.endpoint(t)
			code, stdout, stderr := runSync(append(append(cargs, "--connect", ep), common...)...)
			if code != exitOK {
				t.Fatalf("connecting side: exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			b.expectExit(t, exitOK)
			check := func(side, out string, want []string) {
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Errorf("%s side stdout does not contain %q:\n%s", side, w, out)
					}
				}
			}
			check("binding", b.stdout.String(), tc.bindOut)
			check("connecting", stdout, tc.connOut)
		})
	}
}

// A publisher that drops at a tiny HWM: the subscriber reports the loss (if
// any) and the run still ends.
func TestBenchPubSubDrop(t *testing.T) {
	code, stdout, stderr := runSync("bench", "--pattern", "pubsub", "--drop", "--hwm", "10",
		"--count", "20000", "--progress", "0")
	if code != exitOK {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	m := regexp.MustCompile(`received (\d+) of 20000 messages`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no received line:\n%s", stdout)
	}
	if m[1] != "20000" && !strings.Contains(stdout, "lost ") {
		t.Errorf("received %s of 20000 but no loss reported:\n%s", m[1], stdout)
	}
	if !strings.Contains(stdout, "publisher drops at the HWM") {
		t.Errorf("no drop note:\n%s", stdout)
	}
}

func TestBenchProgress(t *testing.T) {
	code, stdout, stderr := runSync("bench", "--pattern", "reqrep", "--count", "3000", "--warmup", "0", "--progress", "1ms")
	if code != exitOK {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// Not a terminal: whole lines, no carriage returns.
	if !regexp.MustCompile(`(?m)^zmqgo: bench: \d+/3000 round trips \(\d+%\), [0-9.]+k?/s$`).MatchString(stderr) {
		t.Errorf("no progress line on stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("carriage return in non-terminal progress: %q", stderr)
	}
}

func TestBenchTimeout(t *testing.T) {
	code, stdout, stderr := runSync("bench", "--bind", "tcp://127.0.0.1:0", "--timeout", "200ms", "--progress", "0")
	if code != exitFailure || !strings.Contains(stderr, "timeout: no message for 200ms") || stdout != "" {
		t.Errorf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// SIGINT (a cancelled context) ends a waiting run cleanly.
func TestBenchInterrupt(t *testing.T) {
	p := start(t, strings.NewReader(""), "bench", "--bind", "tcp://127.0.0.1:0", "--progress", "0")
	p.endpoint(t)
	p.cancel()
	p.expectExit(t, exitOK)
	if !strings.Contains(p.stderr.String(), "bench: interrupted") {
		t.Errorf("stderr:\n%s", p.stderr)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pattern", "pair"}, `--pattern must be pushpull, pubsub or reqrep (got "pair")`},
		{[]string{"--size", "-1"}, "--size must not be negative"},
		{[]string{"--count", "-5"}, "--count must be at least 1 (got -5)"},
		{[]string{"--hwm", "-1"}, "--hwm must not be negative"},
		{[]string{"--warmup", "-1"}, "--warmup must not be negative"},
		{[]string{"--timeout", "-1s"}, "must not be negative"},
		{[]string{"--bind", "tcp://127.0.0.1:0", "--connect", "tcp://127.0.0.1:1"}, "not both"},
		{[]string{"--bind", "tcp://127.0.0.1:0", "--transport", "ipc"}, "--transport is for a run in one process"},
		{[]string{"--transport", "udp"}, `--transport must be tcp, ipc or inproc (got "udp")`},
		{[]string{"--side", "send"}, "--side needs --bind or --connect"},
		{[]string{"--connect", "tcp://127.0.0.1:1", "--side", "both"}, `--side must be send or recv (got "both")`},
		{[]string{"--connect", "nowhere"}, "invalid endpoint"},
		{[]string{"--connect", "foo://x"}, "--connect foo://x"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--frob"}, "unknown flag --frob"},
	} {
		args := append([]string{"bench"}, tc.args...)
		code, stdout, stderr := runSync(args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "zmqgo help bench") {
			t.Errorf("%v: exit code %d, stdout %q, stderr:\n%s(want %q)", args, code, stdout, stderr, tc.want)
		}
	}
}

func TestBenchHelp(t *testing.T) {
	code, stdout, stderr := runSync("help", "bench")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"Usage: zmqgo bench [flags]", "--pattern P", "--size N", "--count N", "--transport T",
		"--bind ADDR", "--connect ADDR", "--side S", "--hwm N", "--drop", "--timeout D", "--progress D", "--warmup N"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("help does not contain %q:\n%s", w, stdout)
		}
	}
	_, usage, _ := runSync("help")
	if !strings.Contains(usage, "\tbench ") {
		t.Errorf("usage does not list bench:\n%s", usage)
	}
}

// The defaults depend on the pattern.
func TestBenchDefaults(t *testing.T) {
	for pat, want := range map[string]int{"pushpull": 1000000, "pubsub": 1000000, "reqrep": 20000} {
		act, err := parseCommand(lookup("bench"), []string{"--pattern", pat})
		if err != nil {
			t.Fatal(err)
		}
		c := act.(*benchCmd)
		if c.count != want || c.transport != "tcp" || c.side != "recv" {
			t.Errorf("%s: count %d, transport %q, side %q", pat, c.count, c.transport, c.side)
		}
	}
	act, err := parseCommand(lookup("bench"), []string{"--connect", "tcp://127.0.0.1:5555"})
	if err != nil {
		t.Fatal(err)
	}
	if c := act.(*benchCmd); c.side != "send" {
		t.Errorf("--connect: side %q, want send", c.side)
	}
}
