//go:build !lockorder

package zmq

import "sync"

// Without the lockorder tag the ranked mutexes are the sync ones.
type (
	mutex[R ranked]   = sync.Mutex
	rwmutex[R ranked] = sync.RWMutex
)
