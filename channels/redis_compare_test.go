package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/channels/redislayer"
)

// TestRedisCompareGroupSend measures, in one run on one Redis: group_send
// to 1,000 channels by a DMB-protocol client through a zmqgo channels
// node (--redis), by redislayer in process, and by channels_redis itself
// from Python; and a channels_redis group_send fanned out to 1,000
// process channels whose receivers are attached to the zmqgo node. It
// prints the figures; run with ZMQGO_BENCH=1 (a measurement, not a check).
func TestRedisCompareGroupSend(t *testing.T) {
	if os.Getenv("ZMQGO_BENCH") != "1" {
		t.Skip("measurement: set ZMQGO_BENCH=1")
	}
	needPython(t)
	srv := newRedis(t)
	py := startChannelsRedis(t, srv, map[string]any{"capacity": 1000})
	s := startRedisNode(t, srv, Config{Capacity: 1000})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Minute)
	const members, sends = 1000, 50
	for i := range members {
		if err := l.GroupAdd(ctx, "bench", fmt.Sprintf("bench-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	msg := Message{"type": "bench.message", "text": "0123456789abcdef"}

	timeit := func(f func() error) []float64 {
		var d []float64
		for range sends {
			start := time.Now()
			if err := f(); err != nil {
				t.Fatal(err)
			}
			d = append(d, time.Since(start).Seconds()*1e3)
		}
		sort.Float64s(d)
		return d
	}
	rdb := redisClient(t, srv)
	// Redis's own CPU per phase (INFO cpu): the work each client makes
	// the shared Redis do, which bounds every node's group sends.
	redisCPU := func() float64 {
		var total float64
		for _, line := range strings.Split(rdb.Info(ctx, "cpu").Val(), "\n") {
			for _, k := range []string{"used_cpu_user:", "used_cpu_sys:"} {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), k); ok {
					f, _ := strconv.ParseFloat(v, 64)
					total += f
				}
			}
		}
		return total
	}
	c0 := redisCPU()
	node := timeit(func() error { return l.GroupSend(ctx, "bench", msg) })
	c1 := redisCPU()
	rl, err := redislayer.New(redisClient(t, srv), redislayer.Config{Capacity: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	direct := timeit(func() error { return rl.GroupSend(ctx, "bench", msg) })
	c2 := redisCPU()
	var pyTotal float64
	json.Unmarshal(py.Must(map[string]any{"op": "time_group_send", "group": "bench", "msg": msg, "n": sends}), &pyTotal)
	c3 := redisCPU()
	if n := rdb.ZCard(ctx, "asgibench-999").Val(); n != 3*sends {
		t.Fatalf("last channel holds %d messages, want %d", n, 3*sends)
	}

	// Fan-out: 1,000 process channels received through the node.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan time.Time, members)
	for range members {
		pc := l.NewChannel("")
		if err := l.GroupAdd(ctx, "fan", pc); err != nil {
			t.Fatal(err)
		}
		go func() {
			if _, err := l.Receive(rctx, pc); err == nil {
				got <- time.Now()
			}
		}()
	}
	waitFor(t, "1000 subscriptions", func() bool { return s.Stats().Subscribers == members })
	start := time.Now()
	py.Must(map[string]any{"op": "group_send", "group": "fan", "msg": msg})
	var last time.Time
	for range members {
		select {
		case last = <-got:
		case <-ctx.Done():
			t.Fatal("fan-out incomplete")
		}
	}
	fan := last.Sub(start).Seconds() * 1e3

	p50 := func(d []float64) float64 { return d[len(d)/2] }
	mean := func(d []float64) float64 {
		var t float64
		for _, x := range d {
			t += x
		}
		return t / float64(len(d))
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("group_send to %d channels, ms per call, mean of %d (p50, max):", members, sends)
	t.Logf("  DMB client -> zmqgo channels --redis node: %.2f (%.2f, %.2f)", mean(node), p50(node), node[len(node)-1])
	t.Logf("  redislayer in process:                      %.2f (%.2f, %.2f)", mean(direct), p50(direct), direct[len(direct)-1])
	t.Logf("  channels_redis 4.0 (Python):                %.2f", pyTotal/sends*1e3)
	t.Logf("  channels_redis / zmqgo node: %.1fx", pyTotal/sends*1e3/mean(node))
	t.Logf("Redis CPU ms per group_send: zmqgo node %.2f, redislayer %.2f, channels_redis %.2f",
		(c1-c0)/sends*1e3, (c2-c1)/sends*1e3, (c3-c2)/sends*1e3)
	t.Logf("channels_redis group_send -> %d process channels received by a Go client of the node: %.1f ms", members, fan)
	t.Logf("loadavg %s", load)
}
