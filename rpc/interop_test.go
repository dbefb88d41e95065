package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
)

// python is Debian's interpreter: Debian's python3-zmq and python3-msgpack
// load only there.
const python = ztest.Python

// needPython skips (or, under CI=true, fails) when the Python peers cannot run.
func needPython(t testing.TB) {
	t.Helper()
	ztest.NeedPython(t, "python3-zmq python3-msgpack", "zmq", "msgpack")
}

// TestInteropPythonClient runs a pyzmq client that speaks as hololinked's
// client does against our server (see testdata/holo_client.py for what it
// checks).
func TestInteropPythonClient(t *testing.T) {
	needPython(t)
	for _, ap := range []string{"tcp://127.0.0.1:0", "IPC"} {
		t.Run(strings.Trim(ap[:3], ":"), func(t *testing.T) {
			s, err := NewServer("demo", WithIPCDir(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			s.AddThing(NewDemoThing("demo"))
			ep, err := s.Listen(ap)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Serve(context.Background()) }()
			defer func() { s.Close(); <-done }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, python, "testdata/holo_client.py", "--connect", ep).CombinedOutput()
			t.Logf("holo_client.py:\n%s", out)
			if err != nil {
				t.Fatalf("python client against our server: %v", err)
			}
			var step struct {
				Step       string
				NextReplyS float64 `json:"next_reply_s"`
				LastValue  any     `json:"last_value"`
			}
			sc := bufio.NewScanner(bytes.NewReader(out))
			seen := map[string]bool{}
			for sc.Scan() {
				if json.Unmarshal(sc.Bytes(), &step) != nil {
					continue
				}
				seen[step.Step] = true
				if step.Step == "timeout" && step.NextReplyS > 1 {
					t.Errorf("the queue stayed blocked after the execution timeout: next reply took %.2fs", step.NextReplyS)
				}
				if step.Step == "events" && step.LastValue == nil {
					t.Error("late python subscriber got no last value")
				}
			}
			if !seen["done"] {
				t.Fatal("python client did not finish")
			}
		})
	}
}

// pyServer runs testdata/holo_server.py, a pyzmq server replying as
// hololinked's does, and returns its request endpoint.
type pyServer struct {
	cmd    *exec.Cmd
	req    string
	events string
	stderr bytes.Buffer
}

func startPyServer(t testing.TB) *pyServer {
	t.Helper()
	needPython(t)
	p := &pyServer{cmd: exec.Command(python, "testdata/holo_server.py", "--bind", "tcp://127.0.0.1:0")}
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- l
		io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		var eps struct{ Requests, Events string }
		if err := json.Unmarshal([]byte(l), &eps); err != nil {
			t.Fatalf("holo_server.py said %q: %v; stderr %s", l, err, p.stderr.String())
		}
		p.req, p.events = eps.Requests, eps.Events
	case <-time.After(30 * time.Second):
		t.Fatal("holo_server.py did not start")
	}
	return p
}

// TestInteropPythonServer calls a pyzmq server that replies as hololinked's
// does with our Client.
func TestInteropPythonServer(t *testing.T) {
	p := startPyServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, p.req, "demo")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("handshake took %v", time.Since(start))
	var n float64
	if err := c.ReadProperty(ctx, "demo", "count", &n); err != nil || n != 1 {
		t.Fatalf("read: %v %v", n, err)
	}
	if err := c.WriteProperty(ctx, "demo", "count", 42); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteProperty(ctx, "demo", "count", 7, ContentType(ContentMsgpack)); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadProperty(ctx, "demo", "count", &n); err != nil || n != 7 {
		t.Fatalf("read after msgpack write: %v %v", n, err)
	}
	if err := c.WriteMultipleProperties(ctx, "demo", map[string]any{"count": 8}); err != nil {
		t.Fatal(err)
	}
	if m, err := c.ReadMultipleProperties(ctx, "demo", []string{"count"}); err != nil || m["count"] != 8.0 {
		t.Fatalf("read multiple: %v %v", m, err)
	}
	var slept map[string]float64
	if err := c.InvokeAction(ctx, "demo", "sleep_for", map[string]any{"__args__": []any{0.05}}, &slept); err != nil || slept["slept"] != 0.05 {
		t.Fatalf("sleep_for: %v %v", slept, err)
	}
	var e *Exception
	if err := c.InvokeAction(ctx, "demo", "fail", nil, nil); !errors.As(err, &e) || e.Type != "ValueError" ||
		e.Message != "deliberate failure from Demo.fail" || len(e.Traceback) < 2 {
		t.Fatalf("fail: %v", err)
	}
	if err := c.ReadProperty(ctx, "ghost", "count", nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("ghost: %v", err)
	}
	var te *TimeoutError
	if err := c.InvokeAction(ctx, "demo", "sleep_for", map[string]any{"seconds": 1}, nil,
		CallTimeouts(5*time.Second, 100*time.Millisecond)); !errors.As(err, &te) || te.Kind != TimeoutExecution ||
		!errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
	// many in flight, matched by messageID
	var fs []*Future
	for i := range 64 {
		fs = append(fs, c.InvokeActionAsync(ctx, "demo", "emit", map[string]any{"value": i}))
	}
	for i, f := range fs {
		var v int
		if err := f.Result(ctx, &v); err != nil || v != i {
			t.Fatalf("future %d: %v %v", i, v, err)
		}
	}
	td, err := c.ThingDescription(ctx, "demo")
	if err != nil || td["id"] != "demo" {
		t.Fatalf("TD: %v %v", td, err)
	}
	sub, err := c.Subscribe(ctx, "demo", "tick")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitEvent(t, c, sub, 9)
	// hololinked stops on any EXIT: no reply, the process ends.
	if err := c.Exit(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("python server did not stop on EXIT")
	}
}
