package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqgo/zmq"
)

// Server serves Things over hololinked's ZMQ RPC: one ROUTER (identity =
// server id) for requests on every transport it listens on, and one XPUB
// (identity "{id}/event-publisher") for events.
type Server struct {
	id     string
	cfg    config
	log    *slog.Logger
	router *zmq.Socket
	pub    *zmq.Socket

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	things    map[string]*Thing
	endpoints map[string][2]string // transport ("TCP", "IPC", "INPROC") → request, event endpoint
	eventsFor map[string]string    // request endpoint → its event endpoint
	serving   bool
	closed    bool
	done      chan struct{}

	lvMu  sync.Mutex
	last  map[string][][]byte // topic → last event frames
	ids   *idGen              // event message ids
	pubID string              // id + "/event-publisher"
}

// NewServer makes a server with id (its ROUTER identity; hololinked's
// run_with_zmq_server uses the Thing id). Call AddThing and Listen, then
// Serve.
func NewServer(id string, opts ...Option) (*Server, error) {
	if id == "" {
		return nil, errors.New("rpc: empty server id")
	}
	cfg := newConfig(opts)
	s := &Server{
		id: id, cfg: cfg, log: cfg.logger, things: map[string]*Thing{},
		endpoints: map[string][2]string{}, eventsFor: map[string]string{}, last: map[string][][]byte{}, done: make(chan struct{}),
		ids: newIDGen(), pubID: id + "/event-publisher",
	}
	var err error
	s.router, err = zmq.NewSocket(zmq.Router, append(cfg.sockOpts[:len(cfg.sockOpts):len(cfg.sockOpts)],
		zmq.WithRoutingID([]byte(id)), zmq.WithLogger(cfg.logger))...)
	if err != nil {
		return nil, fmt.Errorf("rpc: request socket: %w", err)
	}
	s.pub, err = zmq.NewSocket(zmq.XPub, append(cfg.sockOpts[:len(cfg.sockOpts):len(cfg.sockOpts)],
		zmq.WithRoutingID([]byte(id+"/event-publisher")), zmq.WithXPubVerbose(true), zmq.WithLogger(cfg.logger))...)
	if err != nil {
		s.router.Close()
		return nil, fmt.Errorf("rpc: event socket: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// ID returns the server id.
func (s *Server) ID() string { return s.id }

// AddThing adds a Thing to serve; call it before Serve.
func (s *Server) AddThing(t *Thing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving || s.closed {
		return errors.New("rpc: AddThing after Serve or Close")
	}
	if _, ok := s.things[t.ID]; ok || t.ID == "" {
		return fmt.Errorf("%w: thing %q", ErrDuplicate, t.ID)
	}
	t.mu.Lock()
	if t.server != nil {
		t.mu.Unlock()
		return fmt.Errorf("rpc: thing %q is already served", t.ID)
	}
	t.server = s
	t.queue = make(chan *job, s.cfg.queueLen)
	t.mu.Unlock()
	s.things[t.ID] = t
	return nil
}

// Listen binds the request socket and the event socket on one transport
// and returns the request endpoint. ap is one of:
//
//   - "TCP": the first port p in 60000..65534 where tcp://*:p and p+1 are
//     free (hololinked's search);
//   - "tcp://HOST:PORT": that port, events on PORT+1; port 0 picks a free
//     pair;
//   - "IPC": hololinked's paths under WithIPCDir (see IPCEndpoints);
//   - "ipc://PATH.ipc": events on PATH.event-publisher.ipc;
//   - "INPROC": inproc://{id}, events inproc://{id}/event-publisher;
//   - "inproc://NAME": events on inproc://NAME/event-publisher.
func (s *Server) Listen(ap string) (string, error) {
	switch strings.ToUpper(ap) {
	case "TCP":
		for p := 60000; p < 65535; p++ {
			if req, err := s.bindPair("tcp://*:"+itoa(p), "tcp://*:"+itoa(p+1)); err == nil {
				return req, nil
			}
		}
		return "", errors.New("rpc: no free tcp port pair in 60000..65535")
	case "IPC":
		req, ev := IPCEndpoints(s.cfg.ipcDir, s.id)
		return s.bindIPC(req, ev)
	case "INPROC":
		return s.bindPair("inproc://"+s.id, "inproc://"+s.id+"/event-publisher")
	}
	switch {
	case strings.HasPrefix(ap, "tcp://"):
		host, port, err := net.SplitHostPort(strings.TrimPrefix(ap, "tcp://"))
		if err != nil {
			return "", fmt.Errorf("rpc: %q: %w", ap, err)
		}
		if port != "0" && port != "*" {
			n, err := strconv.Atoi(port)
			if err != nil || n < 1 || n > 65534 {
				return "", fmt.Errorf("rpc: %q: bad port (the event socket needs port+1)", ap)
			}
			return s.bindPair(ap, "tcp://"+net.JoinHostPort(host, itoa(n+1)))
		}
		var last error
		for range 50 { // an ephemeral port whose successor is free
			if err := s.router.Bind("tcp://" + net.JoinHostPort(host, "0")); err != nil {
				return "", fmt.Errorf("rpc: bind %s: %w", ap, err)
			}
			req := s.router.LastEndpoint()
			ev := EventEndpoint(req)
			if last = s.pub.Bind(ev); last == nil {
				s.record(req, ev)
				return req, nil
			}
			s.router.Unbind(req)
		}
		return "", fmt.Errorf("rpc: bind %s: no port with a free successor: %w", ap, last)
	case strings.HasPrefix(ap, "ipc://"):
		return s.bindIPC(ap, EventEndpoint(ap))
	case strings.HasPrefix(ap, "inproc://"):
		return s.bindPair(ap, ap+"/event-publisher")
	}
	return "", fmt.Errorf("rpc: access point %q: want TCP, IPC, INPROC or a tcp://, ipc:// or inproc:// endpoint", ap)
}

func (s *Server) bindIPC(req, ev string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(strings.TrimPrefix(req, "ipc://")), 0o755); err != nil {
		return "", fmt.Errorf("rpc: ipc directory: %w", err)
	}
	return s.bindPair(req, ev)
}

func (s *Server) bindPair(req, ev string) (string, error) {
	if err := s.router.Bind(req); err != nil {
		return "", fmt.Errorf("rpc: bind %s: %w", req, err)
	}
	reqEP := s.router.LastEndpoint()
	if err := s.pub.Bind(ev); err != nil {
		s.router.Unbind(reqEP)
		return "", fmt.Errorf("rpc: bind events %s: %w", ev, err)
	}
	s.record(reqEP, s.pub.LastEndpoint())
	return reqEP, nil
}

func (s *Server) record(req, ev string) {
	tr := strings.ToUpper(req[:strings.Index(req, "://")])
	s.mu.Lock()
	if _, ok := s.endpoints[tr]; !ok { // the TD names the first one
		s.endpoints[tr] = [2]string{req, ev}
	}
	s.eventsFor[req] = ev
	s.mu.Unlock()
	s.log.Info("rpc: listening", "server", s.id, "requests", req, "events", ev)
}

// Endpoints returns the request and event endpoint bound for a transport
// ("TCP", "IPC" or "INPROC"), if any.
func (s *Server) Endpoints(transport string) (req, events string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.endpoints[strings.ToUpper(transport)]
	return e[0], e[1], ok
}

// EventEndpointFor returns the event endpoint bound with the request
// endpoint req (as Listen returned it).
func (s *Server) EventEndpointFor(req string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eventsFor[req]
}

// Serve answers requests until ctx is done, Close is called, or an allowed
// EXIT arrives; then it cancels the operations still running, waits for
// them to return, closes the sockets and returns nil (or the error that
// stopped the receiving).
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.serving = true
	things := make([]*Thing, 0, len(s.things))
	for _, t := range s.things {
		things = append(things, t)
	}
	s.mu.Unlock()
	defer close(s.done)
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	for _, t := range things {
		s.wg.Add(1)
		go s.worker(t)
	}
	s.wg.Add(1)
	go s.subscriptions()
	var failed error
	for {
		m, err := s.router.Recv(s.ctx)
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("rpc: receive", "err", err)
				failed = fmt.Errorf("rpc: receive: %w", err)
			}
			break
		}
		s.handle(m.Frames)
	}
	s.shutdown()
	return failed
}

// Close stops the server and waits for Serve to return (see Serve).
func (s *Server) Close() error {
	s.mu.Lock()
	serving := s.serving
	s.mu.Unlock()
	s.cancel()
	if serving {
		<-s.done
		return nil
	}
	s.shutdown()
	return nil
}

func (s *Server) shutdown() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.router.Close()
	s.pub.Close()
}

func (s *Server) send(frames ...[]byte) {
	if err := s.router.Send(s.ctx, zmq.NewMsg(frames...)); err != nil && s.ctx.Err() == nil {
		s.log.Warn("rpc: send reply", "err", err)
	}
}

func (s *Server) reply(to, messageID, typ string, payload, pre []byte, contentType string) {
	b, n1, n2 := s.replyStart(len(payload), to, messageID, typ, contentType)
	s.replyEnd(append(b, payload...), n1, n2, pre)
}

// replyStart begins a reply in one buffer, which replyEnd cuts into
// frames: the receiver's identity, the header, then the payload the caller
// appends (extra bytes of room). One allocation instead of one per frame.
func (s *Server) replyStart(extra int, to, messageID, typ, contentType string) (b []byte, n1, n2 int) {
	h := ResponseHeader{MessageType: typ, MessageID: messageID, ReceiverID: to, SenderID: s.id,
		PayloadContentType: contentType, PreencodedPayloadContentType: ContentText}
	b = make([]byte, 0, 2*len(to)+len(messageID)+len(typ)+len(s.id)+len(contentType)+len(ContentText)+130+extra)
	b = append(b, to...)
	n1 = len(b)
	b = h.AppendJSON(b)
	return b, n1, len(b)
}

// replyEnd sends [to, "", header, payload, pre] from replyStart's buffer b;
// an empty payload is "null".
func (s *Server) replyEnd(b []byte, n1, n2 int, pre []byte) {
	if len(b) == n2 {
		b = append(b, "null"...)
	}
	s.send(b[:n1:n1], nil, b[n1:n2:n2], b[n2:], pre)
}

func (s *Server) replyException(to, messageID, typ string, e *Exception) {
	if e.Traceback == nil {
		e.Traceback = []string{}
	}
	s.reply(to, messageID, typ, exceptionPayload(e), nil, ContentJSON)
}

// handle takes one message from the ROUTER: [identity, "", header, payload, pre].
func (s *Server) handle(frames [][]byte) {
	if len(frames) != MessageLength {
		var mid, sid string
		if len(frames) > 2 {
			mid, sid = peekIDs(frames[2])
		}
		if sid == "" {
			sid = string(frames[0])
		}
		s.log.Warn("rpc: wrong frame count", "frames", len(frames), "sender", sid)
		s.replyException(sid, mid, MsgInvalid, &Exception{Type: "ValueError",
			Message:   fmt.Sprintf("message length 5 does not match the number of message parts %d", len(frames)),
			Traceback: []string{"NoneType: None"}})
		return
	}
	var req Request
	if err := parseRequest(frames, &req); err != nil {
		mid, sid := peekIDs(frames[2])
		s.log.Warn("rpc: bad header", "err", err, "sender", string(frames[0]))
		if mid != "" && sid != "" {
			s.replyException(sid, mid, MsgInvalid, &Exception{Type: "ValueError", Message: err.Error(),
				Traceback: []string{"NoneType: None"}})
		}
		return
	}
	h := &req.Header
	switch h.MessageType {
	case MsgHandshake:
		s.reply(h.SenderID, h.MessageID, MsgHandshake, nil, nil, ContentJSON)
	case MsgExit:
		if s.cfg.allowExit {
			s.log.Info("rpc: EXIT from client, stopping", "sender", h.SenderID)
			s.cancel()
			return
		}
		s.replyException(h.SenderID, h.MessageID, MsgInvalid, &Exception{Type: "PermissionError",
			Message: "rpc: this server does not stop on a client's EXIT", Traceback: []string{"NoneType: None"}})
	case MsgOperation:
		s.operation(&req)
	default:
		s.replyException(h.SenderID, h.MessageID, MsgInvalid, &Exception{Type: "ValueError",
			Message: fmt.Sprintf("unknown message type %q", h.MessageType), Traceback: []string{"NoneType: None"}})
	}
}

const (
	jobQueued int32 = iota
	jobRunning
	jobDone
)

type job struct {
	t          *Thing
	h          RequestHeader
	payload    []byte
	pre        []byte
	oneway     bool
	admitted   bool          // started on arrival: the Thing was idle
	invocation time.Duration // <0: none
	execution  time.Duration
	state      atomic.Int32
	timer      *time.Timer
	ctx        jobCtx
}

func (s *Server) operation(req *Request) {
	h := &req.Header
	invalid := func(typ, format string, args ...any) {
		s.replyException(h.SenderID, h.MessageID, MsgInvalid, &Exception{Type: typ,
			Message: fmt.Sprintf(format, args...), Traceback: []string{"NoneType: None"}})
	}
	ec, err := parseExecCtx(h.ServerExecutionContext)
	if err != nil {
		invalid("ValueError", "%v", err)
		return
	}
	s.mu.Lock()
	t := s.things[h.ThingID]
	s.mu.Unlock()
	if t == nil {
		invalid("KeyError", "'%s'", h.ThingID)
		return
	}
	var declared Timeouts
	concurrent := false
	if a, ok := t.actions[h.Objekt]; ok && h.Operation == OpInvokeAction {
		declared, concurrent = a.Timeouts, a.Concurrent
	} else if p, ok := t.props[h.Objekt]; ok {
		declared = p.Timeouts
	}
	invocation := pick(ec.hasInv, ec.inv, declared.Invocation)
	execution := pick(ec.hasExe, ec.exe, declared.Execution)
	// A stored property's read or write takes no time: if nothing is queued
	// for the Thing it runs here, sparing the hand-off to the Thing's
	// worker and both timers; one at a time still holds.
	if !concurrent && invocation != 0 && t.instant(h) && t.busy.CompareAndSwap(0, 1) {
		j := job{t: t, h: *h, payload: req.Payload, pre: req.Preencoded, oneway: ec.oneway}
		j.state.Store(jobRunning)
		v, err := s.execute(s.ctx, &j)
		s.finish(&j, v, err)
		t.busy.Add(-1)
		return
	}
	j := &job{t: t, h: *h, payload: req.Payload, pre: req.Preencoded, oneway: ec.oneway,
		invocation: invocation, execution: execution}
	// Nothing queued or running for the Thing: the job starts as it
	// arrives, so its invocation timeout is met and needs no timer; the
	// worker runs it next.
	if !concurrent && invocation != 0 && t.busy.CompareAndSwap(0, 1) {
		j.admitted = true
		j.state.Store(jobRunning)
		select {
		case t.queue <- j:
		default: // cannot happen with busy 0, but never block the receive loop
			t.busy.Add(-1)
			s.replyException(h.SenderID, h.MessageID, MsgException, &Exception{Type: "BufferError",
				Message: fmt.Sprintf("rpc: thing %s has %d requests waiting", t.ID, cap(t.queue)), Traceback: []string{}})
		}
		return
	}
	if j.invocation >= 0 {
		j.timer = time.AfterFunc(j.invocation, func() {
			if j.state.CompareAndSwap(jobQueued, jobDone) {
				s.reply(j.h.SenderID, j.h.MessageID, MsgTimeout, []byte(`"invokation"`), nil, ContentJSON)
			}
		})
	}
	if concurrent {
		if t.running.Add(1) > int32(s.cfg.queueLen) { // bounded like the queue
			t.running.Add(-1)
			if j.state.CompareAndSwap(jobQueued, jobDone) {
				s.replyException(h.SenderID, h.MessageID, MsgException, &Exception{Type: "BufferError",
					Message: fmt.Sprintf("rpc: thing %s runs %d concurrent actions already", t.ID, s.cfg.queueLen), Traceback: []string{}})
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer t.running.Add(-1)
			s.start(j, nil)
		}()
		return
	}
	t.busy.Add(1)
	select {
	case t.queue <- j:
	default:
		t.busy.Add(-1)
		if j.state.CompareAndSwap(jobQueued, jobDone) {
			s.replyException(h.SenderID, h.MessageID, MsgException, &Exception{Type: "BufferError",
				Message: fmt.Sprintf("rpc: thing %s has %d requests waiting", t.ID, cap(t.queue)), Traceback: []string{}})
		}
	}
}

// pick returns the request's timeout if it gave one, else the declared
// default; -1 means no timer.
func pick(given bool, req float64, declared time.Duration) time.Duration {
	if given {
		return time.Duration(req * float64(time.Second))
	}
	if declared > 0 {
		return declared
	}
	return -1
}

// worker runs a Thing's queued requests one at a time, as hololinked's
// QueuedScheduler does. A worker whose job outlives its execution timeout
// is retired: a new worker takes over the queue at once, and the old one
// ends when the job returns.
func (s *Server) worker(t *Thing) {
	defer s.wg.Done()
	w := &workerState{t: t}
	for {
		select {
		case j := <-t.queue:
			s.start(j, w)
			t.busy.Add(-1)
			if w.retired.Load() {
				return
			}
		case <-s.ctx.Done():
			return
		}
	}
}

type workerState struct {
	t       *Thing
	retired atomic.Bool
}

// start runs j unless its invocation timeout already answered it. The
// execution timer answers TIMEOUT and cancels the operation's context; if
// the operation does not return at once, its worker is retired so the
// Thing's queue moves on (hololinked issue #13). w is nil for concurrent
// actions.
func (s *Server) start(j *job, w *workerState) {
	if !j.admitted && !j.state.CompareAndSwap(jobQueued, jobRunning) {
		return
	}
	if j.timer != nil {
		j.timer.Stop()
	}
	ctx := &j.ctx
	ctx.parent = s.ctx
	defer ctx.cancel()
	var et *time.Timer
	if j.execution >= 0 {
		et = time.AfterFunc(j.execution, func() {
			if !j.state.CompareAndSwap(jobRunning, jobDone) {
				return
			}
			// Retire the worker before cancelling: once the operation
			// sees its context end and returns, its worker must find
			// itself retired, or two workers would share the queue.
			if w != nil && s.ctx.Err() == nil {
				w.retired.Store(true)
				s.wg.Add(1)
				go s.worker(w.t)
			}
			s.reply(j.h.SenderID, j.h.MessageID, MsgTimeout, []byte(`"execution"`), nil, ContentJSON)
			ctx.cancel()
		})
	}
	v, err := s.execute(ctx, j)
	if et != nil {
		et.Stop()
	}
	if j.state.CompareAndSwap(jobRunning, jobDone) {
		s.finish(j, v, err)
	}
}

func (s *Server) finish(j *job, v any, err error) {
	if j.oneway {
		return
	}
	if err != nil {
		s.replyException(j.h.SenderID, j.h.MessageID, MsgException, toException(err, j))
		return
	}
	ct := j.t.contentType(j.h.Objekt)
	var pre []byte
	switch x := v.(type) {
	case []byte: // raw bytes go in the preencoded frame, as hololinked's
		s.reply(j.h.SenderID, j.h.MessageID, MsgReply, nil, x, ContentJSON)
		return
	case RawReply:
		v, pre = x.Value, x.Raw
	case *RawReply:
		v, pre = x.Value, x.Raw
	}
	if ct == ContentJSON || ct == "" {
		if _, raw := v.(json.RawMessage); !raw {
			// encode the value straight into the reply's buffer
			b, n1, n2 := s.replyStart(16, j.h.SenderID, j.h.MessageID, MsgReply, ContentJSON)
			if b, ok := appendValue(b, v); ok {
				s.replyEnd(b, n1, n2, pre)
				return
			}
		}
	}
	codec, cerr := CodecFor(ct)
	var payload []byte
	if cerr == nil {
		payload, cerr = codec.Marshal(v)
	}
	if cerr != nil {
		s.replyException(j.h.SenderID, j.h.MessageID, MsgException, toException(Errorf("TypeError", "%v", cerr), j))
		return
	}
	s.reply(j.h.SenderID, j.h.MessageID, MsgReply, payload, pre, codec.ContentType())
}

// RawReply is a result with raw bytes beside it, hololinked's
// (value, bytes) return: Value is encoded as the payload, Raw goes in the
// preencoded frame. (A plain []byte result is sent as raw bytes alone.)
type RawReply struct {
	Value any
	Raw   []byte
}

func (t *Thing) contentType(objekt string) string {
	if a, ok := t.actions[objekt]; ok && a.ContentType != "" {
		return a.ContentType
	}
	if p, ok := t.props[objekt]; ok && p.ContentType != "" {
		return p.ContentType
	}
	return ContentJSON
}

func toException(err error, j *job) *Exception {
	var e *Exception
	if errors.As(err, &e) {
		c := *e
		if c.Traceback == nil {
			c.Traceback = []string{fmt.Sprintf("%s raised by %s.%s (%s), served by zmqgo", c.Type, j.t.ID, j.h.Objekt, j.h.Operation)}
		}
		return &c
	}
	typ := "Exception"
	if errors.Is(err, context.DeadlineExceeded) {
		typ = "TimeoutError"
	} else if errors.Is(err, context.Canceled) {
		typ = "CancelledError"
	}
	return &Exception{Type: typ, Message: err.Error(),
		Traceback: []string{fmt.Sprintf("Go error in %s.%s (%s): %v", j.t.ID, j.h.Objekt, j.h.Operation, err)}}
}

// execute does the operation; a panic becomes an Exception.
func (s *Server) execute(ctx context.Context, j *job) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("rpc: panic in operation", "thing", j.t.ID, "objekt", j.h.Objekt, "panic", r, "stack", string(debug.Stack()))
			v, err = nil, Errorf("RuntimeError", "panic in %s.%s: %v", j.t.ID, j.h.Objekt, r)
		}
	}()
	t, h := j.t, &j.h
	decode := func() (any, error) { return decodePayload(h.PayloadContentType, j.payload) }
	switch h.Operation {
	case OpReadProperty:
		v, _, err := t.readProperty(ctx, h.Objekt)
		return v, err
	case OpWriteProperty:
		if _, ok := t.props[h.Objekt]; !ok {
			return nil, Errorf("KeyError", "'%s'", h.Objekt)
		}
		var x any = append([]byte(nil), j.pre...)
		if len(j.pre) == 0 {
			if x, err = decode(); err != nil {
				return nil, err
			}
		}
		return nil, t.writeProperty(ctx, h.Objekt, x)
	case OpDeleteProperty:
		p, ok := t.props[h.Objekt]
		if !ok {
			return nil, Errorf("KeyError", "'%s'", h.Objekt)
		}
		if p.Delete == nil {
			return nil, Errorf("NotImplementedError", "property %s of thing %s cannot be deleted", h.Objekt, t.ID)
		}
		return nil, p.Delete(ctx)
	case OpInvokeAction:
		x, err := decode()
		if err != nil {
			return nil, err
		}
		args, err := parseArgs(x, j.pre)
		if err != nil {
			return nil, err
		}
		if builtinAction(h.Objekt) {
			return s.builtin(ctx, t, h.Objekt, args)
		}
		a, ok := t.actions[h.Objekt]
		if !ok {
			return nil, Errorf("KeyError", "'%s'", h.Objekt)
		}
		args.params = a.Params
		return a.Func(ctx, args)
	case OpReadMultipleProperties, OpReadAllProperties:
		names := t.order.props
		if h.Operation == OpReadMultipleProperties && h.Objekt != "" {
			// hololinked passes objekt to properties.get(names=...):
			// comma-separated names
			names = nil
			for _, n := range strings.Split(h.Objekt, ",") {
				names = append(names, strings.TrimSpace(n))
			}
		} else if h.Operation == OpReadMultipleProperties {
			x, err := decode()
			if err != nil {
				return nil, err
			}
			if m, ok := x.(map[string]any); ok { // {"names": [...]}
				x = m["names"]
			}
			if list, ok := x.([]any); ok {
				names = names[:0:0]
				for _, n := range list {
					str, ok := n.(string)
					if !ok {
						return nil, Errorf("TypeError", "property names must be strings, not %s", pyType(n))
					}
					names = append(names, str)
				}
			} else if x != nil {
				return nil, Errorf("TypeError", "readmultipleproperties wants a list of names, not %s", pyType(x))
			}
		}
		out := make(map[string]any, len(names))
		for _, n := range names {
			v, _, err := t.readProperty(ctx, n)
			if err != nil {
				return nil, err
			}
			out[n] = v
		}
		return out, nil
	case OpWriteMultiple, OpWriteAllProperties:
		x, err := decode()
		if err != nil {
			return nil, err
		}
		m, ok := x.(map[string]any)
		if !ok {
			return nil, Errorf("TypeError", "%s wants an object of values, not %s", h.Operation, pyType(x))
		}
		for n := range m { // check every name before writing any
			if _, ok := t.props[n]; !ok {
				return nil, Errorf("KeyError", "'%s'", n)
			}
		}
		for n, v := range m {
			if err := t.writeProperty(ctx, n, v); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	return nil, Errorf("NotImplementedError", "Unimplemented execution path for Thing %s for operation %s", t.ID, h.Operation)
}

// decodePayload decodes a request's payload into the values encoding/json
// gives an interface.
func decodePayload(contentType string, payload []byte) (any, error) {
	if contentType == ContentJSON && len(payload) > 0 && json.Valid(payload) {
		if x, ok := parseValue(payload); ok {
			return x, nil
		}
	}
	return decodeSlow(contentType, payload)
}

func decodeSlow(contentType string, payload []byte) (any, error) {
	var x any
	c, err := CodecFor(contentType)
	if err != nil {
		return nil, Errorf("ValueError", "%v", err)
	}
	if err := c.Unmarshal(payload, &x); err != nil {
		return nil, Errorf("ValueError", "%v", err)
	}
	return x, nil
}

func parseArgs(x any, pre []byte) (Args, error) {
	var a Args
	switch m := x.(type) {
	case nil:
	case map[string]any:
		if pa, ok := m["__args__"]; ok {
			list, ok := pa.([]any)
			if !ok && pa != nil {
				return a, Errorf("TypeError", "__args__ must be a list, not %s", pyType(pa))
			}
			a.Positional = list
			delete(m, "__args__")
		}
		a.Keyword = m
	default:
		return a, Errorf("TypeError", "action arguments must be an object, not %s", pyType(x))
	}
	if len(pre) > 0 {
		a.Positional = append([]any{append([]byte(nil), pre...)}, a.Positional...)
	}
	return a, nil
}

func builtinAction(name string) bool {
	switch name {
	case "get_thing_description", "get_thing_model", "ping", "_get_properties", "_set_properties":
		return true
	}
	return false
}

func (s *Server) builtin(ctx context.Context, t *Thing, name string, a Args) (any, error) {
	a.params = []string{"protocol", "ignore_errors", "skip_names"}
	switch name {
	case "ping":
		return nil, nil
	case "_get_properties":
		return t.getProperties(ctx, a.Keyword)
	case "_set_properties":
		return nil, t.setProperties(ctx, a.Keyword)
	case "get_thing_model":
		a.params = []string{"ignore_errors", "skip_names"}
		return t.description(nil, skipNames(a)), nil
	}
	proto, _ := a.Get("protocol")
	p, _ := proto.(string)
	if p == "" {
		p = "IPC"
	}
	req, ev, ok := s.Endpoints(p)
	if !ok {
		return nil, Errorf("ValueError", "Unsupported protocol '%s' for ZMQ: server %s does not listen on it", p, s.id)
	}
	host, _ := os.Hostname()
	fix := func(ep string) string {
		if host == "" {
			return ep
		}
		return strings.Replace(strings.Replace(ep, "*", host, 1), "0.0.0.0", host, 1)
	}
	return t.description(&[2]string{fix(req), fix(ev)}, skipNames(a)), nil
}

func skipNames(a Args) map[string]bool {
	v, _ := a.Get("skip_names")
	list, _ := v.([]any)
	m := map[string]bool{}
	for _, n := range list {
		if s, ok := n.(string); ok {
			m[s] = true
		}
	}
	return m
}

// getProperties is hololinked's _get_properties action, which its client
// uses to read several properties: no arguments reads all, names=[...] (or
// "a,b") the named ones, {name: newName, ...} the named ones renamed.
func (t *Thing) getProperties(ctx context.Context, kw map[string]any) (map[string]any, error) {
	rename := map[string]string{}
	switch names, ok := kw["names"]; {
	case len(kw) == 0:
		for _, n := range t.order.props {
			rename[n] = n
		}
	case ok:
		var list []string
		switch x := names.(type) {
		case string:
			for _, n := range strings.Split(x, ",") {
				list = append(list, strings.TrimSpace(n))
			}
		case []any:
			for _, n := range x {
				s, ok := n.(string)
				if !ok {
					return nil, Errorf("TypeError", "property names must be strings, not %s", pyType(n))
				}
				list = append(list, s)
			}
		default:
			return nil, Errorf("TypeError", "Specify properties to be fetched as a list, tuple or comma separated names. Given type %s", pyType(names))
		}
		for _, n := range list {
			rename[n] = n
		}
	default:
		for n, to := range kw {
			s, ok := to.(string)
			if !ok {
				return nil, Errorf("TypeError", "the new name of property %s must be a string, not %s", n, pyType(to))
			}
			rename[n] = s
		}
	}
	out := make(map[string]any, len(rename))
	for n, to := range rename {
		if _, ok := t.props[n]; !ok {
			return nil, Errorf("AttributeError", "property %s does not exist", n)
		}
		v, _, err := t.readProperty(ctx, n)
		if err != nil {
			return nil, err
		}
		out[to] = v
	}
	return out, nil
}

// setProperties is hololinked's _set_properties action: {name: value, ...}.
// Every name is checked before any is written.
func (t *Thing) setProperties(ctx context.Context, values map[string]any) error {
	for n := range values {
		if _, ok := t.props[n]; !ok {
			return Errorf("AttributeError", "property %s does not exist", n)
		}
	}
	for n, v := range values {
		if err := t.writeProperty(ctx, n, v); err != nil {
			return err
		}
	}
	return nil
}

// description returns the Thing Model (hrefs nil) or Description.
func (t *Thing) description(hrefs *[2]string, skip map[string]bool) map[string]any {
	td := map[string]any{
		"@context": []any{"https://www.w3.org/2022/wot/td/v1.1"},
		"id":       t.ID,
		"title":    cmpOr(t.Title, t.ID),
	}
	if t.Description != "" {
		td["description"] = t.Description
	}
	form := func(op, ct, href string) map[string]any {
		return map[string]any{"href": href, "op": op, "contentType": cmpOr(ct, ContentJSON)}
	}
	props := map[string]any{}
	for _, n := range t.order.props {
		if skip[n] {
			continue
		}
		p := t.props[n]
		d := map[string]any{}
		if p.Description != "" {
			d["description"] = p.Description
		}
		if p.Type != "" {
			d["type"] = p.Type
		}
		if p.Default != nil {
			d["default"] = p.Default
		}
		if p.ReadOnly {
			d["readOnly"] = true
		}
		if hrefs != nil {
			forms := []any{form(OpReadProperty, p.ContentType, hrefs[0])}
			if !p.ReadOnly {
				forms = append(forms, form(OpWriteProperty, p.ContentType, hrefs[0]))
			}
			d["forms"] = forms
		}
		props[n] = d
	}
	actions := map[string]any{}
	addAction := func(n, desc string, in, out map[string]any, ct string) {
		if skip[n] {
			return
		}
		d := map[string]any{"synchronous": true}
		if desc != "" {
			d["description"] = desc
		}
		if in != nil {
			d["input"] = in
		}
		if out != nil {
			d["output"] = out
		}
		if hrefs != nil {
			d["forms"] = []any{form(OpInvokeAction, ct, hrefs[0])}
		}
		actions[n] = d
	}
	for _, n := range t.order.actions {
		a := t.actions[n]
		addAction(n, a.Description, a.Input, a.Output, a.ContentType)
	}
	addAction("get_thing_model", "generate the Thing Model of the object", nil, nil, "")
	addAction("ping", "ping to see if it is alive", nil, nil, "")
	events := map[string]any{}
	for _, n := range t.order.events {
		if skip[n] {
			continue
		}
		e := t.events[n]
		d := map[string]any{}
		if e.Description != "" {
			d["description"] = e.Description
		}
		if e.Data != nil {
			d["data"] = e.Data
		}
		if hrefs != nil {
			d["forms"] = []any{form("subscribeevent", "", hrefs[1])}
		}
		events[n] = d
	}
	td["properties"], td["actions"], td["events"] = props, actions, events
	return td
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// publish sends an event and keeps it as the topic's last value.
// The topic, header and JSON payload share one buffer.
func (s *Server) publish(topic string, value any) error {
	h := EventHeader{MessageType: MsgEvent, MessageID: s.ids.next(), SenderID: s.pubID,
		EventID: topic, PayloadContentType: ContentJSON, PreencodedPayloadContentType: ContentText}
	b := make([]byte, 0, 2*len(topic)+len(h.MessageID)+len(h.SenderID)+len(ContentJSON)+len(ContentText)+len(MsgEvent)+200)
	b = append(b, topic...)
	n1 := len(b)
	b = h.AppendJSON(b)
	n2 := len(b)
	if _, raw := value.(json.RawMessage); raw {
		b = append(b, value.(json.RawMessage)...)
	} else if b2, ok := appendValue(b, value); ok {
		b = b2
	} else {
		payload, err := JSON.Marshal(value)
		if err != nil {
			return err
		}
		b = append(b[:n2], payload...)
	}
	frames := [][]byte{b[:n1:n1], nil, b[n1:n2:n2], b[n2:], nil}
	s.lvMu.Lock()
	defer s.lvMu.Unlock()
	if !s.cfg.noLVC {
		s.last[topic] = frames
	}
	if err := s.pub.Send(s.ctx, zmq.NewMsg(frames...)); err != nil {
		if s.ctx.Err() != nil {
			return ErrClosed
		}
		return fmt.Errorf("rpc: publish %s: %w", topic, err)
	}
	return nil
}

// subscriptions reads the XPUB's subscription messages and answers each
// with the last value of every event it matches (the last-value cache;
// hololinked issues #46 and #82).
func (s *Server) subscriptions() {
	defer s.wg.Done()
	for {
		m, err := s.pub.Recv(s.ctx)
		if err != nil {
			return
		}
		if len(m.Frames) == 0 || len(m.Frames[0]) == 0 || m.Frames[0][0] != 1 || s.cfg.noLVC {
			continue
		}
		prefix := string(m.Frames[0][1:])
		s.lvMu.Lock()
		for topic, frames := range s.last {
			if strings.HasPrefix(topic, prefix) {
				if err := s.pub.Send(s.ctx, zmq.NewMsg(frames...)); err != nil {
					break
				}
			}
		}
		s.lvMu.Unlock()
	}
}

// jobCtx is an operation's context: its parent's, ended early by cancel
// (the execution timeout, or the operation's return). It lives inside the
// job, so an operation that never asks for Done costs no allocation and no
// registration with the parent; Done makes the channel and watches the
// parent only when called.
type jobCtx struct {
	parent context.Context
	mu     sync.Mutex
	done   chan struct{}
	err    error
	stop   func() bool // stops watching the parent
}

func (c *jobCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *jobCtx) Value(key any) any           { return c.parent.Value(key) }

func (c *jobCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		} else if err := c.parent.Err(); err != nil {
			c.err = err
			close(c.done)
		} else {
			c.stop = context.AfterFunc(c.parent, c.cancelParent)
		}
	}
	return c.done
}

func (c *jobCtx) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := c.parent.Err(); err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
			if c.done != nil {
				close(c.done)
			}
		}
		err = c.err
		c.mu.Unlock()
	}
	return err
}

func (c *jobCtx) cancel()       { c.end(context.Canceled) }
func (c *jobCtx) cancelParent() { c.end(c.parent.Err()) }

func (c *jobCtx) end(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		if c.done != nil {
			close(c.done)
		}
	}
	stop := c.stop
	c.stop = nil
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (c *jobCtx) String() string { return "rpc.operationContext" }
