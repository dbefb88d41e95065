//go:build lockorder

package zmq

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
)

// With the lockorder tag every ranked mutex records, per goroutine, the
// ranks it holds, and taking one while holding a higher rank panics: the
// tests then check the order LOCKS.md states on every path they run.

type mutex[R ranked] struct{ mu sync.Mutex }

func (m *mutex[R]) Lock()   { var r R; acquire(r); m.mu.Lock() }
func (m *mutex[R]) Unlock() { var r R; m.mu.Unlock(); release(r) }

type rwmutex[R ranked] struct{ mu sync.RWMutex }

func (m *rwmutex[R]) Lock()    { var r R; acquire(r); m.mu.Lock() }
func (m *rwmutex[R]) Unlock()  { var r R; m.mu.Unlock(); release(r) }
func (m *rwmutex[R]) RLock()   { var r R; acquire(r); m.mu.RLock() }
func (m *rwmutex[R]) RUnlock() { var r R; m.mu.RUnlock(); release(r) }

var held struct {
	mu sync.Mutex
	by map[uint64][]ranked
}

func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

func acquire(r ranked) {
	g := goid()
	held.mu.Lock()
	defer held.mu.Unlock()
	if held.by == nil {
		held.by = make(map[uint64][]ranked)
	}
	rank, name := r.rank()
	for _, h := range held.by[g] {
		if hr, hname := h.rank(); hr > rank {
			panic(fmt.Sprintf("zmq: lock order: %s taken while holding %s (LOCKS.md)", name, hname))
		}
	}
	held.by[g] = append(held.by[g], r)
}

// release forgets the newest hold of r by this goroutine. A lock released
// by another goroutine than the one that took it is not tracked further.
func release(r ranked) {
	g := goid()
	held.mu.Lock()
	defer held.mu.Unlock()
	hs := held.by[g]
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i] == r {
			hs = append(hs[:i], hs[i+1:]...)
			break
		}
	}
	if len(hs) == 0 {
		delete(held.by, g)
	} else {
		held.by[g] = hs
	}
}
