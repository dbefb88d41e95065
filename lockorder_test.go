//go:build lockorder

package zmq

import (
	"strings"
	"testing"
)

// TestLockOrderChecker proves the checker the lockorder build runs under:
// the order of LOCKS.md passes, its inversion panics.
func TestLockOrderChecker(t *testing.T) {
	var outer mutex[rankSocketMu]
	var inner mutex[rankOutQueue]
	outer.Lock()
	inner.Lock()
	inner.Unlock()
	outer.Unlock()

	defer func() {
		r := recover()
		msg, _ := r.(string)
		if !strings.Contains(msg, "Socket.mu taken while holding outQueue.mu") {
			t.Fatalf("inversion: recovered %v, want a lock-order panic", r)
		}
		inner.Unlock()
	}()
	inner.Lock()
	outer.Lock() // panics before taking the lock
	outer.Unlock()
}
