package zmq

// Lock ranks (LOCKS.md). Every mutex of the package is a mutex[R] or
// rwmutex[R], where R names its rank: a goroutine may take a lock only while
// it holds none of a higher rank. Built with -tags lockorder, Lock panics on
// an inversion (lockorder_on.go); otherwise mutex[R] is sync.Mutex itself
// (lockorder_off.go), at no cost.

type (
	rankProxy     struct{} // Proxy.mu
	rankStateMu   struct{} // Socket.stateMu
	rankSocketMu  struct{} // Socket.mu
	rankInprocs   struct{} // inprocs.mu (process-wide)
	rankSubMu     struct{} // Socket.subMu
	rankPipeSubMu struct{} // pipe.subMu
	rankOutQueue  struct{} // outQueue.mu
	rankWmu       struct{} // Socket.wmu
	rankInMu      struct{} // Socket.inMu
	rankBaton     struct{} // baton.mu
	rankMonitors  struct{} // monitors.mu
	rankZAPGlobal struct{} // zapGlobal.mu (process-wide)
	rankAuth      struct{} // Authenticator.mu
)

func (rankProxy) rank() int     { return 10 }
func (rankStateMu) rank() int   { return 20 }
func (rankSocketMu) rank() int  { return 30 }
func (rankInprocs) rank() int   { return 40 }
func (rankSubMu) rank() int     { return 50 }
func (rankPipeSubMu) rank() int { return 60 }
func (rankOutQueue) rank() int  { return 70 }
func (rankWmu) rank() int       { return 80 }
func (rankInMu) rank() int      { return 90 }
func (rankBaton) rank() int     { return 100 }
func (rankMonitors) rank() int  { return 110 }
func (rankZAPGlobal) rank() int { return 120 }
func (rankAuth) rank() int      { return 130 }

func (rankProxy) name() string     { return "Proxy.mu" }
func (rankStateMu) name() string   { return "Socket.stateMu" }
func (rankSocketMu) name() string  { return "Socket.mu" }
func (rankInprocs) name() string   { return "inprocs.mu" }
func (rankSubMu) name() string     { return "Socket.subMu" }
func (rankPipeSubMu) name() string { return "pipe.subMu" }
func (rankOutQueue) name() string  { return "outQueue.mu" }
func (rankWmu) name() string       { return "Socket.wmu" }
func (rankInMu) name() string      { return "Socket.inMu" }
func (rankBaton) name() string     { return "baton.mu" }
func (rankMonitors) name() string  { return "monitors.mu" }
func (rankZAPGlobal) name() string { return "zapGlobal.mu" }
func (rankAuth) name() string      { return "Authenticator.mu" }

// ranked is a lock rank: its place in the order and its name.
type ranked interface {
	rank() int
	name() string
}
