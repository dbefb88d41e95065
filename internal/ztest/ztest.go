// Package ztest holds helpers for the zmq package's tests: a raw ZMTP peer
// that can write arbitrary bytes on a tcp connection, and a slog handler that
// records log lines so tests can wait for them.
package ztest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zmqgo/zmq/internal/zmtp"
)

// Peer is a raw ZMTP peer on a tcp connection. It does only what it is told.
type Peer struct {
	Conn net.Conn
	R    *zmtp.Reader

	// Set by Handshake.
	Greeting zmtp.Greeting
	PeerMeta zmtp.Metadata
}

// Addr turns "tcp://host:port" into "host:port".
func Addr(endpoint string) string {
	return strings.TrimPrefix(endpoint, "tcp://")
}

// Dial opens a raw tcp connection to a zmq endpoint ("tcp://host:port").
func Dial(endpoint string) (*Peer, error) {
	nc, err := net.DialTimeout("tcp", Addr(endpoint), 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &Peer{Conn: nc, R: zmtp.NewReader(nc, 0, nil)}, nil
}

// Accept waits for one connection on l and wraps it.
func Accept(l net.Listener) (*Peer, error) {
	nc, err := l.Accept()
	if err != nil {
		return nil, err
	}
	return &Peer{Conn: nc, R: zmtp.NewReader(nc, 0, nil)}, nil
}

// Close closes the connection.
func (p *Peer) Close() error { return p.Conn.Close() }

// Write writes raw bytes, with a bound so a stuck peer cannot hang a test.
func (p *Peer) Write(b []byte) error {
	p.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	defer p.Conn.SetWriteDeadline(time.Time{})
	_, err := p.Conn.Write(b)
	return err
}

// Greeting returns a whole 64-byte ZMTP 3.1 greeting for mechanism.
func Greeting(mechanism string) []byte {
	return zmtp.AppendGreeting(nil, mechanism, false)
}

// Ready returns a READY command frame announcing sockType and, if not nil,
// an Identity property.
func Ready(sockType string, identity []byte) []byte {
	md := zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte(sockType)}}
	if identity != nil {
		md = append(md, zmtp.Property{Name: zmtp.PropIdentity, Value: identity})
	}
	return zmtp.AppendReady(nil, md)
}

// Frame returns one encoded frame.
func Frame(flags byte, body []byte) []byte { return zmtp.AppendFrame(nil, flags, body) }

// Msg returns the encoded frames of a multipart data message.
func Msg(frames ...[]byte) []byte {
	var b []byte
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags = zmtp.FlagMore
		}
		b = zmtp.AppendFrame(b, flags, f)
	}
	return b
}

// ReadGreeting reads and decodes the peer's 64-byte greeting.
func (p *Peer) ReadGreeting(timeout time.Duration) (zmtp.Greeting, error) {
	p.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer p.Conn.SetReadDeadline(time.Time{})
	var b [zmtp.GreetingSize]byte
	if _, err := io.ReadFull(p.Conn, b[:]); err != nil {
		return zmtp.Greeting{}, err
	}
	return zmtp.ParseGreeting(b[:])
}

// Handshake runs a NULL handshake as a socket of type sockType, sending the
// whole greeting and READY at once, then reading the peer's greeting and
// READY. identity nil means no Identity property.
func (p *Peer) Handshake(sockType string, identity []byte) error {
	out := append(Greeting(zmtp.MechNull), Ready(sockType, identity)...)
	if err := p.Write(out); err != nil {
		return fmt.Errorf("write greeting: %w", err)
	}
	g, err := p.ReadGreeting(5 * time.Second)
	if err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	p.Greeting = g
	flags, body, err := p.ReadFrame(5 * time.Second)
	if err != nil {
		return fmt.Errorf("read READY: %w", err)
	}
	if flags&zmtp.FlagCommand == 0 {
		return fmt.Errorf("want READY command, got data frame %q", body)
	}
	name, data, err := zmtp.ParseCommand(body)
	if err != nil {
		return err
	}
	switch string(name) {
	case zmtp.CmdReady:
	case zmtp.CmdError:
		reason, _ := zmtp.ParseError(data)
		return fmt.Errorf("peer sent ERROR %q", reason)
	default:
		return fmt.Errorf("want READY, got %q", name)
	}
	p.PeerMeta, err = zmtp.ParseMetadata(data)
	return err
}

// ReadFrame reads one frame (data or command); the body is a copy.
func (p *Peer) ReadFrame(timeout time.Duration) (flags byte, body []byte, err error) {
	p.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer p.Conn.SetReadDeadline(time.Time{})
	flags, b, _, err := p.R.ReadFrame()
	if err != nil {
		return 0, nil, err
	}
	return flags, append([]byte{}, b...), nil
}

// ReadMsg reads the next data message, skipping command frames that arrive
// between messages (PING, SUBSCRIBE, ...).
func (p *Peer) ReadMsg(timeout time.Duration) ([][]byte, error) {
	deadline := time.Now().Add(timeout)
	var frames [][]byte
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("ztest: no message within %v", timeout)
		}
		flags, body, err := p.ReadFrame(left)
		if err != nil {
			return nil, err
		}
		if flags&zmtp.FlagCommand != 0 {
			if len(frames) > 0 {
				return nil, fmt.Errorf("ztest: command frame inside a multipart message")
			}
			continue
		}
		frames = append(frames, body)
		if flags&zmtp.FlagMore == 0 {
			return frames, nil
		}
	}
}

// ReadCommand reads frames until a command frame named name arrives and
// returns its data. Data frames in between are skipped.
func (p *Peer) ReadCommand(name string, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("ztest: no %s within %v", name, timeout)
		}
		flags, body, err := p.ReadFrame(left)
		if err != nil {
			return nil, err
		}
		if flags&zmtp.FlagCommand == 0 {
			continue
		}
		n, data, err := zmtp.ParseCommand(body)
		if err != nil {
			return nil, err
		}
		if string(n) == name {
			return data, nil
		}
	}
}

// SendMsg writes a multipart data message.
func (p *Peer) SendMsg(frames ...[]byte) error { return p.Write(Msg(frames...)) }

// ErrStillOpen is returned by ExpectClosed when the other side kept the
// connection open.
var ErrStillOpen = errors.New("ztest: connection still open")

// ExpectClosed reads and discards until the other side closes the
// connection (EOF or reset). It returns ErrStillOpen if that does not happen
// within timeout, or the unexpected read error.
func (p *Peer) ExpectClosed(timeout time.Duration) error {
	p.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer p.Conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 64<<10)
	for {
		// Drain what the Reader already buffered first: it is only data.
		_, err := p.Conn.Read(buf)
		if err == nil {
			continue
		}
		if IsClosedErr(err) {
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return ErrStillOpen
		}
		return err
	}
}

// IsClosedErr reports the ways a read sees the other side close.
func IsClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)
}

// FreeTCPEndpoint returns "tcp://127.0.0.1:port" for a port that was free a
// moment ago.
func FreeTCPEndpoint() (string, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "tcp://" + l.Addr().String(), nil
}

// Record is one recorded log line.
type Record struct {
	Level slog.Level
	Msg   string
	Text  string // message and attributes, "msg k=v k=v"
}

// LogRecorder is a slog.Handler that keeps every record.
type LogRecorder struct {
	mu      sync.Mutex
	recs    []Record
	changed chan struct{}
	attrs   []slog.Attr
	root    *LogRecorder
}

// NewLogRecorder returns an empty recorder.
func NewLogRecorder() *LogRecorder {
	r := &LogRecorder{changed: make(chan struct{})}
	r.root = r
	return r
}

// Logger returns a logger writing to r at every level.
func (r *LogRecorder) Logger() *slog.Logger { return slog.New(r) }

func (r *LogRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *LogRecorder) Handle(_ context.Context, rec slog.Record) error {
	var sb strings.Builder
	sb.WriteString(rec.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&sb, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range r.attrs {
		add(a)
	}
	rec.Attrs(add)
	root := r.root
	root.mu.Lock()
	root.recs = append(root.recs, Record{Level: rec.Level, Msg: rec.Message, Text: sb.String()})
	close(root.changed)
	root.changed = make(chan struct{})
	root.mu.Unlock()
	return nil
}

func (r *LogRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogRecorder{root: r.root, attrs: append(append([]slog.Attr{}, r.attrs...), attrs...)}
}

func (r *LogRecorder) WithGroup(string) slog.Handler { return r }

// Records returns a copy of what was recorded so far.
func (r *LogRecorder) Records() []Record {
	r.root.mu.Lock()
	defer r.root.mu.Unlock()
	return append([]Record(nil), r.root.recs...)
}

// Find returns the first record at level or above whose text contains every
// one of subs (case-insensitive), starting at index from.
func (r *LogRecorder) Find(from int, level slog.Level, subs ...string) (Record, bool) {
	recs := r.Records()
	for i := from; i < len(recs); i++ {
		if recs[i].Level >= level && containsAll(recs[i].Text, subs) {
			return recs[i], true
		}
	}
	return Record{}, false
}

// Len is the number of records so far.
func (r *LogRecorder) Len() int {
	r.root.mu.Lock()
	defer r.root.mu.Unlock()
	return len(r.root.recs)
}

// WaitFor waits until a record like Find's appears (from index from on).
func (r *LogRecorder) WaitFor(from int, level slog.Level, timeout time.Duration, subs ...string) (Record, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		r.root.mu.Lock()
		ch := r.root.changed
		r.root.mu.Unlock()
		if rec, ok := r.Find(from, level, subs...); ok {
			return rec, true
		}
		select {
		case <-ch:
		case <-t.C:
			return Record{}, false
		}
	}
}

func containsAll(s string, subs []string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if !strings.Contains(s, strings.ToLower(sub)) {
			return false
		}
	}
	return true
}
