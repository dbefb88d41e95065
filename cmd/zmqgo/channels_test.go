package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/zmqgo/zmq/channels"
	"github.com/zmqgo/zmq/internal/ztest"
)

// zmqgo channels: both ports printed, capacity flags applied, the status
// page served, SIGINT (the context) stops it cleanly.
func TestChannelsCommand(t *testing.T) {
	p := start(t, strings.NewReader(""), "channels", "--bind", "tcp://127.0.0.1:0", "--capacity", "2",
		"--channel-capacity", "one.*=1", "--http", "127.0.0.1:0")
	addr := p.endpoint(t)
	p.stderr.waitLine(t, "signalling port", func(l string) bool {
		return strings.HasPrefix(l, "zmqgo: bound ") && !strings.Contains(l, addr)
	})
	web := p.stderr.waitLine(t, "http address", func(l string) bool { return strings.HasPrefix(l, "zmqgo: serving ") })
	l, err := channels.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := l.Send(ctx, "one.x", channels.Message{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, "one.x", channels.Message{"a": 1}); !errors.Is(err, channels.ErrChannelFull) {
		t.Fatalf("over --channel-capacity: %v", err)
	}
	url := strings.Fields(strings.TrimPrefix(web, "zmqgo: serving "))[0]
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if !strings.Contains(string(b), "zmqgo_channels_dropped_full_total 1") {
		t.Fatalf("metrics:\n%s", b)
	}
	l.Close()
	p.cancel()
	p.expectExit(t, exitOK)
}

func TestChannelsCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"channels", "--bind", "ipc:///x"},
		{"channels", "--capacity", "0"},
		{"channels", "--channel-capacity", "x"},
		{"channels", "--http", "nope"},
		{"channels", "--redis", "http://x"},
		{"channels", "--redis", "redis://h:1/0?master_name=m&bogus=1"},
		{"channels", "--redis-lease", "1ms"},
	} {
		p := start(t, strings.NewReader(""), args...)
		p.expectExit(t, exitUsage)
	}
}

// The built binary: both ports printed, SIGTERM and SIGINT stop it with
// exit 0 and a stop log.
func TestBinaryChannelsSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startBinary(t, "channels", "--bind", "tcp://127.0.0.1:0")
			var bound []string
			for len(bound) < 2 {
				if l := p.line(t, p.stderr); strings.HasPrefix(l, "zmqgo: bound ") {
					bound = append(bound, strings.TrimPrefix(l, "zmqgo: bound "))
				}
			}
			l, err := channels.Dial(bound[0])
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if _, err := l.Report(ctx); err != nil { // the signalling port answers
				t.Fatal(err)
			}
			l.Close()
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			stopped := false
			for l := range p.stderr {
				stopped = stopped || strings.Contains(l, `msg="channels: stopped"`)
			}
			if code := p.exit(t); code != 0 || !stopped {
				t.Errorf("exit %d after %v, stop logged: %v", code, sig, stopped)
			}
		})
	}
}

// zmqgo channels --redis: the store is Redis (channels_redis keys), shown
// on /metrics; an unreachable Redis at start is a clear error.
func TestChannelsCommandRedis(t *testing.T) {
	srv := ztest.StartRedis(t)
	p := start(t, strings.NewReader(""), "channels", "--bind", "tcp://127.0.0.1:0", "--redis", srv.URL(),
		"--http", "127.0.0.1:0")
	addr := p.endpoint(t)
	web := p.stderr.waitLine(t, "http address", func(l string) bool { return strings.HasPrefix(l, "zmqgo: serving ") })
	l, err := channels.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := l.GroupAdd(ctx, "cmd.group", "cmd.chan"); err != nil {
		t.Fatal(err)
	}
	if err := l.GroupSend(ctx, "cmd.group", channels.Message{"type": "hello"}); err != nil {
		t.Fatal(err)
	}
	if m, err := l.Receive(ctx, "cmd.chan"); err != nil || m["type"] != "hello" {
		t.Fatalf("%v %v", m, err)
	}
	url := strings.Fields(strings.TrimPrefix(web, "zmqgo: serving "))[0]
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if !strings.Contains(string(b), "zmqgo_channels_store_up 1") {
		t.Fatalf("metrics:\n%s", b)
	}
	l.Close()
	p.cancel()
	p.expectExit(t, exitOK)

	srv.Kill()
	p = start(t, strings.NewReader(""), "channels", "--bind", "tcp://127.0.0.1:0", "--redis", srv.URL())
	p.expectExit(t, exitFailure)
}
