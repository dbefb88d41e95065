package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0 // success, --count reached, stdin EOF, SIGINT/SIGTERM
	exitFailure = 1 // runtime error: I/O, timeout, refused bind, bad input line
	exitUsage   = 2 // usage error: subcommand, flags, endpoint syntax
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default behaviour so that a
		// second one kills the process even while Close is lingering.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command may use of the outside world. Its writers are safe
// for concurrent use.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// warnf prints a "zmqgo: " diagnostic on stderr.
func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "zmqgo: "+format+"\n", args...)
}

// logger returns the slog logger for --verbose (debug level on stderr) or a
// silent one.
func (e *env) logger(verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct {
	cmd    string // subcommand, or "" for the command line as a whole
	err    error
	noHint bool // usage already printed: no "run 'zmqgo help'" line
}

func (e *usageError) Error() string {
	if e.cmd == "" {
		return e.err.Error()
	}
	return e.cmd + ": " + e.err.Error()
}

func (e *usageError) Unwrap() error { return e.err }

// reportedError is an error the command has already reported (as a JSON
// log line, say): run prints nothing more, but exits as for err.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

func usageErrorf(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// run is the whole program: it runs the command line args (without the
// program name) and returns the exit code. Cancelling ctx (SIGINT, SIGTERM)
// ends the command cleanly with exit code 0.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: &lockedWriter{w: stdout}, stderr: &lockedWriter{w: stderr}}
	err := dispatch(ctx, e, args)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	}
	var re *reportedError
	if errors.As(err, &re) {
		var ue *usageError
		if errors.As(re.err, &ue) {
			return exitUsage
		}
		return exitFailure
	}
	var ue *usageError
	if errors.As(err, &ue) {
		e.warnf("%v", err)
		if ue.noHint {
			return exitUsage
		}
		if ue.cmd != "" {
			e.warnf("run 'zmqgo help %s' for usage", ue.cmd)
		} else {
			e.warnf("run 'zmqgo help' for usage")
		}
		return exitUsage
	}
	e.warnf("%v", err)
	var xe interface{ ExitCode() int } // a command's own status (rpc: 3 for a timeout)
	if errors.As(err, &xe) {
		return xe.ExitCode()
	}
	return exitFailure
}

// lockedWriter serialises writes, so that lines written by different
// goroutines (and by slog) do not interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
