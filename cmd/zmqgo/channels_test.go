package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/zmqgo/zmq/channels"
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
	} {
		p := start(t, strings.NewReader(""), args...)
		p.expectExit(t, exitUsage)
	}
}
