package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// asyncLog records each SendAsync request's done calls, by the test's own
// number for the request: a call lost or made twice shows.
type asyncLog struct {
	mu    sync.Mutex
	calls map[int][]asyncOutcome
	ch    chan int // the request's number, once per call
}

type asyncOutcome struct {
	status string
	err    error
}

func newAsyncLog(n int) *asyncLog {
	return &asyncLog{calls: make(map[int][]asyncOutcome), ch: make(chan int, n+16)}
}

// done returns request i's done function.
func (l *asyncLog) done(i int) func(string, error) {
	return func(status string, err error) {
		l.mu.Lock()
		l.calls[i] = append(l.calls[i], asyncOutcome{status, err})
		l.mu.Unlock()
		l.ch <- i
	}
}

// wait waits for n done calls.
func (l *asyncLog) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for range n {
		select {
		case <-l.ch:
		case <-timeout:
			t.Fatalf("%d done calls after %v, want %d", len(l.ch), waitTimeout, n)
		}
	}
}

// only returns request i's one outcome; more or fewer than one call fails.
func (l *asyncLog) only(t *testing.T, i int) asyncOutcome {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls[i]) != 1 {
		t.Fatalf("request %d: done called %d times: %v", i, len(l.calls[i]), l.calls[i])
	}
	return l.calls[i][0]
}

// total counts all done calls so far.
func (l *asyncLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		n += len(c)
	}
	return n
}

// One client keeps 64 messages in flight, sending the next from done:
// the receiver gets all 5,000 in the order sent, and each done is called
// once, with what Send gives for a delivered message.
func TestSendAsyncPipeline(t *testing.T) {
	const total, window = 5000, 64
	b := startBroker(t, Config{Rate: -1})
	alice, _ := client(t, b.Addr(), "alice")
	_, bobIn := client(t, b.Addr(), "bob")
	log := newAsyncLog(total)

	var mu sync.Mutex // numbers and sends together: the wire's order is the numbers'
	next, inFlight, maxInFlight := 0, 0, 0
	sendErr := make(chan error, 1)
	var send func()
	send = func() {
		mu.Lock()
		defer mu.Unlock()
		if next == total {
			return
		}
		i := next
		next++
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		done := log.done(i)
		err := alice.SendAsync("bob", strconv.Itoa(i), func(status string, err error) {
			mu.Lock()
			inFlight--
			mu.Unlock()
			done(status, err)
			send() // from done: the client's receiving goroutine
		})
		if err != nil {
			select {
			case sendErr <- fmt.Errorf("SendAsync %d: %w", i, err):
			default:
			}
		}
	}
	for range window {
		send()
	}
	select {
	case err := <-sendErr:
		t.Fatal(err)
	default:
	}
	log.wait(t, total)
	select {
	case err := <-sendErr:
		t.Fatal(err)
	default:
	}
	for i := range total {
		if o := log.only(t, i); o.status != StatusDelivered || o.err != nil {
			t.Fatalf("request %d: done(%q, %v)", i, o.status, o.err)
		}
		if m := bobIn.next(t, TypeDirectMessage); m.From != "alice" || m.Text() != strconv.Itoa(i) {
			t.Fatalf("message %d: bob got %s", i, m.Raw)
		}
	}
	if maxInFlight != window {
		t.Fatalf("%d in flight at most, want %d", maxInFlight, window)
	}
	// Nothing was left waiting: Close would fail it with ErrClosed.
	alice.Close()
	if n := log.total(); n != total {
		t.Fatalf("%d done calls after Close, want %d", n, total)
	}
	if err := alice.SendAsync("bob", "x", log.done(-1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendAsync after Close: %v", err)
	}
}

// Without federation, a message to a name nobody has is refused with an
// error reply: SendAsync's done gets what Send returns, by either encoder
// of the request (a plain target is written by hand, another by
// encoding/json).
func TestSendAsyncUnknownTarget(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{})
	alice, _ := client(t, b.Addr(), "alice")
	for _, target := range []string{"carol", `"carol" <c&o>`, "carolé"} {
		st, sendErr := alice.Send(ctx, target, "hi")
		var want *Error
		if !errors.As(sendErr, &want) || want.Message != fmt.Sprintf("client %q is not registered", target) || st != "" {
			t.Fatalf("Send to %q: %q, %v", target, st, sendErr)
		}
		log := newAsyncLog(1)
		if err := alice.SendAsync(target, "hi", log.done(0)); err != nil {
			t.Fatalf("SendAsync to %q: %v", target, err)
		}
		log.wait(t, 1)
		o := log.only(t, 0)
		var got *Error
		if !errors.As(o.err, &got) || got.Message != want.Message || o.status != st || o.err.Error() != sendErr.Error() {
			t.Fatalf("SendAsync to %q: done(%q, %v), Send gave %q, %v", target, o.status, o.err, st, sendErr)
		}
	}
}

var inprocSeq atomic.Int64

// A recipient whose queue at the broker is full: Send returns "failed"
// with ErrNotDelivered, and so does SendAsync's done, once per request,
// each failure counted as dropped by the broker.
func TestSendAsyncNotDelivered(t *testing.T) {
	ctx := testCtx(t)
	addr := fmt.Sprintf("inproc://sendasync-failed-%d", inprocSeq.Add(1))
	b := startBroker(t, Config{QueueSize: 5, Rate: -1, Bind: []string{addr}})
	silentClient(t, b.Addr(), "stuck")
	alice, _ := client(t, b.Addr(), "alice")
	for i := 0; ; i++ {
		if i == 20000 {
			t.Fatal("nothing failed after 20000 messages")
		}
		st, err := alice.Send(ctx, "stuck", "x")
		if st == StatusFailed {
			if !errors.Is(err, ErrNotDelivered) {
				t.Fatalf("Send: %q, %v", st, err)
			}
			break
		}
		if st != StatusDelivered || err != nil {
			t.Fatalf("Send %d: %q, %v", i, st, err)
		}
	}
	dropped := b.Stats().Dropped
	// One at a time: QueueSize bounds alice's queue for replies too, and
	// a reply the broker drops fails its request with ErrNoReply.
	const n = 50
	log := newAsyncLog(n)
	for i := range n {
		if err := alice.SendAsync("stuck", "x", log.done(i)); err != nil {
			t.Fatalf("SendAsync %d: %v", i, err)
		}
		log.wait(t, 1)
	}
	// Most fail. A few may be delivered: stuck's socket takes what the
	// broker queued for it in batches, and a batch taken makes room for a
	// moment (when this test wanted all 50 to fail, 1 run in 6 did not).
	// Each failure must be one the broker counted.
	fails := 0
	for i := range n {
		switch o := log.only(t, i); {
		case o.status == StatusFailed && errors.Is(o.err, ErrNotDelivered):
			fails++
		case o.status == StatusDelivered && o.err == nil:
		default:
			t.Fatalf("request %d: done(%q, %v)", i, o.status, o.err)
		}
	}
	if fails < n/2 {
		t.Fatalf("%d of %d failed, want most", fails, n)
	}
	if d := b.Stats().Dropped - dropped; d != uint64(fails) {
		t.Fatalf("the broker dropped %d, and %d failed", d, fails)
	}
}

// fakeBroker is a ROUTER the test answers by hand: requests stay in
// flight as long as the test likes.
type fakeBroker struct {
	t    *testing.T
	sock *zmq.Socket
	peer []byte // the client's routing id
}

func newFakeBroker(t *testing.T) *fakeBroker {
	t.Helper()
	s, err := zmq.NewSocket(zmq.Router, zmq.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return &fakeBroker{t: t, sock: s}
}

type fakeRequest struct {
	RequestID uint64 `json:"request_id"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Target    string `json:"target"`
	Content   string `json:"content"`
}

func (f *fakeBroker) recv() fakeRequest {
	f.t.Helper()
	m, err := f.sock.Recv(testCtx(f.t))
	if err != nil || len(m.Frames) != 2 {
		f.t.Fatalf("fake broker: %v, %v", m, err)
	}
	f.peer = m.Frames[0]
	var r fakeRequest
	if err := json.Unmarshal(m.Frames[1], &r); err != nil {
		f.t.Fatalf("fake broker: %q: %v", m.Frames[1], err)
	}
	return r
}

func (f *fakeBroker) reply(body string) {
	f.t.Helper()
	if err := f.sock.Send(testCtx(f.t), zmq.NewMsg(f.peer, []byte(body))); err != nil {
		f.t.Fatal(err)
	}
}

// connect makes c's connection to f, registering it: once Register
// returns, the connection is up and SendAsync sends.
// client is a new Client of f, connected (connect), closed at the test's end.
func (f *fakeBroker) client() *Client {
	f.t.Helper()
	c, err := NewClient(f.sock.LastEndpoint())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	f.connect(c)
	return c
}

func (f *fakeBroker) connect(c *Client) {
	f.t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Register(testCtx(f.t), "alice")
		errc <- err
	}()
	r := f.recv()
	if r.Type != TypeRegister {
		f.t.Fatalf("fake broker: got a %s", r.Type)
	}
	f.reply(fmt.Sprintf(`{"type":"registration_ack","status":"success","client_id":"x","message":"Welcome, alice!","request_id":%d}`, r.RequestID))
	if err := <-errc; err != nil {
		f.t.Fatal(err)
	}
}

// sendInFlight sends n messages with SendAsync, numbered from 0, and
// takes them at f: they are on the wire, waiting for their replies. It
// returns their request_ids.
func sendInFlight(t *testing.T, c *Client, f *fakeBroker, log *asyncLog, n int, done func(i int) func(string, error)) []uint64 {
	t.Helper()
	for i := range n {
		if err := c.SendAsync("bob", strconv.Itoa(i), done(i)); err != nil {
			t.Fatalf("SendAsync %d: %v", i, err)
		}
	}
	ids := make([]uint64, n)
	for i := range n {
		r := f.recv()
		if r.Type != TypeDirectMessage || r.Content != strconv.Itoa(i) {
			t.Fatalf("fake broker: request %d is %+v", i, r)
		}
		ids[i] = r.RequestID
	}
	if n := log.total(); n != 0 {
		t.Fatalf("%d done calls before any reply", n)
	}
	return ids
}

// The broker goes away with requests in flight: those it answered get
// their reply, every other fails with ErrConnectionLost, each done once;
// SendAsync from done, with the connection down, returns ErrNoBroker and
// its done is never called.
func TestSendAsyncConnectionLost(t *testing.T) {
	const n, answered = 100, 10
	f := newFakeBroker(t)
	c := f.client()
	log := newAsyncLog(n)
	never := newAsyncLog(n)
	var fromDone [n]error
	ids := sendInFlight(t, c, f, log, n, func(i int) func(string, error) {
		d := log.done(i)
		return func(status string, err error) {
			if err != nil {
				// Once the connection is known lost, a request from done
				// finds none.
				fromDone[i] = c.SendAsync("bob", "again", never.done(i))
			}
			d(status, err)
		}
	})
	for i := range answered {
		f.reply(fmt.Sprintf(`{"type":"delivery_confirmation","status":"delivered","target":"bob","request_id":%d}`, ids[i]))
	}
	log.wait(t, answered)
	f.sock.Close() // the broker goes, with 90 requests unanswered
	log.wait(t, n-answered)
	for i := range n {
		o := log.only(t, i)
		if i < answered {
			if o.status != StatusDelivered || o.err != nil {
				t.Fatalf("request %d: done(%q, %v)", i, o.status, o.err)
			}
			continue
		}
		if o.status != "" || !errors.Is(o.err, ErrConnectionLost) {
			t.Fatalf("request %d: done(%q, %v)", i, o.status, o.err)
		}
		if !errors.Is(fromDone[i], ErrNoBroker) || !strings.Contains(fromDone[i].Error(), "connection was lost") {
			t.Fatalf("SendAsync from done %d: %v", i, fromDone[i])
		}
	}
	if err := c.SendAsync("bob", "x", never.done(-1)); !errors.Is(err, ErrNoBroker) {
		t.Fatalf("SendAsync with the connection down: %v", err)
	}
	c.Close() // fails whatever still waited, with ErrClosed: nothing should
	if got := log.total(); got != n {
		t.Fatalf("%d done calls, want %d", got, n)
	}
	if got := never.total(); got != 0 {
		t.Fatalf("%d done calls of requests SendAsync refused", got)
	}
	if err := c.SendAsync("bob", "x", never.done(-1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendAsync after Close: %v", err)
	}
}

// Closing the client with requests in flight: by the time Close returns,
// each done has been called once with ErrClosed; SendAsync from done, and
// after Close, returns ErrClosed and never calls its done.
func TestSendAsyncClientClosed(t *testing.T) {
	const n = 50
	f := newFakeBroker(t)
	c := f.client()
	log := newAsyncLog(n)
	never := newAsyncLog(n)
	var fromDone [n]error
	sendInFlight(t, c, f, log, n, func(i int) func(string, error) {
		d := log.done(i)
		return func(status string, err error) {
			fromDone[i] = c.SendAsync("bob", "again", never.done(i))
			d(status, err)
		}
	})
	c.Close()
	if got := log.total(); got != n {
		t.Fatalf("%d done calls when Close returned, want %d", got, n)
	}
	for i := range n {
		if o := log.only(t, i); o.status != "" || !errors.Is(o.err, ErrClosed) {
			t.Fatalf("request %d: done(%q, %v)", i, o.status, o.err)
		}
		if !errors.Is(fromDone[i], ErrClosed) {
			t.Fatalf("SendAsync from done %d: %v", i, fromDone[i])
		}
	}
	if err := c.SendAsync("bob", "x", never.done(-1)); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SendAsync after Close: %v", err)
	}
	if got := never.total(); got != 0 {
		t.Fatalf("%d done calls of requests SendAsync refused", got)
	}
}

// A real broker closed while a client pipelines to it: every request
// SendAsync took gets exactly one done (delivered, or ErrConnectionLost),
// and one it refused (no connection any more) gets none.
func TestSendAsyncBrokerClosed(t *testing.T) {
	const window = 64
	b := startBroker(t, Config{Rate: -1})
	alice, _ := client(t, b.Addr(), "alice")
	_, _ = client(t, b.Addr(), "bob")

	var mu sync.Mutex
	var (
		next      int
		refused   = map[int]error{} // what SendAsync returned, for those it refused
		calls     = map[int][]error{}
		completed int
		ended     int // chains that stopped on a refusal
		delivered int
	)
	halfway := make(chan struct{})
	finished := make(chan struct{})
	var send func()
	send = func() {
		mu.Lock()
		defer mu.Unlock()
		i := next
		next++
		err := alice.SendAsync("bob", "x", func(status string, err error) {
			mu.Lock()
			calls[i] = append(calls[i], err)
			completed++
			if err == nil && status == StatusDelivered {
				delivered++
			}
			if completed == 500 {
				close(halfway)
			}
			mu.Unlock()
			send()
		})
		if err != nil {
			refused[i] = err
			ended++
			if ended == window {
				close(finished)
			}
		}
	}
	for range window {
		send()
	}
	select {
	case <-halfway:
	case <-time.After(waitTimeout):
		t.Fatal("500 messages not confirmed")
	}
	b.Close()
	select {
	case <-finished:
	case <-time.After(waitTimeout):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("after %v: %d sent, %d done calls, %d chains ended", waitTimeout, next, completed, ended)
	}
	// Each chain ended with a refusal, which its last done made: every
	// done is in; Close fails anything still waiting, which would show.
	alice.Close()
	mu.Lock()
	defer mu.Unlock()
	lost := 0
	for i := range next {
		c := calls[i]
		if err, ok := refused[i]; ok {
			if len(c) != 0 {
				t.Errorf("request %d: SendAsync returned %v, and done was called too: %v", i, err, c)
			}
			if !errors.Is(err, ErrNoBroker) && !errors.Is(err, zmq.ErrWouldBlock) {
				t.Errorf("request %d: SendAsync: %v", i, err)
			}
			continue
		}
		switch {
		case len(c) != 1:
			t.Errorf("request %d: done called %d times: %v", i, len(c), c)
		case errors.Is(c[0], ErrConnectionLost):
			lost++
		case c[0] != nil:
			t.Errorf("request %d: done(%v)", i, c[0])
		}
	}
	if delivered < 500 {
		t.Errorf("%d delivered", delivered)
	}
	t.Logf("%d requests: %d delivered, %d lost with the connection, %d refused", next, delivered, lost, len(refused))
}

// With nothing listening, SendAsync fails at once with ErrNoBroker
// (saying no connection was ever made) and never calls done; one over
// the limit fails with ErrTooLarge before anything else.
func TestSendAsyncNoBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tcp://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := NewClient(addr, WithMaxMsgSize(100))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	log := newAsyncLog(2)
	start := time.Now()
	err = c.SendAsync("bob", "hi", log.done(0))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("SendAsync took %v", d)
	}
	if !errors.Is(err, ErrNoBroker) || !strings.Contains(err.Error(), "never connected") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("SendAsync: %v", err)
	}
	if err := c.SendAsync("bob", strings.Repeat("x", 100), log.done(1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("SendAsync over the limit: %v", err)
	}
	if _, err := marshalContent(func() {}); err == nil {
		t.Fatal("unencodable content")
	}
	if err := c.SendAsync("bob", func() {}, log.done(2)); err == nil || errors.Is(err, ErrNoBroker) {
		t.Fatalf("SendAsync of unencodable content: %v", err)
	}
	c.Close() // would fail a request it had kept, calling its done
	if n := log.total(); n != 0 {
		t.Fatalf("%d done calls", n)
	}
}

// The broker's size limit, told in registration_ack: SendAsync refuses a
// larger message with ErrTooLarge before sending it, and done is not
// called; the connection is unharmed.
func TestSendAsyncTooLarge(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{MaxMsgSize: 4096})
	alice, _ := client(t, b.Addr(), "alice")
	_, bobIn := client(t, b.Addr(), "bob")
	log := newAsyncLog(2)
	if err := alice.SendAsync("bob", strings.Repeat("x", 5000), log.done(0)); !errors.Is(err, ErrTooLarge) ||
		!strings.Contains(err.Error(), "the limit is 4096") {
		t.Fatalf("SendAsync: %v", err)
	}
	if err := alice.SendAsync("bob", "small", log.done(1)); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 1)
	if o := log.only(t, 1); o.status != StatusDelivered || o.err != nil {
		t.Fatalf("done(%q, %v)", o.status, o.err)
	}
	if m := bobIn.next(t, TypeDirectMessage); m.Text() != "small" {
		t.Fatalf("bob got %s", m.Raw)
	}
	if _, err := alice.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := log.total(); n != 1 {
		t.Fatalf("%d done calls", n)
	}
}

// Send and SendAsync from several goroutines on one client, half of them
// to names nobody has: each reply pairs with its own request, as the
// error reply names the target its request had.
func TestSendAsyncMixedWithSend(t *testing.T) {
	const goroutines, each, window = 4, 200, 16
	ctx := testCtx(t)
	b := startBroker(t, Config{Rate: -1})
	alice, _ := client(t, b.Addr(), "alice")
	_, bobIn := client(t, b.Addr(), "bob")
	// check says whether request (g, i)'s outcome is right: to bob
	// (even i) delivered, to nobody-g-i an error naming it.
	check := func(g, i int, status string, err error) error {
		if i%2 == 0 {
			if status != StatusDelivered || err != nil {
				return fmt.Errorf("%d/%d to bob: %q, %v", g, i, status, err)
			}
			return nil
		}
		var e *Error
		if want := fmt.Sprintf("client %q is not registered", fmt.Sprintf("nobody-%d-%d", g, i)); !errors.As(err, &e) ||
			e.Message != want || status != "" {
			return fmt.Errorf("%d/%d: %q, %v; want %s", g, i, status, err, want)
		}
		return nil
	}
	target := func(g, i int) string {
		if i%2 == 0 {
			return "bob"
		}
		return fmt.Sprintf("nobody-%d-%d", g, i)
	}
	errs := make(chan error, 2*goroutines*each)
	var wg sync.WaitGroup
	logs := make([]*asyncLog, goroutines)
	for g := range goroutines {
		wg.Go(func() { // Send
			for i := range each {
				st, err := alice.Send(ctx, target(g, i), fmt.Sprintf("s%d-%d", g, i))
				if e := check(g, i, st, err); e != nil {
					errs <- fmt.Errorf("Send %w", e)
				}
			}
		})
		log := newAsyncLog(each)
		logs[g] = log
		g := g + goroutines // SendAsync, window in flight, the next sent from done
		wg.Go(func() {
			var mu sync.Mutex
			next := 0
			var send func()
			send = func() {
				mu.Lock()
				defer mu.Unlock()
				if next == each {
					return
				}
				i := next
				next++
				done := log.done(i)
				if err := alice.SendAsync(target(g, i), fmt.Sprintf("a%d-%d", g, i), func(status string, err error) {
					if e := check(g, i, status, err); e != nil {
						errs <- fmt.Errorf("SendAsync %w", e)
					}
					done(status, err)
					send()
				}); err != nil {
					errs <- fmt.Errorf("SendAsync %d/%d: %w", g, i, err)
				}
			}
			for range window {
				send()
			}
		})
	}
	wg.Wait() // the Sends; the SendAsyncs' dones:
	for _, log := range logs {
		log.wait(t, each)
		for i := range each {
			log.only(t, i)
		}
	}
	for len(errs) > 0 {
		t.Error(<-errs)
	}
	// bob got each message to him once, and those of a goroutine in order.
	last := map[string]int{}
	for range goroutines * each {
		m := bobIn.next(t, TypeDirectMessage)
		var kind byte
		var g, i int
		if _, err := fmt.Sscanf(m.Text(), "%c%d-%d", &kind, &g, &i); err != nil {
			t.Fatalf("bob got %s: %v", m.Raw, err)
		}
		key := fmt.Sprintf("%c%d", kind, g)
		if prev, ok := last[key]; ok && i != prev+2 || !ok && i != 0 {
			t.Fatalf("bob got %s after %c%d-%d", m.Text(), kind, g, prev)
		}
		last[key] = i
	}
	select {
	case m := <-bobIn:
		t.Fatalf("bob got %s too", m.Raw)
	default:
	}
}

// marshalContent's fast path for a string gives encoding/json's bytes.
func TestMarshalContentString(t *testing.T) {
	for _, s := range marshalContentSeeds {
		checkMarshalContent(t, s)
	}
	for c := range 256 { // every byte alone
		checkMarshalContent(t, string([]byte{byte(c)}))
		checkMarshalContent(t, "a"+string([]byte{byte(c)})+"z")
	}
}

var marshalContentSeeds = []string{
	"", "hello", "hi Bob", "a b c 0123456789 ~!@#$%^*()_+-={}[]|:;',.?/`",
	`"quoted"`, `back\slash`, `\"`, "\\u0000",
	"tab\there", "line\nbreak", "cr\rlf", "\x00", "\x01\x1f\x7f", "\b\f",
	"<script>&amp;</script>", "a<b>c&d",
	"é", "日本語", "emoji 😀", "\u2028\u2029", "mixed é<&>\"\\\n",
	"\xff", "\xc3", "\xc3(", "\xe2\x80", "a\xffb", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xef\xbf\xbd",
}

func checkMarshalContent(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := marshalContent(s)
	if err != nil || string(got) != string(want) {
		t.Fatalf("marshalContent(%q) = %s, %v; encoding/json: %s", s, got, err, want)
	}
}

func FuzzMarshalContent(f *testing.F) {
	for _, s := range marshalContentSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkMarshalContent(t, s) })
}

// Close while other goroutines call SendAsync: each request gets one
// outcome, either from SendAsync (refused: done is never called) or from
// done (ErrClosed), never both.
//
// enqueueAsync adds the request to pending, releases c.mu, then
// TrySends; Close (or connectionLost) may take pending in between and
// call done(ErrClosed), and TrySend then fail (socket closed, or its queue
// full): SendAsync returned that error too, until it learnt to return nil
// for a request no longer pending (it failed in about one iteration in 75).
func TestSendAsyncConcurrentClose(t *testing.T) {
	doubles := 0
	for iter := range 300 {
		addr := fmt.Sprintf("inproc://sendasync-close-%d", inprocSeq.Add(1))
		r, err := zmq.NewSocket(zmq.Router, zmq.WithLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Bind(addr); err != nil {
			t.Fatal(err)
		}
		c, err := NewClient(addr) // the ROUTER never answers: all stay in flight
		if err != nil {
			t.Fatal(err)
		}
		type key struct{ g, i int }
		var mu sync.Mutex
		calls := map[key][]error{}
		refused := map[key]error{}
		var sent atomic.Int64
		ready := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					k := key{g, i}
					err := c.SendAsync("bob", "x", func(_ string, err error) {
						mu.Lock()
						calls[k] = append(calls[k], err)
						mu.Unlock()
					})
					if err != nil {
						mu.Lock()
						refused[k] = err
						mu.Unlock()
						return
					}
					if sent.Add(1) == 200 {
						close(ready)
					}
				}
			})
		}
		all := make(chan struct{})
		go func() { wg.Wait(); close(all) }()
		select {
		case <-ready:
		case <-all:
		}
		c.Close()
		<-all
		mu.Lock()
		for k, err := range refused {
			if len(calls[k]) != 0 {
				if doubles++; doubles <= 3 {
					t.Errorf("iteration %d, request %v: SendAsync returned %v, and done was called with %v", iter, k, err, calls[k])
				}
			}
		}
		for k, c := range calls {
			if len(c) != 1 || !errors.Is(c[0], ErrClosed) {
				t.Errorf("iteration %d, request %v: done calls %v", iter, k, c)
			}
		}
		mu.Unlock()
		r.Close()
	}
	if doubles > 0 {
		t.Errorf("%d requests both refused and done", doubles)
	}
}
