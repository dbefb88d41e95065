package main

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmqgo/zmq/broker"
	"github.com/zmqgo/zmq/internal/ztest"
)

// Three `zmqgo broker --redis` processes are one broker; one of them is
// SIGKILLed: the others go on, and its client's name is free once its
// lease expired.
func TestBrokerRedisNodes(t *testing.T) {
	r := ztest.StartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	const lease = 1500 * time.Millisecond
	var nodes []*binProc
	var addrs []string
	for range 3 {
		p := startBinary(t, "broker", "--bind", anyPort, "--redis", r.URL(), "--redis-lease", lease.String(),
			"--redis-confirm-timeout", "300ms", "--stats-interval", "0")
		for {
			l := p.line(t, p.stderr)
			if a, ok := strings.CutPrefix(l, "zmqgo: bound "); ok {
				addrs = append(addrs, a)
				break
			}
		}
		nodes = append(nodes, p)
	}
	var clients []*broker.Client
	for i, name := range []string{"alice", "bob", "carol"} {
		c, err := broker.NewClient(addrs[i])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Register(ctx, name); err != nil {
			t.Fatalf("register %s on node %d: %v", name, i, err)
		}
		clients = append(clients, c)
	}
	for i, c := range clients {
		to := []string{"bob", "carol", "alice"}[i]
		if st, err := c.Send(ctx, to, "hi"); err != nil || st != broker.StatusDelivered {
			t.Fatalf("%s to %s: %q, %v", c.Name(), to, st, err)
		}
	}
	if l, err := clients[0].List(ctx); err != nil || len(l) != 3 {
		t.Fatalf("list: %v, %v", l, err)
	}

	if err := nodes[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	nodes[2].exit(t)
	if st, _ := clients[0].Send(ctx, "carol", "there?"); st != broker.StatusFailed {
		t.Fatalf("to the killed node's client: %q", st)
	}
	if st, err := clients[0].Send(ctx, "bob", "still here"); err != nil || st != broker.StatusDelivered {
		t.Fatalf("alice to bob after the kill: %q, %v", st, err)
	}
	dave, err := broker.NewClient(addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer dave.Close()
	for {
		_, err := dave.Register(ctx, "carol")
		if err == nil {
			break
		}
		var e *broker.Error
		if !errors.As(err, &e) || time.Since(killed) > 2*lease+time.Second {
			t.Fatalf("carol's name %v after the kill: %v", time.Since(killed), err)
		}
		time.Sleep(lease / 10) // polls the lease's expiry in Redis
	}
	t.Logf("carol's name free %v after SIGKILL (lease %v)", time.Since(killed).Round(time.Millisecond), lease)
	if l, err := clients[0].List(ctx); err != nil || len(l) != 3 || l[2].Name != "carol" {
		t.Fatalf("list after the kill: %v, %v", l, err)
	}
}
