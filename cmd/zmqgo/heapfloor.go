package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The heap floor of `zmqgo broker` and `broker-load` (--heap-floor). A
// broker keeps little alive (a few MB: its clients and their queues) and
// allocates fast (each message's encodings), so with Go's default GC, which
// collects when the heap has grown to twice what is alive (at least 4 MB),
// it collects dozens of times a second under load: 10–15% of its CPU. The
// load generator's clients are alike. The floor lets garbage grow to a
// fixed size before a collection, raising GOGC while the live heap is
// small; once the live heap outgrows half the floor, GOGC is back where it
// was. It works process-wide, after each collection, and is off when the
// operator set GOGC.
var heapFloor struct {
	mu    sync.Mutex
	users int    // brokers running with a floor (tests run several)
	floor uint64 // the highest asked
	base  int    // GOGC when the first started
	gogc  int    // GOGC last set
	epoch uint64 // bumped by the last stop: a pending hook of an old run ends
}

// start starts a heap floor of n bytes for a command (--heap-floor) unless
// n is 0 or the operator set GOGC; the returned func ends it.
func (n byteSize) start() (stop func()) {
	if _, set := os.LookupEnv("GOGC"); n == 0 || set {
		return func() {}
	}
	return startHeapFloor(uint64(n))
}

// startHeapFloor keeps the GC from collecting before the heap reaches
// floor bytes; the returned func ends it (when every user has).
func startHeapFloor(floor uint64) (stop func()) {
	h := &heapFloor
	h.mu.Lock()
	h.users++
	h.floor = max(h.floor, floor)
	if h.users == 1 {
		metrics.Read(gogcSample)
		h.base = -1 // GOGC=off reads as a huge number
		if v := gogcSample[0].Value; v.Kind() == metrics.KindUint64 && v.Uint64() <= 1<<30 {
			h.base = int(v.Uint64())
		}
		h.gogc = h.base
		if h.base >= 0 {
			prefault(floor)
		}
		armHeapFloor(h.epoch)
	}
	prefaulted := h.users == 1 && h.base >= 0
	h.mu.Unlock()
	tuneHeapFloor() // now: the next collection may be far off
	if prefaulted {
		// Collected with the floor's GOGC, the block goes, and its pages
		// stay with the heap: the scavenger keeps what the goal needs.
		runtime.GC()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.users--; h.users == 0 {
				h.epoch++
				h.floor = 0
				if h.gogc != h.base {
					debug.SetGCPercent(h.base)
				}
			}
		})
	}
}

// armHeapFloor has tuneHeapFloor run after the next collection: an
// unreachable object's finalizer runs once the GC has found it so. 16
// bytes: a smaller object without pointers may share its memory with
// others (the tiny allocator), and its finalizer need not run.
func armHeapFloor(epoch uint64) {
	runtime.SetFinalizer(new([16]byte), func(*[16]byte) {
		heapFloor.mu.Lock()
		live := heapFloor.epoch == epoch
		heapFloor.mu.Unlock()
		if live {
			tuneHeapFloor()
			armHeapFloor(epoch)
		}
	})
}

var (
	liveSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	gogcSample = []metrics.Sample{{Name: "/gc/gogc:percent"}}
)

// prefault has the heap's first n bytes mapped and touched now, at start,
// not page by page under load: filling the floor the first time took a
// page fault per 4 KiB (5,013 in a broker's 2,000-message run, 17k in a
// 15,000-message one; 324 and 1,076 with this) and 3-9% of its CPU per
// message. The block is garbage at once; the collection after the floor is
// set frees it (startHeapFloor). The GC is off meanwhile, so that no
// collection sees the block alive and no hook reads it as live heap.
func prefault(n uint64) {
	old := debug.SetGCPercent(-1)
	b := make([]byte, n)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	debug.SetGCPercent(old)
}

// tuneHeapFloor sets GOGC for the live heap: the next collection when the
// heap reaches the floor, or what the base GOGC gives if that is later.
func tuneHeapFloor() {
	h := &heapFloor
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users == 0 || h.base < 0 {
		return // stopped, or the GC is off (GOGC=off)
	}
	metrics.Read(liveSample)
	live := uint64(1)
	for _, s := range liveSample {
		// Before the first collection the live heap reads 0: the heap's
		// objects, garbage too, are an upper bound of it.
		if v := s.Value; v.Kind() == metrics.KindUint64 && v.Uint64() > 0 {
			live = v.Uint64()
			break
		}
	}
	// The goal is live*(1+GOGC/100), but never under 4 MB*GOGC/100 (the
	// runtime's heap minimum scales with GOGC): at most the floor either way.
	gogc := h.base
	if live < h.floor {
		gogc = max(h.base, int(min((h.floor-live)*100/live, h.floor*100/(4<<20))))
	}
	// Setting it costs a lock of the heap: only when it moves by a tenth.
	if d := gogc - h.gogc; d > h.gogc/10 || -d > h.gogc/10 {
		debug.SetGCPercent(gogc)
		h.gogc = gogc
	}
}
