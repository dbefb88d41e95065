//go:build unix

package loadtest

import (
	"fmt"
	"syscall"
)

// EnsureFiles raises the soft limit on open files (RLIMIT_NOFILE) to at
// least n if the hard limit allows, and reports an error if it does not.
func EnsureFiles(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= uint64(n) {
		return nil
	}
	if lim.Max < uint64(n) {
		return fmt.Errorf("loadtest: %d open files needed, the hard limit is %d (ulimit -Hn)", n, lim.Max)
	}
	lim.Cur = uint64(n)
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
