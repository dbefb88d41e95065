package zmq

import "testing"

func TestRxClass(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{0, -1}, {1, 0}, {32 << 10, 0}, {32<<10 + 1, 1}, {65536, 1}, {65569, 2}, {1 << 20, 5}, {1<<20 + 1, -1},
	} {
		if got := rxClass(c.n); got != c.want {
			t.Errorf("rxClass(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// TestRxBufGenerations: a stale copy of a released message cannot release
// the buffer again once it holds a newer message, and a chain releases
// every buffer of its message.
func TestRxBufGenerations(t *testing.T) {
	a, b := getRxBuf(40<<10), getRxBuf(100<<10)
	head, gen := chainRx([]*rxBuf{a, b})
	old := Msg{rx: head, rxGen: gen}
	old.Release()
	if a.gen.Load() != gen+1 || b.next != nil {
		t.Fatalf("release did not retire the chain: gen %d (want %d)", a.gen.Load(), gen+1)
	}
	old.Release() // twice: no-op
	if a.gen.Load() != gen+1 {
		t.Fatalf("second release moved the generation to %d", a.gen.Load())
	}
	// Whoever gets the buffer next owns it; the stale copy must not free it.
	reused := &rxBuf{b: a.b}
	reused.gen.Store(a.gen.Load())
	reused.gen.Add(1)
	_, g2 := chainRx([]*rxBuf{reused})
	stale := Msg{rx: reused, rxGen: gen}
	stale.Release()
	if reused.gen.Load() != g2 {
		t.Fatalf("stale release changed the generation: %d, want %d", reused.gen.Load(), g2)
	}
	Msg{}.Release() // a message that was not received
}
