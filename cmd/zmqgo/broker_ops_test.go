package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// zmqgo broker --http: metrics, the status JSON and page, and pprof.
func TestBrokerHTTP(t *testing.T) {
	p := start(t, strings.NewReader(""), "broker", "--bind", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0",
		"--queue-bytes", "1MiB", "--total-bytes", "64MiB")
	addr := p.endpoint(t)
	l := p.stderr.waitLine(t, "http line", func(l string) bool { return strings.Contains(l, "status page and metrics on") })
	url := regexp.MustCompile(`http://\S+/`).FindString(l)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) string {
		t.Helper()
		resp, err := client.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return string(b)
	}
	alice := brokerClient(t, addr, "alice")
	brokerClient(t, addr, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := alice.Send(ctx, "bob", "hi"); err != nil {
		t.Fatal(err)
	}
	if m := get("metrics"); !strings.Contains(m, "zmqgo_broker_clients_registered 2") ||
		!strings.Contains(m, `zmqgo_broker_messages_received_total{type="direct_message"} 1`) {
		t.Fatalf("metrics:\n%s", m)
	}
	if s := get("api/status"); !strings.Contains(s, `"name":"alice"`) {
		t.Fatalf("status: %s", s)
	}
	if !strings.Contains(get(""), "<title>zmqgo broker</title>") || !strings.Contains(get("debug/pprof/"), "goroutine") {
		t.Fatal("no status page or pprof")
	}
	p.cancel()
	p.expectExit(t, exitOK)
}

func TestBrokerOpsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"broker", "--http", "8222"},
		{"broker", "--queue-bytes", "8x"},
		{"broker", "--total-bytes", "-1"},
	} {
		code, _, stderr := runSync(args...)
		if code != exitUsage || !strings.Contains(stderr, args[1]) {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
	}
}
