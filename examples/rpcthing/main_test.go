package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/rpc"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serve(t *testing.T) string {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, io.Discard, []string{"-bind", "tcp://127.0.0.1:0"}, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case ep := <-ready:
		return ep
	case err := <-done:
		t.Fatal(err)
	}
	return ""
}

// TestPythonClient drives the oven with client.py, the bare pyzmq client
// that speaks as hololinked's does.
func TestPythonClient(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import zmq").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import zmq (install python3-zmq): %v", python, err)
		}
		t.Skipf("%s cannot import zmq: %v", python, err)
	}
	ep := serve(t)
	py := func(args ...string) string {
		out, err := exec.Command(python, append([]string{"client.py", "--connect", ep, "oven"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("client.py %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := py("read", "temperature"); got != "REPLY 20" {
		t.Fatalf("temperature: %q", got)
	}
	py("write", "setpoint", "180")
	if got := py("invoke", "heat", `{"minutes":0.001}`); got != "REPLY 180" {
		t.Fatalf("heat: %q", got)
	}
	if got := py("read", "temperature"); got != "REPLY 180" {
		t.Fatalf("temperature after heat: %q", got)
	}
}

// TestGoClient checks the oven's rules with the Go client.
func TestGoClient(t *testing.T) {
	ep := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, ep, "oven")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var e *rpc.Exception
	if err := c.WriteProperty(ctx, "oven", "temperature", 1); !errors.As(err, &e) || e.Type != "AttributeError" {
		t.Fatalf("read-only write: %v", err)
	}
	if err := c.WriteProperty(ctx, "oven", "setpoint", 1.5); !errors.As(err, &e) || e.Type != "TypeError" {
		t.Fatalf("non-integer setpoint: %v", err)
	}
	if err := c.InvokeAction(ctx, "oven", "heat", map[string]any{"minutes": -1}, nil); !errors.As(err, &e) || e.Type != "ValueError" {
		t.Fatalf("negative minutes: %v", err)
	}
	var te *rpc.TimeoutError
	if err := c.InvokeAction(ctx, "oven", "heat", map[string]any{"minutes": 10}, nil,
		rpc.CallTimeouts(time.Second, 100*time.Millisecond)); !errors.As(err, &te) {
		t.Fatalf("long heat: %v", err)
	}
	sub, err := c.Subscribe(ctx, "oven", "ready")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := c.InvokeAction(ctx, "oven", "heat", []any{}, nil); err == nil {
		t.Fatal("a list of arguments was accepted")
	}
	for {
		if err := c.InvokeAction(ctx, "oven", "heat", map[string]any{"__args__": []any{0.0001}}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-sub.C:
			var v map[string]float64
			if err := ev.Decode(&v); err != nil || v["temperature"] != 20 {
				t.Fatalf("ready: %v %v", v, err)
			}
			return
		case <-time.After(200 * time.Millisecond): // the subscription was not live yet
		}
	}
}
