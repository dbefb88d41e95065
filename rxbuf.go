package zmq

import (
	"math/bits"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Receive buffers for large frames, recycled through Msg.Release. A buffer
// is handed out with a generation number that the message keeps; Release
// returns it only if the number still matches, so a stale copy of an old
// message cannot release a buffer that already holds a newer one.
type rxBuf struct {
	b       []byte
	gen     atomic.Uint64
	next    *rxBuf // the message's next pooled frame, with its generation
	nextGen uint64

	// AllocMsg buffers go back to the pool by themselves once sent: refs
	// counts the queues holding the message, plus one while Send routes it.
	auto   atomic.Bool
	refs   atomic.Int32
	frames [1][]byte // the AllocMsg message's frame list: no allocation per message
}

const (
	rxMinShift = 15 // 32 KiB: smaller frames are carved from the reader's slabs
	rxClasses  = 6  // 32 KiB .. 1 MiB, powers of two
)

var rxPools [rxClasses]sync.Pool

// rxClass is the pool for a body of n bytes, or -1.
func rxClass(n int) int {
	if n <= 0 || n > 1<<(rxMinShift+rxClasses-1) {
		return -1
	}
	c := bits.Len(uint(n-1)) - rxMinShift
	return max(c, 0)
}

// getRxBuf returns a buffer of at least n bytes, or nil if n has no pool.
func getRxBuf(n int) *rxBuf {
	c := rxClass(n)
	if c < 0 {
		return nil
	}
	h, _ := rxPools[c].Get().(*rxBuf)
	if h == nil {
		h = &rxBuf{b: make([]byte, 1<<(rxMinShift+c))}
	}
	h.gen.Add(1)
	h.next, h.nextGen = nil, 0
	h.auto.Store(false)
	return h
}

// sendRef and sendUnref track an AllocMsg message through the queues; the
// last unref after a successful send returns the buffer.
func (m *Msg) sendRef() {
	if h := m.rx; h != nil && h.auto.Load() && h.gen.Load() == m.rxGen {
		h.refs.Add(1)
	}
}

func (m *Msg) sendUnref() {
	if h := m.rx; h != nil && h.auto.Load() && h.gen.Load() == m.rxGen && h.refs.Add(-1) == 0 {
		h.release(m.rxGen)
	}
}

// sendAbandon drops a reference without returning the buffer: after a
// push that found the queue full, or a failed Send (the caller still owns
// the message).
func (m *Msg) sendAbandon() {
	if h := m.rx; h != nil && h.auto.Load() && h.gen.Load() == m.rxGen {
		h.refs.Add(-1)
	}
}

func (h *rxBuf) release(gen uint64) {
	for h != nil {
		if !h.gen.CompareAndSwap(gen, gen+1) {
			return
		}
		next, nextGen := h.next, h.nextGen
		h.next = nil
		rxPools[rxClass(len(h.b))].Put(h)
		h, gen = next, nextGen
	}
}

// chainRx links a message's pooled buffers for Msg.Release and returns the
// head and its generation.
func chainRx(hs []*rxBuf) (*rxBuf, uint64) {
	if len(hs) == 0 {
		return nil, 0
	}
	for i := len(hs) - 2; i >= 0; i-- {
		hs[i].next, hs[i].nextGen = hs[i+1], hs[i+1].gen.Load()
	}
	return hs[0], hs[0].gen.Load()
}

// freeOSOver is the part of a large frame that, left unfinished by a
// connection that went, is worth giving back to the operating system at
// once: the Go runtime would otherwise keep it for minutes (and a peer
// that announced a huge frame and vanished would leave the process that
// much bigger).
const freeOSOver = 64 << 20

var freeingOS atomic.Bool

// freeOSMemory returns freed memory to the operating system, one call at a
// time (it runs a full collection).
func freeOSMemory() {
	if freeingOS.CompareAndSwap(false, true) {
		debug.FreeOSMemory()
		freeingOS.Store(false)
	}
}
