package ztest

import "strings"

// ChanWriter is an io.Writer that hands each Write to a test as a string,
// dropping it when the channel is full: the examples' tests learn an
// address from a program's first line of output this way.
type ChanWriter chan string

func (w ChanWriter) Write(p []byte) (int, error) {
	select {
	case w <- string(p):
	default:
	}
	return len(p), nil
}

// LineWriter is an io.Writer that hands a test each line written (with its
// newline), waiting for the test to take it.
type LineWriter chan string

func (w LineWriter) Write(p []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(p), "\n") {
		if l != "" {
			w <- l
		}
	}
	return len(p), nil
}
