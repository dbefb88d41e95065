//go:build unix

package zmq

import (
	"net"
	"syscall"
)

// rawConn returns nc's descriptor access for inline writes, or nil.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// inlineWriter makes the non-blocking writes of a connection's inline
// writes (conn.flushInline). Its func value is made once and takes its
// arguments from the struct: a closure per write would escape through
// RawConn.Write, an allocation per system call. Only the goroutine that
// owns the wire (outQueue.wireOwner) uses it, as it does the frameWriter.
type inlineWriter struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// write makes one non-blocking write of b and reports how much went out;
// a full socket buffer (EAGAIN) or an interrupted call is not an error.
func (w *inlineWriter) write(rc syscall.RawConn, b []byte) (int, error) {
	if w.fn == nil {
		w.fn = w.do
	}
	w.b = b
	err := rc.Write(w.fn)
	n, werr := w.n, w.err
	w.b, w.n, w.err = nil, 0, nil
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	if werr == syscall.EAGAIN || werr == syscall.EINTR {
		werr = nil
	}
	return n, werr
}

func (w *inlineWriter) do(fd uintptr) bool {
	w.n, w.err = sysWrite(fd, w.b)
	return true // never wait for writability: that is the writer goroutine's job
}
