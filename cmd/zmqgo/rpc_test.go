package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// rpcDemo starts "zmqgo rpc demo" on a free port and returns it and its
// request endpoint.
func rpcDemo(t *testing.T, extra ...string) (*binProc, string) {
	t.Helper()
	p := startBinary(t, append([]string{"rpc", "demo", "--bind", anyPort}, extra...)...)
	ep, ok := strings.CutPrefix(p.line(t, p.stderr), "zmqgo: bound ")
	if !ok {
		t.Fatalf("rpc demo did not print its endpoint")
	}
	if ev := p.line(t, p.stderr); !strings.HasPrefix(ev, "zmqgo: events tcp://127.0.0.1:") {
		t.Fatalf("rpc demo events line %q", ev)
	}
	return p, ep
}

// rpcRun runs one zmqgo rpc client command.
func rpcRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(zmqgoBinary(t), append([]string{"rpc"}, args...)...)
	cmd.Stdout, cmd.Stderr = &o, &e
	code = exitCode(t, cmd)
	return code, o.String(), e.String()
}

func TestRPCCommand(t *testing.T) {
	demo, ep := rpcDemo(t)
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string
		stderrHave string
	}{
		{[]string{"read", "--connect", ep, "demo", "count"}, 0, "1\n", ""},
		{[]string{"write", "demo", "count", "5", "--connect", ep}, 0, "", ""}, // flags after the arguments
		{[]string{"read", "--connect", ep, "--server", "demo", "demo", "count"}, 0, "5\n", ""},
		{[]string{"write", "--connect", ep, "demo", "count", "-3"}, 0, "", ""},
		{[]string{"read", "--connect", ep, "demo", "count"}, 0, "-3\n", ""},
		{[]string{"write", "--connect", ep, "demo", "count", `"x"`}, 1, "", "zmqgo: TypeError: expected a value of type number, got str"},
		{[]string{"invoke", "--connect", ep, "demo", "sleep_for", `{"seconds":0.05}`}, 0, `{"slept":0.05}` + "\n", ""},
		{[]string{"invoke", "--connect", ep, "demo", "sleep_for", `{"__args__":[0.01]}`}, 0, `{"slept":0.01}` + "\n", ""},
		{[]string{"invoke", "--connect", ep, "demo", "fail"}, 1, "", "zmqgo: ValueError: deliberate failure from Demo.fail\n"},
		{[]string{"invoke", "--connect", ep, "--execution-timeout", "100ms", "demo", "sleep_for", `{"seconds":3}`}, 3, "", "execution"},
		{[]string{"invoke", "--connect", ep, "--oneway", "demo", "emit", `{"value":4}`}, 0, "", ""},
		{[]string{"invoke", "--connect", ep, "demo", "emit", `{"value":7}`}, 0, "7\n", ""},
		// a late subscriber gets the last value at once (the last-value cache)
		{[]string{"subscribe", "--connect", ep, "--count", "1", "demo", "tick"}, 0, `{"value":7}` + "\n", ""},
		{[]string{"read", "--connect", ep, "--server", "demo", "ghost", "count"}, 1, "", "zmqgo: invalid message: KeyError: 'ghost'"},
		{[]string{"read", "--connect", ep, "demo", "nope"}, 1, "", "zmqgo: KeyError: 'nope'"},
		// usage errors
		{[]string{}, 2, "", "want a subcommand"},
		{[]string{"frob"}, 2, "", `unknown rpc subcommand "frob"`},
		{[]string{"read", "demo", "count"}, 2, "", "want --connect ADDR"},
		{[]string{"read", "--connect", ep, "demo"}, 2, "", "read: want"},
		{[]string{"write", "--connect", ep, "demo", "count", "{bad"}, 2, "", "is not JSON"},
		{[]string{"invoke", "--connect", ep, "demo", "emit", "[1]"}, 2, "", "not a JSON object"},
		{[]string{"demo"}, 2, "", "want at least one --bind"},
		{[]string{"read", "--connect", ep, "--frob", "demo", "count"}, 2, "", "unknown flag --frob"},
	} {
		code, out, errOut := rpcRun(t, tc.args...)
		if code != tc.code || out != tc.stdout || !strings.Contains(errOut, tc.stderrHave) {
			t.Errorf("zmqgo rpc %q: exit %d, stdout %q, stderr %q; want %d, %q, %q",
				tc.args, code, out, errOut, tc.code, tc.stdout, tc.stderrHave)
		}
	}
	code, out, _ := rpcRun(t, "td", "--connect", ep, "demo")
	var td map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &td) != nil || td["id"] != "demo" || td["events"].(map[string]any)["tick"] == nil {
		t.Errorf("td: exit %d, %q", code, out)
	}
	if err := demo.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := demo.exit(t); code != 0 {
		t.Errorf("rpc demo: exit %d after SIGTERM", code)
	}
}

func TestRPCCommandTimeout(t *testing.T) {
	// Nobody answers the handshake: exit 3.
	code, _, errOut := rpcRun(t, "read", "--connect", "tcp://127.0.0.1:1", "--timeout", "600ms", "demo", "count")
	if code != 3 || !strings.Contains(errOut, "no handshake reply") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestRPCCommandPythonClient runs the hololinked-style pyzmq client
// (rpc/testdata/holo_client.py) against "zmqgo rpc demo".
func TestRPCCommandPythonClient(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import zmq, msgpack").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import zmq, msgpack (install python3-zmq python3-msgpack): %v %s", python, err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	_, ep := rpcDemo(t)
	out, err := exec.Command(python, "../../rpc/testdata/holo_client.py", "--connect", ep).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`{"step": "done"}`)) {
		t.Fatalf("holo_client.py against zmqgo rpc demo: %v\n%s", err, out)
	}
}

func TestRPCCommandCurve(t *testing.T) {
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "server.key")
	if err := os.WriteFile(keyFile, []byte(sec.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, ep := rpcDemo(t, "--curve-server", keyFile)
	if code, out, errOut := rpcRun(t, "read", "--connect", ep, "--curve-client", pub.String(), "demo", "count"); code != 0 || out != "1\n" {
		t.Fatalf("CURVE read: exit %d, %q, %q", code, out, errOut)
	}
	// the event socket is CURVE too; the subscription waits for an event
	sub := startBinary(t, "rpc", "subscribe", "--connect", ep, "--curve-client", pub.String(), "--count", "1", "demo", "tick")
	var line string
	for line == "" {
		if code, _, errOut := rpcRun(t, "invoke", "--connect", ep, "--curve-client", pub.String(), "demo", "emit", `{"value":5}`); code != 0 {
			t.Fatalf("CURVE invoke: exit %d, %q", code, errOut)
		}
		select {
		case line = <-sub.stdout:
		case <-time.After(300 * time.Millisecond): // not subscribed yet
		}
	}
	if line != `{"value":5}` {
		t.Fatalf("CURVE subscribe printed %q", line)
	}
	if code := sub.exit(t); code != 0 {
		t.Fatalf("subscribe: exit %d", code)
	}
	// without CURVE the handshake never completes: a timeout
	if code, _, errOut := rpcRun(t, "read", "--connect", ep, "--timeout", "700ms", "demo", "count"); code != 3 {
		t.Fatalf("plain client of a CURVE server: exit %d, %q", code, errOut)
	}
}
