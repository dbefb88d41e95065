//go:build unix && !linux

package zmq

import (
	"io"
	"net"
	"syscall"
)

// Raw system calls are used on Linux only (sysio_linux.go); elsewhere reads
// go through the net.Conn and inline writes through syscall.Write.

func connReader(nc net.Conn) io.Reader { return nc }

func sysWrite(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
