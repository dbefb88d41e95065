//go:build !unix

package zmq

import (
	"fmt"
	"io"
	"net"
	"syscall"
)

// rawConn: inline writes are built on unix non-blocking write(2); elsewhere
// the writer goroutine sends everything.
func rawConn(net.Conn) syscall.RawConn { return nil }

func connReader(nc net.Conn) io.Reader { return nc }

type inlineWriter struct{}

func (*inlineWriter) write(syscall.RawConn, []byte) (int, error) {
	return 0, fmt.Errorf("%w: inline writes are not supported here", ErrNotSupported)
}
