package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/broker"
)

func brokerClient(t *testing.T, addr, name string, opts ...broker.ClientOption) *broker.Client {
	t.Helper()
	c, err := broker.NewClient(addr, opts...)
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

// --upstream: two brokers of one federation, JSON logs. The top admits
// east by its PLAIN user.
func TestBrokerCommandFederation(t *testing.T) {
	dir := t.TempDir()
	users, peers := filepath.Join(dir, "users"), filepath.Join(dir, "peers")
	os.WriteFile(users, []byte("east:secret\nbob:pw\n"), 0o600)
	os.WriteFile(peers, []byte("# downstream brokers\neast\n"), 0o600)
	top := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--name", "top", "--log-format", "json",
		"--plain-server", users, "--federation-peers", peers)
	l := top.stderr.waitLine(t, "bound line", func(l string) bool { return strings.Contains(l, `"msg":"bound"`) })
	var bound struct{ Endpoint string }
	if err := json.Unmarshal([]byte(l), &bound); err != nil {
		t.Fatal(err)
	}
	topAddr := bound.Endpoint
	east := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--name", "east", "--upstream", topAddr,
		"--upstream-plain", "east:secret")
	alice := brokerClient(t, east.endpoint(t), "alice")
	brokerClient(t, topAddr, "bob", broker.WithPlain("bob", "pw"))
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
		{"broker", "--max-routes", "0"},
		{"broker", "--federation-peers", "/dev/null"},
		{"broker", "--plain-server", "testdata/nonexistent", "--names", "x"},
		{"broker", "--names", "/dev/zero"},
		{"broker", "--upstream-curve", "nope"},
		{"broker", "--upstream-curve", "x", "--upstream-plain", "a:b"},
		{"broker", "--redis", "http://x"},
		{"broker", "--redis", "redis://127.0.0.1:1/0", "--upstream", "tcp://127.0.0.1:1"},
		{"broker", "--redis", "redis://127.0.0.1:1/0", "--redis-lease", "1ms"},
		{"broker", "--redis", "redis://127.0.0.1:1/0", "--redis-confirm-timeout", "0s"},
		{"broker-load", "--broadcast", "1"},
		{"broker-load", "--messages", "0"},
	} {
		if code, _, stderr := runSync(args...); code != exitUsage {
			t.Errorf("zmqgo %s: exit %d, want %d; stderr:\n%s", strings.Join(args, " "), code, exitUsage, stderr)
		}
	}
	code, stdout, _ := runSync("help", "broker")
	if code != exitOK || !strings.Contains(stdout, "--upstream ADDR") || !strings.Contains(stdout, "--stats-interval D") ||
		!strings.Contains(stdout, "--curve-server FILE") || !strings.Contains(stdout, "--plain-server FILE") ||
		!strings.Contains(stdout, "--names FILE") || !strings.Contains(stdout, "--federation-peers FILE") ||
		!strings.Contains(stdout, "--upstream-curve KEY") || !strings.Contains(stdout, "--max-routes N") || !strings.Contains(stdout, "--redis URL") {
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

// --curve-server with --names: a CURVE client registers the names its key
// is allowed, and no other.
func TestBrokerCommandCurveNames(t *testing.T) {
	dir := t.TempDir()
	serverPub, serverSec, _ := zmq.NewCurveKeypair()
	clientPub, clientSec, _ := zmq.NewCurveKeypair()
	key, names := filepath.Join(dir, "broker.key"), filepath.Join(dir, "names")
	os.WriteFile(key, []byte(serverSec.String()+"\n"), 0o600)
	os.WriteFile(names, []byte(clientPub.String()+": sensor-*\n"), 0o600)
	p := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--curve-server", key, "--names", names)
	addr := p.endpoint(t)
	c := brokerClient(t, addr, "sensor-1", broker.WithCurve(serverPub, clientPub, clientSec))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var be *broker.Error
	if _, err := c.Register(ctx, "alice"); !errors.As(err, &be) || !strings.Contains(be.Message, "not allowed") {
		t.Fatalf("alice: %v", err)
	}
}

// Federation over CURVE: each broker's --curve-server key pair is also its
// identity upstream (--upstream-curve), which the top lists in
// --federation-peers. A broker with another key is refused.
func TestBrokerCommandCurveFederation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	topPub, topSec, _ := zmq.NewCurveKeypair()
	eastPub, eastSec, _ := zmq.NewCurveKeypair()
	_, rogueSec, _ := zmq.NewCurveKeypair()
	top := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--name", "top",
		"--curve-server", write("top.key", topSec.String()+"\n"), "--federation-peers", write("peers", eastPub.String()+"\n"))
	topAddr := top.endpoint(t)
	topKey := write("top.pub", topPub.String()+"\n")
	east := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--name", "east",
		"--curve-server", write("east.key", eastSec.String()+"\n"), "--upstream", topAddr, "--upstream-curve", topKey)
	rogue := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--name", "rogue",
		"--curve-server", write("rogue.key", rogueSec.String()+"\n"), "--upstream", topAddr, "--upstream-curve", topPub.String())
	alice := brokerClient(t, east.endpoint(t), "alice", broker.WithCurve(eastPub, zmq.CurvePublicKey{}, zmq.CurveSecretKey{}))
	brokerClient(t, rogue.endpoint(t), "bob", broker.WithCurve(rogueSec.Public(), zmq.CurvePublicKey{}, zmq.CurveSecretKey{}))
	brokerClient(t, topAddr, "carol", broker.WithCurve(topPub, zmq.CurvePublicKey{}, zmq.CurveSecretKey{}))
	top.stderr.waitLine(t, "east joining", func(l string) bool {
		return strings.Contains(l, `msg="broker: downstream broker joined"`) && strings.Contains(l, "node=east")
	})
	rogue.stderr.waitLine(t, "rogue refused", func(l string) bool {
		return strings.Contains(l, "upstream reports an error") && strings.Contains(l, "not admitted")
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if st, err := alice.Send(ctx, "carol", "hi"); err != nil || st != broker.StatusForwarded {
		t.Fatalf("send: %q, %v", st, err)
	}
	if _, err := alice.Send(ctx, "bob", "hi"); err != nil { // forwarded up, bounced: bob is not routed
		t.Fatalf("send: %v", err)
	}
}
