package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Files named by flags (key files, user lists, and whatever other commands
// add) are read with readSmallFile: an unbounded os.ReadFile of /dev/zero
// or of a FIFO would exhaust memory or hang before anything is checked.

// Size limits of the files flags name.
const (
	maxKeyFile  = 8 << 10 // a Z85 key or a czmq certificate: under 1 KiB in practice
	maxListFile = 4 << 20 // a user or key list: tens of thousands of lines
)

// errNotRegular is the error of readSmallFile for devices, FIFOs,
// directories and sockets.
var errNotRegular = errors.New("not a regular file")

// readSmallFile reads the regular file at path if it holds at most limit
// bytes. Anything else fails at once: devices, FIFOs (opened without
// blocking, never read), directories, and files over the limit, which are
// not read beyond it.
func readSmallFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	// O_NONBLOCK: if path became a FIFO since the Stat, opening it must not
	// wait for a writer. The Stat of the open file is the one that counts.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: too large (%d bytes; at most %s)", path, fi.Size(), sizeString(limit))
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit { // grew while read
		return nil, fmt.Errorf("%s: too large (more than %s)", path, sizeString(limit))
	}
	return b, nil
}

func checkRegular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	what := "a special file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a device"
	}
	return fmt.Errorf("%s: %w (it is %s)", path, errNotRegular, what)
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
