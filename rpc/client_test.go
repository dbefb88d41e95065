package rpc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

func dial(t testing.TB, ep string, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, ep, "demo", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientOperations(t *testing.T) {
	_, ep := startServer(t, nil)
	c := dial(t, ep)
	ctx := ctxT(t)

	var n float64
	if err := c.ReadProperty(ctx, "demo", "count", &n); err != nil || n != 1 {
		t.Fatalf("read count: %v %v", n, err)
	}
	if err := c.WriteProperty(ctx, "demo", "count", 42); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadProperty(ctx, "demo", "count", &n); err != nil || n != 42 {
		t.Fatalf("read after write: %v %v", n, err)
	}
	// msgpack request payload, JSON reply
	if err := c.WriteProperty(ctx, "demo", "count", 7, ContentType(ContentMsgpack)); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadProperty(ctx, "demo", "count", &n); err != nil || n != 7 {
		t.Fatalf("read after msgpack write: %v %v", n, err)
	}
	// type check
	var e *Exception
	if err := c.WriteProperty(ctx, "demo", "count", "seven"); !errors.As(err, &e) || e.Type != "TypeError" {
		t.Fatalf("write string to number: %v", err)
	}
	// keyword and positional arguments
	var slept map[string]float64
	if err := c.InvokeAction(ctx, "demo", "sleep_for", map[string]any{"seconds": 0.01}, &slept); err != nil || slept["slept"] != 0.01 {
		t.Fatalf("sleep_for kw: %v %v", slept, err)
	}
	if err := c.InvokeAction(ctx, "demo", "sleep_for", map[string]any{"__args__": []any{0.02}}, &slept); err != nil || slept["slept"] != 0.02 {
		t.Fatalf("sleep_for positional: %v %v", slept, err)
	}
	if err := c.InvokeAction(ctx, "demo", "sleep_for", nil, &slept); err != nil || slept["slept"] != 0.1 {
		t.Fatalf("sleep_for default: %v %v", slept, err)
	}
	// exception
	err := c.InvokeAction(ctx, "demo", "fail", nil, nil)
	if !errors.As(err, &e) || e.Type != "ValueError" || e.Message != "deliberate failure from Demo.fail" || len(e.Traceback) == 0 || e.Invalid {
		t.Fatalf("fail: %#v", err)
	}
	if errors.Is(err, ErrInvalidMessage) {
		t.Fatal("EXCEPTION matched ErrInvalidMessage")
	}
	// unknown names and operations
	if err := c.ReadProperty(ctx, "demo", "nope", nil); !errors.As(err, &e) || e.Type != "KeyError" || e.Message != "'nope'" {
		t.Fatalf("unknown property: %v", err)
	}
	if _, err := c.Do(ctx, "demo", "count", "frobnicate", nil); !errors.As(err, &e) || e.Type != "NotImplementedError" {
		t.Fatalf("unknown operation: %v", err)
	}
	if err := c.ReadProperty(ctx, "ghost", "count", nil); !errors.Is(err, ErrInvalidMessage) || !errors.As(err, &e) || e.Type != "KeyError" {
		t.Fatalf("unknown thing: %v", err)
	}
	if _, err := c.Do(ctx, "demo", "count", OpDeleteProperty, nil); !errors.As(err, &e) || e.Type != "NotImplementedError" {
		t.Fatalf("delete: %v", err)
	}
	// multiple properties
	all, err := c.ReadMultipleProperties(ctx, "demo", nil)
	if err != nil || all["count"] != 7.0 {
		t.Fatalf("read all: %v %v", all, err)
	}
	if err := c.WriteMultipleProperties(ctx, "demo", map[string]any{"count": 3}); err != nil {
		t.Fatal(err)
	}
	some, err := c.ReadMultipleProperties(ctx, "demo", []string{"count"})
	if err != nil || some["count"] != 3.0 || len(some) != 1 {
		t.Fatalf("read multiple: %v %v", some, err)
	}
	if _, err := c.Do(ctx, "demo", "", OpWriteAllProperties, map[string]any{"count": 4, "nope": 1}); !errors.As(err, &e) || e.Type != "KeyError" {
		t.Fatalf("write all with unknown name: %v", err)
	}
	if err := c.WriteMultipleProperties(ctx, "demo", map[string]any{"count": 4, "nope": 1}); !errors.As(err, &e) || e.Type != "AttributeError" {
		t.Fatalf("_set_properties with unknown name: %v", err)
	}
	// the operations as hololinked's server takes them: names in objekt
	var m map[string]any
	if resp, err := c.Do(ctx, "demo", "count", OpReadMultipleProperties, nil); err != nil || resp.Decode(&m) != nil || m["count"] != 3.0 {
		t.Fatalf("readmultipleproperties with objekt: %v %v", m, err)
	}
	if err := c.InvokeAction(ctx, "demo", "_get_properties", map[string]any{"count": "n"}, &m); err != nil || m["n"] != 3.0 {
		t.Fatalf("_get_properties rename: %v %v", m, err)
	}
	if err := c.InvokeAction(ctx, "demo", "_get_properties", map[string]any{"names": "count"}, &m); err != nil || m["count"] != 3.0 {
		t.Fatalf("_get_properties names string: %v %v", m, err)
	}
	if err := c.ReadProperty(ctx, "demo", "count", &n); err != nil || n != 3 {
		t.Fatalf("a failed writeall changed values: %v %v", n, err)
	}
	// built-ins
	if err := c.Ping(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	td, err := c.ThingDescription(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	props := td["properties"].(map[string]any)
	count := props["count"].(map[string]any)
	forms := count["forms"].([]any)
	if td["id"] != "demo" || count["type"] != "number" || count["default"] != 1.0 || len(forms) != 2 ||
		forms[0].(map[string]any)["href"] != ep {
		t.Fatalf("TD: %v", td)
	}
	ev := td["events"].(map[string]any)["tick"].(map[string]any)["forms"].([]any)[0].(map[string]any)
	if ev["href"] != EventEndpoint(ep) || ev["op"] != "subscribeevent" {
		t.Fatalf("TD event form: %v", ev)
	}
	var tm map[string]any
	if err := c.InvokeAction(ctx, "demo", "get_thing_model", nil, &tm); err != nil || tm["properties"].(map[string]any)["count"].(map[string]any)["forms"] != nil {
		t.Fatalf("TM: %v %v", tm, err)
	}
	if err := c.InvokeAction(ctx, "demo", "get_thing_description", map[string]any{"protocol": "IPC"}, nil); !errors.As(err, &e) || e.Type != "ValueError" {
		t.Fatalf("TD for a transport not served: %v", err)
	}
}

func TestClientPreencodedAndRawReplies(t *testing.T) {
	th := NewThing("raw")
	th.AddProperty(Property{Name: "blob"})
	th.AddAction(Action{Name: "echo", Func: func(_ context.Context, a Args) (any, error) {
		return a.Positional[0], nil // the preencoded bytes come first
	}})
	th.AddAction(Action{Name: "both", Func: func(context.Context, Args) (any, error) {
		return RawReply{Value: map[string]any{"shape": []any{2}}, Raw: []byte{9, 9}}, nil
	}})
	th.AddProperty(Property{Name: "packed", Default: map[string]any{"a": 1.5}, ContentType: ContentMsgpack})
	_, ep := startServer(t, nil, th)
	c := dial(t, ep)
	ctx := ctxT(t)
	var got []byte
	if err := c.InvokeAction(ctx, "raw", "echo", nil, &got, Preencoded([]byte{0, 1, 2})); err != nil || string(got) != "\x00\x01\x02" {
		t.Fatalf("echo: %q %v", got, err)
	}
	if err := c.WriteProperty(ctx, "raw", "blob", nil, Preencoded([]byte("bytes"))); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadProperty(ctx, "raw", "blob", &got); err != nil || string(got) != "bytes" {
		t.Fatalf("blob: %q %v", got, err)
	}
	resp, err := c.Do(ctx, "raw", "both", OpInvokeAction, nil)
	if err != nil || string(resp.Payload) != `{"shape":[2]}` || string(resp.Preencoded) != "\x09\x09" {
		t.Fatalf("value and bytes: %v %v", resp, err)
	}
	resp, err = c.Do(ctx, "raw", "packed", OpReadProperty, nil)
	var packed map[string]float64
	if err != nil || resp.Header.PayloadContentType != ContentMsgpack || resp.Decode(&packed) != nil || packed["a"] != 1.5 {
		t.Fatalf("msgpack reply: %+v %v %v", resp, packed, err)
	}
}

func TestTimeouts(t *testing.T) {
	th := NewThing("slow")
	th.AddAction(Action{Name: "stuck", Timeouts: Timeouts{Execution: 50 * time.Millisecond},
		Func: func(ctx context.Context, _ Args) (any, error) { <-ctx.Done(); return nil, ctx.Err() }})
	th.AddProperty(Property{Name: "p", Default: 0.0, Timeouts: Timeouts{Invocation: time.Millisecond}})
	_, ep := startServer(t, nil, th)
	c := dial(t, ep)
	ctx := ctxT(t)

	// Execution timeout: TIMEOUT "execution", and the queue is free at once.
	start := time.Now()
	err := c.InvokeAction(ctx, "demo", "sleep_for", map[string]any{"seconds": 5}, nil, CallTimeouts(time.Second, 100*time.Millisecond))
	var te *TimeoutError
	if !errors.As(err, &te) || te.Kind != TimeoutExecution || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("execution timeout: %v", err)
	}
	if err := c.ReadProperty(ctx, "demo", "count", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the queue stayed blocked: %v", d)
	}

	// Invocation timeout: a write queued behind a 300 ms action is dropped.
	busy := c.InvokeActionAsync(ctx, "demo", "sleep_for", map[string]any{"seconds": 0.3})
	err = c.WriteProperty(ctx, "demo", "count", 99, CallTimeouts(50*time.Millisecond, time.Second))
	if !errors.As(err, &te) || te.Kind != TimeoutInvokation {
		t.Fatalf("invocation timeout: %v", err)
	}
	if err := busy.Result(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var n float64
	if err := c.ReadProperty(ctx, "demo", "count", &n); err != nil || n == 99 {
		t.Fatalf("timed-out write ran: %v %v", n, err)
	}

	// Declared defaults apply when the request leaves timeouts out.
	nt := dial(t, ep, WithTimeouts(-1, -1))
	if err := nt.InvokeAction(ctx, "slow", "stuck", nil, nil); !errors.As(err, &te) || te.Kind != TimeoutExecution {
		t.Fatalf("declared execution timeout: %v", err)
	}
	// ... and a request's own value wins.
	if err := nt.ReadProperty(ctx, "slow", "p", nil, CallTimeouts(time.Second, -1)); err != nil {
		t.Fatalf("request timeout should override the declared 1 ms: %v", err)
	}

	// The client's own ctx bounds the wait too.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := nt.InvokeAction(short, "demo", "sleep_for", map[string]any{"seconds": 0.3}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx: %v", err)
	}
}

func TestOneway(t *testing.T) {
	_, ep := startServer(t, nil)
	c := dial(t, ep)
	ctx := ctxT(t)
	sub, err := c.Subscribe(ctx, "demo", "tick")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := c.InvokeAction(ctx, "demo", "emit", map[string]any{"value": 8}, nil, Oneway()); err != nil {
		t.Fatal(err)
	}
	// The action ran (its event arrives) although nothing was replied.
	// The subscription may not be live yet: emit until it is.
	waitEvent(t, c, sub, 8)

	// A oneway request still gets TIMEOUT (hololinked sends it).
	p := newRawPeer(t, zmq.Router, "oneway-peer", ep)
	p.handshake(t, "oneway-peer")
	id := newUUID()
	p.send(t, [][]byte{[]byte("demo"), nil, header(MsgOperation, id, "oneway-peer",
		`,"serverExecutionContext":{"execution_timeout":0.05,"oneway":true},"thingID":"demo","objekt":"sleep_for","operation":"invokeaction"`),
		[]byte(`{"seconds":1}`), nil})
	got := p.await(id, 3*time.Second)
	if got == nil || string(got[3]) != `"execution"` {
		t.Fatalf("oneway timeout: %q", got)
	}
	id = newUUID()
	p.send(t, [][]byte{[]byte("demo"), nil, header(MsgOperation, id, "oneway-peer",
		`,"serverExecutionContext":{"oneway":true},"thingID":"demo","objekt":"count","operation":"writeproperty"`), []byte(`5`), nil})
	if got := p.await(id, 200*time.Millisecond); got != nil {
		t.Fatalf("oneway got a reply: %q", got)
	}
}

// waitEvent emits value until the subscription delivers it (a SUB's
// subscription takes a moment to reach the publisher).
func waitEvent(t testing.TB, c *Client, sub *Subscription, value float64) {
	t.Helper()
	ctx := ctxT(t)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case e := <-sub.C:
			var v map[string]float64
			if err := e.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if v["value"] == value {
				return
			}
		case <-tick.C:
			c.InvokeAction(ctx, "demo", "emit", map[string]any{"value": value}, nil)
		case <-ctx.Done():
			t.Fatal("no event")
		}
	}
}

func TestSerialAndConcurrent(t *testing.T) {
	th := NewThing("par")
	for _, conc := range []bool{false, true} {
		name := map[bool]string{false: "serial", true: "parallel"}[conc]
		th.AddAction(Action{Name: name, Concurrent: conc, Func: func(ctx context.Context, _ Args) (any, error) {
			time.Sleep(150 * time.Millisecond)
			return nil, nil
		}})
	}
	_, ep := startServer(t, nil, th)
	c := dial(t, ep)
	ctx := ctxT(t)
	run := func(name string) time.Duration {
		start := time.Now()
		var fs []*Future
		for range 4 {
			fs = append(fs, c.InvokeActionAsync(ctx, "par", name, nil))
		}
		for _, f := range fs {
			if err := f.Result(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	if d := run("serial"); d < 600*time.Millisecond {
		t.Errorf("4 queued actions of 150 ms took %v: not one at a time", d)
	}
	// A property read waits for the action in progress (hololinked's order).
	start := time.Now()
	busy := c.InvokeActionAsync(ctx, "demo", "sleep_for", map[string]any{"seconds": 0.3})
	if err := c.ReadProperty(ctx, "demo", "count", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("a read overtook the running action: %v", d)
	}
	if err := busy.Result(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if d := run("parallel"); d >= 590*time.Millisecond { // less than one at a time could take
		t.Errorf("4 concurrent actions of 150 ms took %v", d)
	}
}

func TestManyInFlight(t *testing.T) {
	_, ep := startServer(t, nil)
	c := dial(t, ep)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				var v float64
				if err := c.InvokeAction(ctx, "demo", "emit", map[string]any{"value": g*1000 + i}, &v); err != nil {
					errs <- err
					return
				}
				if v != float64(g*1000+i) {
					errs <- errors.New("reply matched to the wrong request")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestExit(t *testing.T) {
	s, ep := startServer(t, nil)
	c := dial(t, ep)
	ctx := ctxT(t)
	var e *Exception
	if err := c.Exit(ctx, time.Second); !errors.As(err, &e) || e.Type != "PermissionError" || !e.Invalid {
		t.Fatalf("EXIT: %v", err)
	}
	if err := c.Ping(ctx, "demo"); err != nil {
		t.Fatalf("server stopped on a refused EXIT: %v", err)
	}
	_ = s

	s2, ep2 := startServer(t, []Option{WithAllowExit(true)})
	c2 := dial(t, ep2)
	if err := c2.Exit(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s2.done:
	case <-ctx.Done():
		t.Fatal("allowed EXIT did not stop the server")
	}
}

func TestEventsLastValueAndExactMatch(t *testing.T) {
	s, ep := startServer(t, nil)
	c := dial(t, ep)
	ctx := ctxT(t)
	if err := c.InvokeAction(ctx, "demo", "emit", map[string]any{"value": 5}, nil); err != nil {
		t.Fatal(err)
	}
	// A late joiner gets the last value at once, without another emit.
	sub, err := c.Subscribe(ctx, "demo", "tick")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	select {
	case e := <-sub.C:
		var v map[string]float64
		if err := e.Decode(&v); err != nil || v["value"] != 5 || e.Topic != "demo/tick" || e.Header.SenderID != "demo/event-publisher" {
			t.Fatalf("last value: %+v %v", e, err)
		}
	case <-ctx.Done():
		t.Fatal("no last value for a late subscriber")
	}
	// Exact matching: "demo/tic" does not get "demo/tick"; prefix matching
	// (hololinked's) does.
	_, evEP, _ := s.Endpoints("TCP")
	exact, err := SubscribeAt(evEP, "demo", "tic", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	prefix, err := SubscribeAt(evEP, "demo", "tic", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer prefix.Close()
	select { // the prefix subscriber's last-value delivery proves the subscription is live
	case <-prefix.C:
	case <-ctx.Done():
		t.Fatal("prefix subscriber got nothing")
	}
	if err := c.InvokeAction(ctx, "demo", "emit", map[string]any{"value": 6}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-prefix.C:
	case <-ctx.Done():
		t.Fatal("prefix subscriber got nothing")
	}
	// The same emit went to both SUBs, the exact one drops it; a later
	// repeat through the first subscription proves ordering has passed it.
	waitEvent(t, c, sub, 6)
	select {
	case e := <-exact.C:
		t.Fatalf("exact subscriber got %q", e.Topic)
	default:
	}
	// Callback form.
	got := make(chan float64, 16)
	cb, err := c.SubscribeFunc(ctx, "demo", "tick", func(e *EventMessage) {
		var v map[string]float64
		e.Decode(&v)
		got <- v["value"]
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if v := <-got; v != 6 { // last value
		t.Fatalf("callback last value %v", v)
	}
}

func TestTransportsAtOnce(t *testing.T) {
	dir := t.TempDir()
	s, err := NewServer("multi", WithIPCDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	s.AddThing(NewDemoThing("demo"))
	var eps []string
	for _, ap := range []string{"tcp://127.0.0.1:0", "IPC", "INPROC"} {
		ep, err := s.Listen(ap)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	if eps[1] != "ipc://"+filepath.Join(dir, "sockets", "multi.ipc") || eps[2] != "inproc://multi" {
		t.Fatalf("endpoints %v", eps)
	}
	go s.Serve(context.Background())
	defer s.Close()
	ctx := ctxT(t)
	for _, ep := range eps {
		c, err := Dial(ctx, ep, "multi")
		if err != nil {
			t.Fatalf("%s: %v", ep, err)
		}
		var n float64
		err = c.ReadProperty(ctx, "demo", "count", &n)
		td, tdErr := c.ThingDescription(ctx, "demo")
		c.Close()
		if err != nil || n != 1 || tdErr != nil {
			t.Fatalf("%s: %v %v %v", ep, n, err, tdErr)
		}
		if href := td["events"].(map[string]any)["tick"].(map[string]any)["forms"].([]any)[0].(map[string]any)["href"]; href != EventEndpoint(ep) && ep != eps[0] {
			t.Fatalf("%s: event href %v", ep, href)
		}
	}
}

func TestTCPPortSearch(t *testing.T) {
	s, err := NewServer("search")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req, err := s.Listen("TCP")
	if err != nil {
		t.Fatal(err)
	}
	_, ev, _ := s.Endpoints("TCP")
	var p int
	if _, err := fmt.Sscanf(req[strings.LastIndexByte(req, ':')+1:], "%d", &p); err != nil || p < 60000 || p > 65534 {
		t.Fatalf("TCP bound %s", req)
	}
	if ev != EventEndpoint(req) {
		t.Fatalf("events %s for %s", ev, req)
	}
	// The next server skips the pair in use.
	s2, _ := NewServer("search2")
	defer s2.Close()
	req2, err := s2.Listen("TCP")
	if err != nil || req2 == req {
		t.Fatalf("second TCP: %s %v", req2, err)
	}
}

func TestCurve(t *testing.T) {
	spub, ssec, _ := zmq.NewCurveKeypair()
	cpub, csec, _ := zmq.NewCurveKeypair()
	_, ep := startServer(t, []Option{WithSocketOptions(zmq.WithCurveServer(ssec))})
	c := dial(t, ep, WithSocketOptions(zmq.WithCurveClient(spub, cpub, csec)))
	ctx := ctxT(t)
	if err := c.Ping(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(ctx, "demo", "tick")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitEvent(t, c, sub, 1)
	short, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	if _, err := Dial(short, ep, "demo"); !errors.Is(err, ErrHandshake) {
		t.Fatalf("a client without CURVE got through: %v", err)
	}
}

func TestPlain(t *testing.T) {
	auth := zmq.NewAuthenticator()
	auth.AddUser("user", "pw")
	_, ep := startServer(t, []Option{WithSocketOptions(zmq.WithPlainServer(), zmq.WithZAPHandler(auth))})
	c := dial(t, ep, WithSocketOptions(zmq.WithPlainClient("user", "pw")))
	if err := c.Ping(ctxT(t), "demo"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctxT(t), 700*time.Millisecond)
	defer cancel()
	if _, err := Dial(short, ep, "demo", WithSocketOptions(zmq.WithPlainClient("user", "wrong"))); !errors.Is(err, ErrHandshake) {
		t.Fatalf("a wrong password got through: %v", err)
	}
}

func TestBadInputKeepsServing(t *testing.T) {
	_, ep := startServer(t, nil)
	p := newRawPeer(t, zmq.Router, "bad", ep)
	p.handshake(t, "bad")
	for _, frames := range [][][]byte{
		{[]byte("demo"), []byte("x")},
		{[]byte("demo"), nil, []byte("{not json"), nil, nil},
		{[]byte("demo"), nil, []byte(`{"messageType":"OPERATION"}`), nil, nil},
		{[]byte("demo"), nil, header("BOGUS", "b1", "bad", ""), nil, nil},
		{[]byte("demo"), nil, header(MsgOperation, "b2", "bad", `,"serverExecutionContext":{"execution_timeout":"x"}`), nil, nil},
		{[]byte("demo"), nil, header(MsgOperation, "b3", "bad", `,"serverExecutionContext":{},"thingID":"demo","objekt":"emit","operation":"invokeaction"`), []byte("[1]"), nil},
		{[]byte("demo"), nil, header(MsgOperation, "b4", "bad", `,"serverExecutionContext":{},"thingID":"demo","objekt":"count","operation":"writeproperty","payloadContentType":"application/x-pickle"`), []byte("x"), nil},
	} {
		p.send(t, frames)
	}
	for _, id := range []string{"b1", "b2", "b3", "b4"} {
		if got := p.await(id, 2*time.Second); got == nil {
			t.Errorf("%s: no error reply", id)
		}
	}
	c := dial(t, ep)
	if err := c.Ping(ctxT(t), "demo"); err != nil {
		t.Fatal(err)
	}
}

func TestQueueBounds(t *testing.T) {
	th := NewThing("q")
	release := make(chan struct{})
	for _, conc := range []bool{false, true} {
		th.AddAction(Action{Name: map[bool]string{false: "serial", true: "parallel"}[conc], Concurrent: conc,
			Func: func(ctx context.Context, _ Args) (any, error) {
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil, nil
			}})
	}
	_, ep := startServer(t, []Option{WithQueueLen(2)}, th)
	c := dial(t, ep, WithTimeouts(-1, -1))
	ctx := ctxT(t)
	for _, name := range []string{"serial", "parallel"} {
		// serial: one runs, two wait, the fourth is refused;
		// parallel: two run, the third is refused.
		n := map[string]int{"serial": 3, "parallel": 2}[name]
		var fs []*Future
		for range n {
			fs = append(fs, c.InvokeActionAsync(ctx, "q", name, nil))
		}
		if err := c.Ping(ctx, "demo"); err != nil { // the others have arrived
			t.Fatal(err)
		}
		var e *Exception
		if err := c.InvokeAction(ctx, "q", name, nil, nil); !errors.As(err, &e) || e.Type != "BufferError" {
			t.Fatalf("%s: beyond the bound: %v", name, err)
		}
		for range n {
			release <- struct{}{}
		}
		for _, f := range fs {
			if err := f.Result(ctx, nil); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
}

func TestPanicBecomesException(t *testing.T) {
	th := NewThing("p")
	th.AddAction(Action{Name: "boom", Func: func(context.Context, Args) (any, error) { panic("boom") }})
	_, ep := startServer(t, nil, th)
	c := dial(t, ep)
	var e *Exception
	if err := c.InvokeAction(ctxT(t), "p", "boom", nil, nil); !errors.As(err, &e) || e.Type != "RuntimeError" {
		t.Fatalf("panic: %v", err)
	}
	if err := c.Ping(ctxT(t), "demo"); err != nil {
		t.Fatal(err)
	}
}

func TestClosedClient(t *testing.T) {
	_, ep := startServer(t, nil)
	c := dial(t, ep)
	c.Close()
	if err := c.Ping(ctxT(t), "demo"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
