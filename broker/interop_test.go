package broker

// Interop with a txZMQ client (Debian's python3-txzmq) written for the
// router-dealer pattern's protocol: testdata/txzmq_client.py, driven over
// stdin/stdout.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
)

// python is Debian's interpreter: Debian's Python packages load only there.
const python = ztest.Python

// needTxZMQ skips the test without txZMQ, or fails it on CI, where it must
// be there (scripts/test.sh installs it).
func needTxZMQ(t *testing.T) {
	t.Helper()
	ztest.NeedPython(t, "python3-txzmq", "txzmq", "twisted", "zmq")
}

type pyClient struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	msgs   chan map[string]any
	stderr syncBuffer
	read   chan struct{}
}

func startPy(t *testing.T, name, addr string, args ...string) *pyClient {
	t.Helper()
	needTxZMQ(t)
	p := &pyClient{t: t, name: name, msgs: make(chan map[string]any, 100), read: make(chan struct{})}
	p.cmd = exec.Command(python, append([]string{"testdata/txzmq_client.py", "--connect", addr}, args...)...)
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(p.read)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		first := true
		for sc.Scan() {
			if first {
				first = false
				close(ready)
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"test_error": "unparsable line: " + sc.Text()}
			}
			p.msgs <- m
		}
		if first {
			close(ready)
		}
	}()
	t.Cleanup(p.stop)
	select {
	case <-ready:
	case <-time.After(waitTimeout):
		t.Fatalf("txZMQ client did not start; stderr: %s", p.stderr.String())
	}
	return p
}

func (p *pyClient) stop() {
	io.WriteString(p.stdin, "quit\n")
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Errorf("txZMQ client %s: %v; stderr: %s", p.name, err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
		p.t.Errorf("txZMQ client %s did not quit; stderr: %s", p.name, p.stderr.String())
	}
	<-p.read
}

func (p *pyClient) do(line string) {
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// next returns the next message, which must be of type typ and have
// exactly the fields given (comma-separated, sorted).
func (p *pyClient) next(typ, fields string) map[string]any {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		keys := slices.Sorted(maps.Keys(m))
		if m["type"] != typ || strings.Join(keys, ",") != fields {
			p.t.Fatalf("%s got %v, want a %s with fields %s", p.name, m, typ, fields)
		}
		return m
	case <-time.After(waitTimeout):
		p.t.Fatalf("%s: no %s after %v; stderr: %s", p.name, typ, waitTimeout, p.stderr.String())
		return nil
	}
}

func keys(v any) string {
	m, _ := v.(map[string]any)
	return strings.Join(slices.Sorted(maps.Keys(m)), ",")
}

// A txZMQ client written for the protocol talks to the broker, to another
// txZMQ client and to a Go client, unchanged.
func TestTxZMQInterop(t *testing.T) {
	needTxZMQ(t)
	ctx := testCtx(t)
	b := startBroker(t, Config{})
	alice := startPy(t, "alice", b.Addr())
	bob := startPy(t, "bob", b.Addr())
	carol, carolIn := client(t, b.Addr(), "carol")

	alice.do("register alice")
	if m := alice.next("registration_ack", "client_id,message,status,type"); m["status"] != "success" || m["message"] != "Welcome, alice!" {
		t.Fatal(m)
	}
	bob.do("register bob")
	bob.next("registration_ack", "client_id,message,status,type")

	alice.do("direct bob hello bob")
	if m := bob.next("direct_message", "content,from,timestamp,type"); m["from"] != "alice" || m["content"] != "hello bob" {
		t.Fatal(m)
	}
	if m := alice.next("delivery_confirmation", "status,target,type"); m["status"] != "delivered" || m["target"] != "bob" {
		t.Fatal(m)
	}
	if _, err := carol.Send(ctx, "alice", map[string]any{"from": "go", "n": 1}); err != nil {
		t.Fatal(err)
	}
	if m := alice.next("direct_message", "content,from,timestamp,type"); m["from"] != "carol" || keys(m["content"]) != "from,n" {
		t.Fatal(m)
	}

	bob.do("broadcast hi all")
	if m := alice.next("broadcast", "content,from,timestamp,type"); m["from"] != "bob" || m["content"] != "hi all" {
		t.Fatal(m)
	}
	if m := carolIn.next(t, TypeBroadcast); m.From != "bob" || m.Text() != "hi all" {
		t.Fatalf("%+v", m)
	}
	if m := bob.next("broadcast_confirmation", "recipients,type"); m["recipients"] != 2.0 {
		t.Fatal(m)
	}

	alice.do("list")
	m := alice.next("client_list", "clients,total,type")
	list, _ := m["clients"].([]any)
	if m["total"] != 3.0 || len(list) != 3 || keys(list[0]) != "connected_since,last_activity,message_count,name" {
		t.Fatal(m)
	}
	alice.do("ping")
	if m := alice.next("pong", "stats,timestamp,type"); keys(m["stats"]) != "errors,received,sent" {
		t.Fatal(m)
	}

	// Errors, as the protocol has them.
	alice.do("raw this is not json")
	alice.next("error", "message,timestamp,type")
	bob.do("register alice")
	if m := bob.next("error", "message,timestamp,type"); m["message"] != `name "alice" is taken` {
		t.Fatal(m)
	}
	alice.do("direct nobody anyone?")
	if m := alice.next("error", "message,timestamp,type"); m["message"] != `client "nobody" is not registered` {
		t.Fatal(m)
	}
}

// txZMQ clients on two brokers of a federation.
func TestTxZMQFederation(t *testing.T) {
	needTxZMQ(t)
	ctx := testCtx(t)
	top := fedBroker(t, "top", []string{"east", "west"})
	east := fedBroker(t, "east", nil, top.Addr())
	west := fedBroker(t, "west", nil, top.Addr())
	alice := startPy(t, "alice", east.Addr(), "--plain", "alice:pw")
	bob := startPy(t, "bob", west.Addr(), "--plain", "bob:pw")
	alice.do("register alice")
	alice.next("registration_ack", "client_id,message,status,type")
	bob.do("register bob")
	bob.next("registration_ack", "client_id,message,status,type")
	waitRoutes(t, ctx, top, "alice", "bob")
	alice.do("direct bob over the top")
	if m := alice.next("delivery_confirmation", "status,target,type"); m["status"] != "forwarded" {
		t.Fatal(m)
	}
	m := bob.next("direct_message", "content,from,route_path,timestamp,type")
	if m["from"] != "alice" || m["content"] != "over the top" || fmt.Sprint(m["route_path"]) != "[east top west]" {
		t.Fatal(m)
	}
	alice.do("direct nobody hello?")
	alice.next("delivery_confirmation", "status,target,type")
	if m := alice.next("routing_error", "content,destination,error,failed_destination,failed_route,original_sender,route_path,timestamp,type"); m["failed_destination"] != "nobody" {
		t.Fatal(m)
	}
}
