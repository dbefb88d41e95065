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
	rankCorkMu    struct{} // Socket.corkMu
	rankWmu       struct{} // Socket.wmu
	rankInMu      struct{} // Socket.inMu
	rankBaton     struct{} // baton.mu
	rankMonitors  struct{} // monitors.mu
	rankZAPGlobal struct{} // zapGlobal.mu (process-wide)
	rankAuth      struct{} // Authenticator.mu
)

func (rankProxy) rank() (int, string)     { return 10, "Proxy.mu" }
func (rankStateMu) rank() (int, string)   { return 20, "Socket.stateMu" }
func (rankSocketMu) rank() (int, string)  { return 30, "Socket.mu" }
func (rankInprocs) rank() (int, string)   { return 40, "inprocs.mu" }
func (rankSubMu) rank() (int, string)     { return 50, "Socket.subMu" }
func (rankPipeSubMu) rank() (int, string) { return 60, "pipe.subMu" }
func (rankOutQueue) rank() (int, string)  { return 70, "outQueue.mu" }
func (rankCorkMu) rank() (int, string)    { return 75, "Socket.corkMu" }
func (rankWmu) rank() (int, string)       { return 80, "Socket.wmu" }
func (rankInMu) rank() (int, string)      { return 90, "Socket.inMu" }
func (rankBaton) rank() (int, string)     { return 100, "baton.mu" }
func (rankMonitors) rank() (int, string)  { return 110, "monitors.mu" }
func (rankZAPGlobal) rank() (int, string) { return 120, "zapGlobal.mu" }
func (rankAuth) rank() (int, string)      { return 130, "Authenticator.mu" }

// ranked is a lock rank: its place in the order, and the lock's name.
type ranked interface{ rank() (int, string) }
