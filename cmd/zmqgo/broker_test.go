package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/zmqgo/zmq/broker"
)

func brokerClient(t *testing.T, addr, name string) *broker.Client {
	t.Helper()
	c, err := broker.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := c.Register(ctx, name); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return c
}

// zmqgo broker: clients talk through it, stats are logged, SIGINT (the
// context) stops it cleanly.
func TestBrokerCommand(t *testing.T) {
	p := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--name", "cli", "--stats-interval", "20ms")
	addr := p.endpoint(t)
	alice := brokerClient(t, addr, "alice")
	brokerClient(t, addr, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if st, err := alice.Send(ctx, "bob", "hi"); err != nil || st != broker.StatusDelivered {
		t.Fatalf("send: %q, %v", st, err)
	}
	p.stderr.waitLine(t, "stats log line", func(l string) bool {
		return strings.Contains(l, `msg="broker: stats"`) && strings.Contains(l, "clients=2") && strings.Contains(l, "broker=cli")
	})
	p.cancel()
	p.expectExit(t, exitOK)
	if !strings.Contains(p.stderr.String(), `msg="broker: stopped"`) {
		t.Fatalf("no stop log:\n%s", p.stderr)
	}
}

// --upstream: two brokers of one federation, JSON logs.
func TestBrokerCommandFederation(t *testing.T) {
	top := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--name", "top", "--log-format", "json")
	l := top.stderr.waitLine(t, "bound line", func(l string) bool { return strings.Contains(l, `"msg":"bound"`) })
	var bound struct{ Endpoint string }
	if err := json.Unmarshal([]byte(l), &bound); err != nil {
		t.Fatal(err)
	}
	topAddr := bound.Endpoint
	east := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--name", "east", "--upstream", topAddr)
	alice := brokerClient(t, east.endpoint(t), "alice")
	brokerClient(t, topAddr, "bob")
	top.stderr.waitLine(t, "downstream broker joining", func(l string) bool {
		return strings.Contains(l, `"msg":"broker: downstream broker joined"`) && strings.Contains(l, `"node":"east"`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if st, err := alice.Send(ctx, "bob", "hi"); err != nil || st != broker.StatusForwarded {
		t.Fatalf("send: %q, %v", st, err)
	}
}

func TestBrokerCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"broker", "extra"},
		{"broker", "--bind", "nope"},
		{"broker", "--upstream", "nope"},
		{"broker", "--expire", "-1s"},
		{"broker", "--max-msg-size", "10"},
		{"broker", "--rate", "-1"},
		{"broker", "--linger", "-1s"},
		{"broker", "--burst", "0"},
		{"broker", "--queue", "0"},
		{"broker", "--log-format", "xml"},
		{"broker", "--bind", "foo://x"},
		{"broker-load", "--broadcast", "1"},
		{"broker-load", "--messages", "0"},
	} {
		if code, _, stderr := runSync(args...); code != exitUsage {
			t.Errorf("zmqgo %s: exit %d, want %d; stderr:\n%s", strings.Join(args, " "), code, exitUsage, stderr)
		}
	}
	code, stdout, _ := runSync("help", "broker")
	if code != exitOK || !strings.Contains(stdout, "--upstream ADDR") || !strings.Contains(stdout, "--stats-interval D") {
		t.Fatalf("help: %d\n%s", code, stdout)
	}
}

func TestBrokerLoadCommand(t *testing.T) {
	code, stdout, stderr := runSync("broker-load", "--clients", "3", "--messages", "50", "--broadcast", "20")
	if code != exitOK || !strings.Contains(stdout, "msgs/s") || !strings.Contains(stdout, "p99") ||
		!strings.Contains(stdout, "reached 19 of 19") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// SIGTERM to the real program: a clean exit (Close, which flushes queued
// messages, is TestGracefulClose in package broker) and a final log.
func TestBrokerSIGTERM(t *testing.T) {
	bin := zmqgoBinary(t)
	cmd := exec.Command(bin, "broker", "--bind", "tcp://127.0.0.1:0", "--name", "sig")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var addr string
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		if a, ok := strings.CutPrefix(sc.Text(), "zmqgo: bound "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatalf("no bound line:\n%s", strings.Join(log, "\n"))
	}
	brokerClient(t, addr, "alice")
	cmd.Process.Signal(syscall.SIGTERM)
	for sc.Scan() {
		log = append(log, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, strings.Join(log, "\n"))
	}
	if all := strings.Join(log, "\n"); !strings.Contains(all, `msg="broker: stopped"`) || !strings.Contains(all, "received=1") {
		t.Fatalf("log:\n%s", all)
	}
}
