package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqgo/zmq"
)

// benchCommand is "zmqgo bench": zmqgo's own side of a throughput or
// latency measurement, in one process or between two.
func benchCommand() *command {
	return &command{
		name:    "bench",
		summary: "measure throughput or round-trip latency",
		help: `With neither --bind nor --connect, both sides run in this process over
--transport (a loopback tcp port, a temporary ipc path, or inproc) and the
receiving side's figures are printed. With one of them, this process is one
side and another "zmqgo bench" (or any program speaking the same messages)
the other: by default the binding side receives and the connecting side
sends; --side swaps them. Give both sides the same --pattern, --size and
--count.

Patterns:
	pushpull  PUSH sends --count messages to PULL: messages per second
	          and MB/s as received, from the first message to the last.
	pubsub    as pushpull, publisher to subscriber. The publisher is an
	          XPUB socket so that it starts once the subscription has
	          arrived; it waits at the high-water mark (ZMQ_XPUB_NODROP)
	          unless --drop, and the subscriber reports what it lost.
	reqrep    REQ asks REP --count times, one request at a time, after
	          --warmup round trips: round-trip avg, p50, p99, min and max.

Messages are --size bytes of zeros, one frame each; the last one is a
9-byte end marker (0xFF and the number of messages sent). A progress
line goes to stderr every --progress; the result goes to stdout.`,
		flags: func(fs *flag.FlagSet) action {
			c := &benchCmd{}
			c.register(fs)
			return c
		},
	}
}

type benchCmd struct {
	pattern   string
	size      int
	count     int    // --count, or the pattern's default
	countFlag optInt // --count as given
	warmup    int
	transport string
	bind      string
	connect   string
	side      string
	hwm       int
	drop      bool
	timeout   time.Duration
	progress  time.Duration
}

const (
	benchMarkData = 0x00
	benchMarkEnd  = 0xFF
	benchEndSize  = 9
)

func (c *benchCmd) register(fs *flag.FlagSet) {
	fs.StringVar(&c.pattern, "pattern", "pushpull", "measure pattern `P`: pushpull, pubsub or reqrep")
	fs.IntVar(&c.size, "size", 16, "messages of `N` bytes")
	fs.Var(&c.countFlag, "count", "send `N` messages (pushpull, pubsub) or make N round trips (reqrep);\nat least 1 (default 1000000 messages or 20000 round trips)")
	fs.IntVar(&c.warmup, "warmup", 1000, "reqrep: `N` round trips before measuring")
	fs.StringVar(&c.transport, "transport", "", "transport `T` for a run in one process: tcp, ipc or inproc (default tcp)")
	fs.StringVar(&c.bind, "bind", "", "bind to `ADDR` and run one side (receive, unless --side send)")
	fs.StringVar(&c.connect, "connect", "", "connect to `ADDR` and run one side (send, unless --side recv)")
	fs.StringVar(&c.side, "side", "", "run side `S` of the --bind or --connect address: send or recv\n(reqrep: send is REQ, recv is REP)")
	fs.IntVar(&c.hwm, "hwm", 1000, "send and receive high-water mark `N` (0: no limit)")
	fs.BoolVar(&c.drop, "drop", false, "pubsub: let the publisher drop at the high-water mark")
	fs.DurationVar(&c.timeout, "timeout", 0, "fail (exit 1) after `D` without a message (0: never)")
	fs.DurationVar(&c.progress, "progress", time.Second, "print progress on stderr every `D` (0: never)")
}

func (c *benchCmd) validate(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	switch c.pattern {
	case "pushpull", "pubsub", "reqrep":
	default:
		return fmt.Errorf("--pattern must be pushpull, pubsub or reqrep (got %q)", c.pattern)
	}
	if c.size < 0 {
		return fmt.Errorf("--size must not be negative (got %d)", c.size)
	}
	// 0 is refused rather than standing for the default.
	switch c.count = c.countFlag.n; {
	case !c.countFlag.set:
		c.count = 1000000
		if c.pattern == "reqrep" {
			c.count = 20000
		}
	case c.count < 1:
		return fmt.Errorf("--count must be at least 1 (got %d)", c.count)
	}
	if c.warmup < 0 {
		return fmt.Errorf("--warmup must not be negative (got %d)", c.warmup)
	}
	if c.hwm < 0 {
		return fmt.Errorf("--hwm must not be negative (got %d)", c.hwm)
	}
	if c.timeout < 0 || c.progress < 0 {
		return errors.New("--timeout and --progress must not be negative")
	}
	if c.bind != "" && c.connect != "" {
		return errors.New("give --bind or --connect, not both (without either, both sides run here)")
	}
	split := c.bind != "" || c.connect != ""
	switch c.transport {
	case "":
		c.transport = "tcp"
	case "tcp", "ipc", "inproc":
		if split {
			return errors.New("--transport is for a run in one process; the --bind or --connect address names the transport")
		}
	default:
		return fmt.Errorf("--transport must be tcp, ipc or inproc (got %q)", c.transport)
	}
	if c.bind != "" {
		if err := checkEndpoint(c.bind); err != nil {
			return fmt.Errorf("--bind: %w", err)
		}
	}
	if c.connect != "" {
		if err := checkConnect(c.connect); err != nil {
			return fmt.Errorf("--connect: %w", err)
		}
	}
	switch c.side {
	case "":
		if c.connect != "" {
			c.side = "send"
		} else {
			c.side = "recv"
		}
	case "send", "recv":
		if !split {
			return errors.New("--side needs --bind or --connect")
		}
	default:
		return fmt.Errorf("--side must be send or recv (got %q)", c.side)
	}
	return nil
}

// benchRun is one run: the sockets' shared state and its outcome.
type benchRun struct {
	c        *benchCmd
	e        *env
	n        atomic.Int64 // messages (or round trips) so far, for progress and the watchdog
	phase    atomic.Value // string: what the progress line says is going on
	progress bool         // the side whose count the progress line shows
}

func (c *benchCmd) run(ctx context.Context, e *env) error {
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &benchRun{c: c, e: e}
	r.phase.Store("waiting for the peer")
	stop := r.watch(ctx, cancel)
	var out strings.Builder
	var err error
	if c.bind == "" && c.connect == "" {
		err = r.loopback(ctx, &out)
	} else {
		err = r.split(ctx, &out)
	}
	stop()
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errTimeout):
		return cause
	case parent.Err() != nil:
		e.warnf("bench: interrupted")
		return nil
	}
	if err != nil {
		return err
	}
	io.WriteString(e.stdout, out.String())
	return nil
}

// watch runs the progress line and the --timeout watchdog; the returned
// function stops them.
func (r *benchRun) watch(ctx context.Context, cancel context.CancelCauseFunc) func() {
	tick := r.c.progress
	if r.c.timeout > 0 && (tick == 0 || r.c.timeout < tick) {
		tick = r.c.timeout
	}
	if tick == 0 {
		return func() {}
	}
	tty := isTerminal(r.e.stderr)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(tick / 4)
		if tick < 4*time.Millisecond {
			t.Reset(time.Millisecond)
		}
		defer t.Stop()
		start := time.Now()
		lastPrint, lastPrintN, lastN, lastMove := start, int64(0), int64(0), start
		shown := false
		for {
			select {
			case <-done:
				if shown && tty {
					io.WriteString(r.e.stderr, "\r\033[K")
				}
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				n := r.n.Load()
				if n != lastN || lastMove.Equal(start) && n > 0 {
					lastMove = now
				}
				if r.c.timeout > 0 && now.Sub(lastMove) >= r.c.timeout {
					cancel(fmt.Errorf("%w: no message for %v", errTimeout, r.c.timeout))
					return
				}
				if r.c.progress > 0 && now.Sub(lastPrint) >= r.c.progress {
					rate := float64(n-lastPrintN) / now.Sub(lastPrint).Seconds()
					lastPrint, lastPrintN = now, n
					line := fmt.Sprintf("zmqgo: bench: %s", r.phase.Load())
					if n > 0 {
						unit := "msgs"
						if r.c.pattern == "reqrep" {
							unit = "round trips"
						}
						line = fmt.Sprintf("zmqgo: bench: %d/%d %s (%.0f%%), %s/s", n, r.c.count, unit,
							100*float64(n)/float64(r.c.count), humanRate(rate))
					}
					if tty {
						io.WriteString(r.e.stderr, "\r\033[K"+line)
					} else {
						io.WriteString(r.e.stderr, line+"\n")
					}
					shown = true
				}
				lastN = n
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// isTerminal reports whether w is (a lockedWriter around) a terminal.
func isTerminal(w io.Writer) bool {
	if lw, ok := w.(*lockedWriter); ok {
		w = lw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func humanRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// socketTypes returns the receiving and the sending side's socket types.
func (c *benchCmd) socketTypes() (recv, send zmq.Type) {
	switch c.pattern {
	case "pubsub":
		return zmq.Sub, zmq.XPub
	case "reqrep":
		return zmq.Rep, zmq.Req
	}
	return zmq.Pull, zmq.Push
}

func (c *benchCmd) newSocket(t zmq.Type) (*zmq.Socket, error) {
	opts := []zmq.Option{zmq.WithSendHWM(c.hwm), zmq.WithRecvHWM(c.hwm), zmq.WithLinger(0)}
	switch t {
	case zmq.Push:
		// The end marker must arrive: sender drains the queue with
		// Shutdown; a Close on the way out of an error waits while the
		// receiver is connected (bounded by --timeout, if any).
		opts = append(opts, zmq.WithLinger(-1))
		if c.timeout > 0 {
			opts = append(opts, zmq.WithLinger(c.timeout))
		}
	case zmq.XPub:
		opts = append(opts, zmq.WithXPubNoDrop(!c.drop))
	case zmq.Rep, zmq.Sub:
		// The last reply; the subscriber's goodbye (an unsubscription).
		opts = append(opts, zmq.WithLinger(time.Second))
	}
	s, err := zmq.NewSocket(t, opts...)
	if err != nil {
		return nil, err
	}
	if t == zmq.Sub {
		if err := s.Subscribe(nil); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// loopback runs both sides in this process: the receiver binds.
func (r *benchRun) loopback(ctx context.Context, out io.Writer) error {
	c := r.c
	rt, st := c.socketTypes()
	rs, err := c.newSocket(rt)
	if err != nil {
		return err
	}
	defer rs.Close()
	ep := map[string]string{
		"tcp":    "tcp://127.0.0.1:0",
		"ipc":    "ipc://*",
		"inproc": fmt.Sprintf("inproc://zmqgo-bench-%d", benchSeq.Add(1)),
	}[c.transport]
	if err := rs.Bind(ep); err != nil {
		return fmt.Errorf("bind %s: %w", ep, err)
	}
	ep = rs.LastEndpoint()
	ss, err := c.newSocket(st)
	if err != nil {
		return err
	}
	defer ss.Close()
	if err := ss.Connect(ep); err != nil {
		return fmt.Errorf("connect %s: %w", ep, err)
	}
	fmt.Fprintf(out, "%s over %s, %d-byte messages, HWM %d%s\n", patternTitle(c.pattern), ep, c.size, c.hwm, r.dropNote())
	// The measuring side (receiver; requester for reqrep) shows progress.
	errc := make(chan error, 1)
	var sendOut strings.Builder
	go func() {
		errc <- r.sender(ctx, ss, &sendOut, c.pattern == "reqrep")
	}()
	errR := r.receiver(ctx, rs, out, c.pattern != "reqrep")
	if errR != nil {
		// Unblock the sender: it may wait for room, a reply or the
		// subscriber's goodbye.
		rs.Close()
		ss.Close()
	}
	errS := <-errc
	if c.pattern == "reqrep" {
		io.WriteString(out, sendOut.String())
	}
	if errR != nil {
		return errR
	}
	return errS
}

// split runs one side, as --bind/--connect and --side say.
func (r *benchRun) split(ctx context.Context, out io.Writer) error {
	c := r.c
	rt, st := c.socketTypes()
	t := rt
	if c.side == "send" {
		t = st
	}
	s, err := c.newSocket(t)
	if err != nil {
		return err
	}
	defer s.Close()
	ep := c.bind
	if ep != "" {
		if err := s.Bind(ep); err != nil {
			return endpointError("bench", "--bind", ep, err)
		}
		ep = s.LastEndpoint()
		r.e.warnf("bound %s", ep)
	} else {
		ep = c.connect
		if err := s.Connect(ep); err != nil {
			return endpointError("bench", "--connect", ep, err)
		}
	}
	note := ""
	if c.side == "send" {
		note = r.dropNote() // the receiving side cannot know
	}
	fmt.Fprintf(out, "%s over %s, %d-byte messages, HWM %d%s (%s side)\n", patternTitle(c.pattern), ep, c.size, c.hwm, note, c.side)
	if c.side == "send" {
		return r.sender(ctx, s, out, true)
	}
	return r.receiver(ctx, s, out, true)
}

func (r *benchRun) dropNote() string {
	if r.c.pattern != "pubsub" {
		return ""
	}
	if r.c.drop {
		return ", publisher drops at the HWM"
	}
	return ", publisher waits at the HWM"
}

func patternTitle(p string) string {
	switch p {
	case "pubsub":
		return "PUB/SUB"
	case "reqrep":
		return "REQ/REP"
	}
	return "PUSH/PULL"
}

func endMarker(sent int64) []byte {
	b := make([]byte, benchEndSize)
	b[0] = benchMarkEnd
	binary.LittleEndian.PutUint64(b[1:], uint64(sent))
	return b
}

func isEnd(f []byte) (sent int64, ok bool) {
	if len(f) != benchEndSize || f[0] != benchMarkEnd {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(f[1:])), true
}

// receiver runs the receiving side: PULL or SUB counting messages, or REP
// answering requests. counts says whether its count is the progress line's.
func (r *benchRun) receiver(ctx context.Context, s *zmq.Socket, out io.Writer, counts bool) error {
	c := r.c
	if c.pattern == "reqrep" {
		var n int64
		for {
			m, err := s.Recv(ctx)
			if err != nil {
				return fmt.Errorf("recv: %w", err)
			}
			if err := s.Send(ctx, m); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			if len(m.Frames) == 1 {
				if _, ok := isEnd(m.Frames[0]); ok {
					fmt.Fprintf(out, "answered %d requests\n", n)
					return nil
				}
			}
			n++
			if counts {
				r.n.Store(n)
			}
		}
	}
	var n int64
	var t0 time.Time
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return fmt.Errorf("recv: %w", err)
		}
		if len(m.Frames) != 1 {
			return fmt.Errorf("got a %d-frame message; the peer is not a zmqgo bench", len(m.Frames))
		}
		f := m.Frames[0]
		if sent, ok := isEnd(f); ok {
			el := time.Since(t0)
			r.n.Store(n)
			if c.pattern == "pubsub" {
				// Goodbye: tells the publisher to stop repeating the end marker.
				if err := s.Unsubscribe(nil); err != nil {
					return fmt.Errorf("unsubscribe: %w", err)
				}
			}
			return r.printThroughput(out, "received", n, sent, el)
		}
		if len(f) != c.size {
			return fmt.Errorf("got a %d-byte message, want --size %d", len(f), c.size)
		}
		m.Release() // its buffer serves a later receive
		if n == 0 {
			t0 = time.Now()
		}
		n++
		if counts && n&255 == 0 {
			r.n.Store(n)
		}
	}
}

func (r *benchRun) printThroughput(out io.Writer, verb string, n, sent int64, el time.Duration) error {
	c := r.c
	secs := el.Seconds()
	var rate float64
	if n > 1 && secs > 0 {
		rate = float64(n-1) / secs // the clock starts at the first message
	}
	if sent < 0 {
		fmt.Fprintf(out, "%s %d messages in %.4f s\n", verb, n, secs)
	} else {
		fmt.Fprintf(out, "%s %d of %d messages in %.4f s", verb, n, sent, secs)
		if sent > n {
			fmt.Fprintf(out, ", lost %d (%.2f%%)", sent-n, 100*float64(sent-n)/float64(sent))
		}
		fmt.Fprintln(out)
	}
	what := "throughput"
	if verb == "sent" {
		what = "send rate" // the receiving side's figure is the throughput
	}
	fmt.Fprintf(out, "%s: %.0f msgs/s, %.1f MB/s\n", what, rate, rate*float64(c.size)/1e6)
	return nil
}

// sender runs the sending side: PUSH or XPUB sending --count messages, or
// REQ asking --count times.
func (r *benchRun) sender(ctx context.Context, s *zmq.Socket, out io.Writer, counts bool) error {
	c := r.c
	body := make([]byte, c.size)
	msg := zmq.NewMsg(body)
	switch c.pattern {
	case "reqrep":
		rt := func(m zmq.Msg) error {
			if err := s.Send(ctx, m); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			if _, err := s.Recv(ctx); err != nil {
				return fmt.Errorf("recv: %w", err)
			}
			return nil
		}
		r.phase.Store("warming up")
		for i := 0; i < c.warmup; i++ {
			if err := rt(msg); err != nil {
				return err
			}
		}
		rtts := make([]time.Duration, 0, c.count)
		start := time.Now()
		for i := 0; i < c.count; i++ {
			t := time.Now()
			if err := rt(msg); err != nil {
				return err
			}
			rtts = append(rtts, time.Since(t))
			if counts {
				r.n.Store(int64(i + 1))
			}
		}
		el := time.Since(start)
		if err := rt(zmq.NewMsg(endMarker(int64(c.count)))); err != nil {
			return err
		}
		printLatency(out, rtts, el)
		return nil
	case "pubsub":
		// Wait for the subscription, so nothing is sent into the void.
		r.phase.Store("waiting for a subscriber")
		for {
			m, err := s.Recv(ctx)
			if err != nil {
				return fmt.Errorf("waiting for a subscription: %w", err)
			}
			if f := m.Frames[0]; len(f) > 0 && f[0] == 1 {
				break
			}
		}
	}
	start := time.Now()
	var n int64
	for n < int64(c.count) {
		if err := s.Send(ctx, msg); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		n++
		if counts && n&255 == 0 {
			r.n.Store(n)
		}
	}
	r.n.Store(n)
	end := zmq.NewMsg(endMarker(n))
	if c.pattern == "pushpull" {
		if err := s.Send(ctx, end); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		// Shutdown waits for everything to be written, through
		// reconnections, until --timeout or a signal ends ctx.
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, zmq.ErrClosed) {
			return fmt.Errorf("the receiver did not get everything: %w", err)
		}
		return r.printThroughput(out, "sent", n, -1, time.Since(start))
	}
	// PUB: the end marker may be dropped at the HWM; repeat it until the
	// subscriber says goodbye (unsubscribes), for at most benchGoodbye.
	el := time.Since(start)
	r.phase.Store("waiting for the subscriber to finish")
	got := make(chan error, 1)
	go func() {
		for {
			m, err := s.Recv(ctx)
			if err != nil {
				got <- err
				return
			}
			if f := m.Frames[0]; len(f) > 0 && f[0] == 0 {
				got <- nil
				return
			}
		}
	}()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	giveUp := time.NewTimer(benchGoodbye)
	defer giveUp.Stop()
	for {
		if err := s.TrySend(end); err != nil && !errors.Is(err, zmq.ErrWouldBlock) {
			return fmt.Errorf("send: %w", err)
		}
		select {
		case err := <-got:
			if err != nil && !errors.Is(err, zmq.ErrClosed) {
				return fmt.Errorf("recv: %w", err)
			}
			return r.printThroughput(out, "sent", n, -1, el)
		case <-giveUp.C:
			r.e.warnf("bench: no goodbye from the subscriber within %v", benchGoodbye)
			s.Close() // ends the goroutine's Recv
			<-got
			return r.printThroughput(out, "sent", n, -1, el)
		case <-t.C:
		}
	}
}

// benchSeq numbers the inproc endpoints of loopback runs.
var benchSeq atomic.Int64

// benchGoodbye bounds how long a publisher repeats its end marker.
const benchGoodbye = 10 * time.Second

func printLatency(out io.Writer, rtts []time.Duration, el time.Duration) {
	if len(rtts) == 0 {
		fmt.Fprintln(out, "no round trips measured")
		return
	}
	slices.Sort(rtts)
	var sum time.Duration
	for _, d := range rtts {
		sum += d
	}
	pct := func(p float64) time.Duration {
		i := int(p*float64(len(rtts))+0.5) - 1
		return rtts[max(0, min(i, len(rtts)-1))]
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	fmt.Fprintf(out, "%d round trips in %.4f s: %.0f round trips/s\n", len(rtts), el.Seconds(), float64(len(rtts))/el.Seconds())
	fmt.Fprintf(out, "latency: avg %.1f µs, p50 %.1f µs, p99 %.1f µs, min %.1f µs, max %.1f µs\n",
		us(sum/time.Duration(len(rtts))), us(pct(0.50)), us(pct(0.99)), us(rtts[0]), us(rtts[len(rtts)-1]))
}
