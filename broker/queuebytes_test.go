package broker

import (
	"errors"
	"strings"
	"testing"
)

// Issue 16: two clients that never read, sent 200 KB direct messages by a
// third. Their queues hold at most QueueBytes each (plus a message), all
// together at most TotalBytes; what does not fit is refused ("failed") and
// counted as dropped.
func TestQueueBytes(t *testing.T) {
	const perClient, total, size = 1 << 20, 3 << 19, 200_000
	ctx := testCtx(t)
	b := startBroker(t, Config{Rate: -1, QueueBytes: perClient, TotalBytes: total})
	silentClient(t, b.Addr(), "stuck1")
	silentClient(t, b.Addr(), "stuck2")
	sender, _ := client(t, b.Addr(), "sender")
	content := strings.Repeat("x", size)
	failed := map[string]int{}
	for i := range 100 {
		target := []string{"stuck1", "stuck2"}[i%2]
		_, err := sender.Send(ctx, target, content)
		switch {
		case errors.Is(err, ErrNotDelivered):
			failed[target]++
		case err != nil:
			t.Fatal(err)
		}
		q := b.router.SendQueues()
		if q.MaxBytes > perClient+size+1024 || q.Bytes > total {
			t.Fatalf("after %d messages: queues %+v over the bounds", i+1, q)
		}
	}
	st := b.Stats()
	if failed["stuck1"] == 0 || failed["stuck2"] == 0 || st.Dropped != uint64(failed["stuck1"]+failed["stuck2"]) ||
		st.ErrorsByReason["queue_full"] != st.Dropped {
		t.Fatalf("failed %v, stats %+v", failed, st)
	}
	t.Logf("failed %v; queues %+v", failed, b.router.SendQueues())
}
