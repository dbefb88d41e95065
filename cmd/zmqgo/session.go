package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zmqgo/zmq"
)

// maxLine is the longest stdin line (one message) accepted.
const maxLine = 64 << 20

// session moves messages between stdio and one open socket, following the
// command's pattern.
type session struct {
	cmd   *socketCmd
	sock  *zmq.Socket
	codec codec
	out   *printer
	env   *env
	wd    *watchdog
	peers *peerWatch
	bg    sync.WaitGroup // goroutines that end with the session's ctx
}

// waitNotice is how long a command waits in silence before saying on
// stderr what it is waiting for.
var waitNotice = 2 * time.Second

func (s *session) run(ctx context.Context) error {
	switch s.cmd.pattern {
	case sendOnly:
		if s.cmd.waitSubs > 0 {
			if err := s.waitSubscribers(ctx, s.cmd.waitSubs); err != nil {
				return err
			}
		}
		return s.sendLines(ctx, s.readLines(ctx), s.cmd.count)
	case recvOnly:
		return s.printMsgs(ctx, s.cmd.count)
	case request:
		return s.requests(ctx)
	case reply:
		return s.replies(ctx)
	case duplex:
		return s.duplex(ctx)
	}
	return fmt.Errorf("internal error: unknown pattern %d", s.cmd.pattern)
}

// sendLines sends the messages from lines until EOF, ctx's end, or count
// messages (0: no limit).
func (s *session) sendLines(ctx context.Context, lines <-chan line, count int) error {
	for sent := 0; count == 0 || sent < count; sent++ {
		var l line
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l = <-lines:
		}
		if l.eof {
			return nil
		}
		if l.err != nil {
			return l.err
		}
		if err := s.sock.Send(ctx, l.msg); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		s.wd.kick()
	}
	return nil
}

// printMsgs prints received messages until ctx's end or count messages
// (0: no limit).
func (s *session) printMsgs(ctx context.Context, count int) error {
	for n := 0; count == 0 || n < count; n++ {
		m, err := s.sock.Recv(ctx)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		s.wd.kick()
		if err := s.out.print(m); err != nil {
			return err
		}
	}
	return nil
}

// requests sends each line as a request and prints the reply (REQ).
func (s *session) requests(ctx context.Context) error {
	lines := s.readLines(ctx)
	for n := 0; s.cmd.count == 0 || n < s.cmd.count; n++ {
		var l line
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l = <-lines:
		}
		if l.eof {
			return nil
		}
		if l.err != nil {
			return l.err
		}
		if err := s.sock.Send(ctx, l.msg); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		s.wd.kick()
		notice := time.AfterFunc(waitNotice, s.replyNotice)
		m, err := s.sock.Recv(ctx)
		notice.Stop()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		s.wd.kick()
		if err := s.out.print(m); err != nil {
			return err
		}
	}
	return nil
}

// replyNotice says, once a request has waited waitNotice for its reply,
// why: no REP connected, or the REP is slow.
func (s *session) replyNotice() {
	if n, _ := s.peers.peers(); n == 0 {
		msg := "req: waiting for a reply: no peer has connected yet; the request is queued for the first one"
		if _, lastErr := s.peers.status(); lastErr != nil {
			msg += " (last handshake failed: " + lastErr.Error() + ")"
		}
		s.env.warnf("%s", msg)
		return
	}
	s.env.warnf("req: waiting for a reply: the peer has the request but has not answered yet")
}

// waitSubscribers returns once n peers are connected and as many
// subscriptions have arrived (an XPUB socket with every subscription
// passed on), so that what is sent next reaches them. Subscriptions are
// read for the rest of the session so that they never pile up.
func (s *session) waitSubscribers(ctx context.Context, n int) error {
	var mu sync.Mutex
	subs := 0
	arrived := make(chan struct{}, 1)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		for {
			m, err := s.sock.Recv(ctx)
			if err != nil {
				return
			}
			if len(m.Frames) > 0 && len(m.Frames[0]) > 0 && m.Frames[0][0] == 1 {
				mu.Lock()
				subs++
				mu.Unlock()
				select {
				case arrived <- struct{}{}:
				default:
				}
			}
		}
	}()
	notice := time.AfterFunc(waitNotice, func() {
		have, _ := s.peers.peers()
		s.env.warnf("pub: waiting for %d subscriber(s) (--wait-subscribers); %d connected so far", n, have)
	})
	defer notice.Stop()
	for {
		have, changed := s.peers.peers()
		mu.Lock()
		ok := have >= n && subs >= n
		mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-arrived:
		}
	}
}

// replies prints each request and answers it with itself or --reply (REP).
func (s *session) replies(ctx context.Context) error {
	var fixed zmq.Msg
	if s.cmd.replySet {
		var err error
		if fixed, err = s.codec.decode(s.cmd.reply); err != nil {
			return fmt.Errorf("--reply: %w", err)
		}
	}
	for n := 0; s.cmd.count == 0 || n < s.cmd.count; n++ {
		m, err := s.sock.Recv(ctx)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		s.wd.kick()
		if err := s.out.print(m); err != nil {
			return err
		}
		if s.cmd.replySet {
			m = fixed.Clone()
		}
		if err := s.sock.Send(ctx, m); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		s.wd.kick()
	}
	return nil
}

// duplex sends stdin lines and prints arriving messages at the same time
// (DEALER, ROUTER, PAIR). It ends at stdin EOF, or with --count N once N
// messages have arrived, or on the first error.
func (s *session) duplex(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sendc, recvc := make(chan error, 1), make(chan error, 1)
	lines := s.readLines(ctx)
	go func() { sendc <- s.sendLines(ctx, lines, 0) }()
	go func() { recvc <- s.printMsgs(ctx, s.cmd.count) }()
	// end records the first error that is not a consequence of cancel and
	// stops the other direction.
	end := func(e error) {
		if e != nil && err == nil && ctx.Err() == nil {
			err = e
		}
		cancel()
	}
	for sendc != nil || recvc != nil {
		select {
		case e := <-sendc:
			sendc = nil
			if e != nil || s.cmd.count == 0 {
				end(e)
			}
		case e := <-recvc:
			recvc = nil
			end(e)
		}
	}
	return err
}

// line is one stdin line, parsed: a message, an error, or EOF.
type line struct {
	msg zmq.Msg
	err error
	eof bool
}

// readLines reads stdin in a goroutine and delivers its lines as messages.
// The channel ends with an error or EOF. The goroutine stops when ctx ends,
// or, if it is blocked reading stdin, when stdin next yields a line or EOF:
// a read cannot be interrupted.
func (s *session) readLines(ctx context.Context) <-chan line {
	c := make(chan line)
	go func() {
		deliver := func(l line) bool {
			select {
			case c <- l:
				return true
			case <-ctx.Done():
				return false
			}
		}
		sc := bufio.NewScanner(s.env.stdin)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for n := 1; sc.Scan(); n++ {
			m, err := s.codec.decode(sc.Text())
			if err != nil {
				deliver(line{err: fmt.Errorf("stdin line %d: %w", n, err)})
				return
			}
			if !deliver(line{msg: m}) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("a line is longer than %d MiB", maxLine>>20)
			}
			deliver(line{err: fmt.Errorf("reading stdin: %w", err)})
			return
		}
		deliver(line{eof: true})
	}()
	return c
}

// errTimeout is the cause of a session's end when --timeout expires.
var errTimeout = errors.New("timeout")

// watchdog cancels the session when d passes without a kick. A nil
// watchdog (no --timeout) does nothing.
type watchdog struct {
	d time.Duration
	t *time.Timer
}

func newWatchdog(d time.Duration, cancel context.CancelCauseFunc) *watchdog {
	if d <= 0 {
		return nil
	}
	err := fmt.Errorf("%w: nothing sent or received for %v", errTimeout, d)
	return &watchdog{d: d, t: time.AfterFunc(d, func() { cancel(err) })}
}

// kick restarts the countdown, unless the watchdog has already fired.
func (w *watchdog) kick() {
	if w != nil && w.t.Stop() {
		w.t.Reset(w.d)
	}
}

func (w *watchdog) stop() {
	if w != nil {
		w.t.Stop()
	}
}
