package zmq

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Reads and inline writes on tcp and ipc sockets are made as raw system
// calls. The socket is non-blocking (the net package makes it so), so a
// call never blocks, and it need not tell the scheduler that it enters a
// system call as syscall.Read and syscall.Write do. That telling is not
// free: each entry wakes the runtime's monitor thread when it sleeps
// (sysmon, which then polls every 20 µs for a millisecond), and under a
// broker's load it made thousands of thread wake-ups a second. Raw calls
// took 7-13% off the broker's CPU per message. Waiting for readiness is
// still the net package's poller, through syscall.RawConn, so deadlines and
// Close work as on a net.Conn.
//
// Under the race detector the plain calls are kept: they tell it which
// bytes the kernel wrote.

// sysRead is read(2) on a non-blocking descriptor.
func sysRead(fd uintptr, b []byte) (int, syscall.Errno) {
	if raceEnabled {
		n, err := syscall.Read(int(fd), b)
		return n, errnoOf(err)
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	return int(n), e
}

// sysWrite is write(2) on a non-blocking descriptor.
func sysWrite(fd uintptr, b []byte) (int, error) {
	if raceEnabled {
		return syscall.Write(int(fd), b)
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// connReader is what a connection's zmtp.Reader reads from: raw reads for
// tcp and ipc, nc itself otherwise.
func connReader(nc net.Conn) io.Reader {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nc
	}
	rc := rawConn(nc)
	if rc == nil {
		return nc
	}
	r := &rawReader{nc: nc, rc: rc}
	r.fn = r.do
	return r
}

// rawReader reads nc with raw read(2) calls, waiting on the poller between
// them. Its results are those of nc.Read: io.EOF at the end of the stream,
// *net.OpError otherwise. One goroutine reads a connection at a time (the
// zmtp.Reader's owner), so the call's state lives in the struct and fn is
// made once: a closure per call would escape through RawConn.Read.
type rawReader struct {
	nc  net.Conn
	rc  syscall.RawConn
	b   []byte
	n   int
	err syscall.Errno
	fn  func(fd uintptr) bool
}

func (r *rawReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.b = b
	err := r.rc.Read(r.fn)
	n, errno := r.n, r.err
	r.b, r.n, r.err = nil, 0, 0
	switch {
	case err != nil: // closed, or a deadline: already an *net.OpError
		var op *net.OpError
		if errors.As(err, &op) {
			op.Op = "read"
		}
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: r.nc.LocalAddr().Network(), Source: r.nc.LocalAddr(), Addr: r.nc.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// do makes one read; false (nothing there yet) has RawConn.Read wait for
// the descriptor to be readable and call it again.
func (r *rawReader) do(fd uintptr) bool {
	for {
		n, e := sysRead(fd, r.b)
		switch e {
		case 0:
			r.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.err = e
		return true
	}
}
