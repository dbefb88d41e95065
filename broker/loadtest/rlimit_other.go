//go:build !unix

package loadtest

// EnsureFiles does nothing where there is no RLIMIT_NOFILE.
func EnsureFiles(n int) error { return nil }
