package redislayer

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestCompareWithChannelsRedis times the same workloads through this layer
// and through channels_redis itself, on one Redis, in one run: group_send
// to 1,000 channels, and send+receive pairs on one channel. It prints the
// figures; run it with ZMQGO_BENCH=1 (it is a measurement, not a check).
func TestCompareWithChannelsRedis(t *testing.T) {
	if os.Getenv("ZMQGO_BENCH") != "1" {
		t.Skip("measurement: set ZMQGO_BENCH=1")
	}
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), map[string]any{"capacity": 1000})
	l := newLayer(t, rdb, Config{Capacity: 1000})
	ctx := ctxT(t, 10*time.Minute)
	const members, sends, pairs = 1000, 20, 2000
	for i := range members {
		if err := l.GroupAdd(ctx, "bench", fmt.Sprintf("bench-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	msg := map[string]any{"type": "bench.message", "text": "0123456789abcdef"}

	start := time.Now()
	for range sends {
		if err := l.GroupSend(ctx, "bench", msg); err != nil {
			t.Fatal(err)
		}
	}
	goGroup := time.Since(start).Seconds() / sends
	var pyTotal float64
	json.Unmarshal(py.Must(map[string]any{"op": "time_group_send", "group": "bench", "msg": msg, "n": sends}), &pyTotal)
	pyGroup := pyTotal / sends
	if n := rdb.ZCard(ctx, "asgibench-999").Val(); n != 2*sends {
		t.Fatalf("last channel holds %d messages, want %d", n, 2*sends)
	}

	start = time.Now()
	for i := range pairs {
		if err := l.Send(ctx, "pairs", map[string]any{"type": "x", "i": i}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Receive(ctx, "pairs"); err != nil {
			t.Fatal(err)
		}
	}
	goPairs := float64(pairs) / time.Since(start).Seconds()
	json.Unmarshal(py.Must(map[string]any{"op": "time_send_receive", "channel": "pairs", "n": pairs}), &pyTotal)
	pyPairs := float64(pairs) / pyTotal

	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("group_send to %d channels: Go %.2f ms, channels_redis %.2f ms (%.1fx)", members, goGroup*1e3, pyGroup*1e3, pyGroup/goGroup)
	t.Logf("send+receive pairs/s on one channel: Go %.0f, channels_redis %.0f (%.1fx)", goPairs, pyPairs, goPairs/pyPairs)
	t.Logf("loadavg %s", load)
}
