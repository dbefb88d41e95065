//go:build !lockorder

package zmq

import (
	"sync"
	"testing"
)

// TestRankedMutexIsSyncMutex: without the lockorder tag a ranked mutex is
// sync's own type, so it costs nothing over a plain sync.Mutex (Lock and
// Unlock inline as ever). This compiles only if the types are identical.
func TestRankedMutexIsSyncMutex(t *testing.T) {
	var m mutex[rankSocketMu]
	var rw rwmutex[rankSubMu]
	var pm *sync.Mutex = &m
	var prw *sync.RWMutex = &rw
	pm.Lock()
	pm.Unlock()
	prw.RLock()
	prw.RUnlock()
}
