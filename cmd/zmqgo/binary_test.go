package main

import (
	"bufio"
	"errors"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of the real binary: what in-process runs cannot show, such as
// exit statuses, signals and the wiring of main.

// exitCode runs cmd to completion and returns its exit status.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("running %v: %v", cmd.Args, err)
	return -1
}

func TestBinaryUsage(t *testing.T) {
	bin := zmqgoBinary(t)
	var stdout, stderr strings.Builder
	cmd := exec.Command(bin, "help")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if code := exitCode(t, cmd); code != 0 || !strings.Contains(stdout.String(), "\trouter ") {
		t.Errorf("zmqgo help: exit %d, stdout:\n%s", code, &stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frob"}, `zmqgo: unknown subcommand "frob"`},
		{[]string{"pull"}, "zmqgo: pull: at least one --bind or --connect"},
		{[]string{"push", "--connect", "foo://x"}, "zmqgo: push: --connect foo://x: "},
	} {
		stdout.Reset()
		stderr.Reset()
		cmd := exec.Command(bin, tc.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if code := exitCode(t, cmd); code != 2 || !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("zmqgo %v: exit %d, stderr %q; want 2, %q", tc.args, code, &stderr, tc.want)
		}
	}
}

// binProc is a running zmqgo process whose stdout and stderr lines arrive
// on channels.
type binProc struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr chan string
	waited         chan error
}

func startBinary(t *testing.T, args ...string) *binProc {
	t.Helper()
	p := &binProc{cmd: exec.Command(zmqgoBinary(t), args...), stdout: make(chan string, 100), stderr: make(chan string, 100), waited: make(chan error, 1)}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	outR, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	scan := func(r io.Reader, c chan<- string) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c <- sc.Text()
		}
		close(c)
		done <- struct{}{}
	}
	go scan(outR, p.stdout)
	go scan(errR, p.stderr)
	go func() {
		// Wait must follow the end of the reads of its pipes.
		<-done
		<-done
		p.waited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		select {
		case <-p.waited:
		case <-time.After(waitTimeout):
			t.Errorf("%v did not end", args)
		}
	})
	return p
}

// line returns the next line from c.
func (p *binProc) line(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-c:
		if !ok {
			t.Fatalf("%v: output ended", p.cmd.Args)
		}
		return l
	case <-time.After(waitTimeout):
		t.Fatalf("%v: no output after %v", p.cmd.Args, waitTimeout)
	}
	return ""
}

func (p *binProc) exit(t *testing.T) int {
	t.Helper()
	for range p.stdout { // drain what is left
	}
	for range p.stderr {
	}
	select {
	case err := <-p.waited:
		p.waited <- err // for Cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(waitTimeout):
		t.Fatalf("%v still running", p.cmd.Args)
		return -1
	}
}

func TestBinaryPushPullSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			pull := startBinary(t, "pull", "--bind", anyPort)
			bound := pull.line(t, pull.stderr)
			ep, ok := strings.CutPrefix(bound, "zmqgo: bound ")
			if !ok {
				t.Fatalf("pull stderr: %q", bound)
			}
			push := startBinary(t, "push", "--connect", ep)
			io.WriteString(push.stdin, "hello\tworld\n")
			if l := pull.line(t, pull.stdout); l != "hello\tworld" {
				t.Errorf("pull printed %q", l)
			}
			push.stdin.Close()
			if code := push.exit(t); code != 0 {
				t.Errorf("push: exit %d at stdin EOF", code)
			}
			if err := pull.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := pull.exit(t); code != 0 {
				t.Errorf("pull: exit %d after %v", code, sig)
			}
		})
	}
}
