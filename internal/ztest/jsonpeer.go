package ztest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for a child's writes and a test's reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// JSONPeer is a child process (a Python peer script) driven one JSON line
// at a time: each request is a JSON object on its stdin, each reply a line
// {"ok": VALUE} or {"error": TEXT} on its stdout. It exits at stdin's EOF,
// which Cleanup gives it (killed after 10 s).
type JSONPeer struct {
	t      testing.TB
	name   string
	in     io.WriteCloser
	out    *bufio.Scanner
	Stderr *SyncBuffer
}

// StartJSONPeer starts cmd as a JSONPeer; name is for failure messages.
func StartJSONPeer(t testing.TB, name string, cmd *exec.Cmd) *JSONPeer {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &JSONPeer{t: t, name: name, in: in, out: bufio.NewScanner(out), Stderr: &SyncBuffer{}}
	p.out.Buffer(nil, 16<<20)
	cmd.Stderr = p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// Call sends one request and returns the reply's ok value, or its error
// text ("" when ok).
func (p *JSONPeer) Call(req map[string]any) (json.RawMessage, string) {
	p.t.Helper()
	b, _ := json.Marshal(req)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("%s: write: %v; stderr: %s", p.name, err, p.Stderr)
	}
	if !p.out.Scan() {
		p.t.Fatalf("%s gone: %v; stderr: %s", p.name, p.out.Err(), p.Stderr)
	}
	var rep struct {
		OK    json.RawMessage `json:"ok"`
		Error string          `json:"error"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &rep); err != nil {
		p.t.Fatalf("%s reply %q: %v", p.name, p.out.Bytes(), err)
	}
	return rep.OK, rep.Error
}

// Must is Call for a request that must succeed.
func (p *JSONPeer) Must(req map[string]any) json.RawMessage {
	p.t.Helper()
	ok, e := p.Call(req)
	if e != "" {
		p.t.Fatalf("%s %v: %s; stderr: %s", p.name, req["op"], e, p.Stderr)
	}
	return ok
}

// Str is Must for a request whose reply is a string.
func (p *JSONPeer) Str(req map[string]any) string {
	p.t.Helper()
	var s string
	if err := json.Unmarshal(p.Must(req), &s); err != nil {
		p.t.Fatal(err)
	}
	return s
}
