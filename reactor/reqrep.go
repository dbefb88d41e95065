package reactor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/zmqgo/zmq"
)

// ReqConnection sends requests and matches replies to them, many at once
// (txZMQ's ZmqREQConnection). Like txZMQ's it is a DEALER underneath: each
// request goes out as [id, "", parts...] with a fresh 16-byte random id
// (a version-4 UUID), and a reply [id, "", parts...] completes the request
// with that id. A reply to a request that timed out or was cancelled, or
// to no request at all, is dropped.
type ReqConnection struct {
	*Connection
	defaultTimeout time.Duration

	mu      sync.Mutex
	pending map[string]*Future
	closed  bool
}

// NewReqConnection makes a request connection. WithRequestTimeout sets the
// timeout of requests whose context has no deadline.
func NewReqConnection(f *Factory, opts ...Option) (*ReqConnection, error) {
	c, err := newConnection(f, "ReqConnection", zmq.Dealer, opts)
	if err != nil {
		return nil, err
	}
	r := &ReqConnection{Connection: c, defaultTimeout: c.cfg.requestTimeout, pending: make(map[string]*Future)}
	c.direct = r.messageReceived
	c.onClose = r.closeAll
	if err := c.start(); err != nil {
		return nil, err
	}
	return r, nil
}

// SendMsg sends a request of one or more frames and returns its future,
// which the reply completes. The request times out, failing the future with
// ErrRequestTimeout, at ctx's deadline, or if ctx has none after the
// connection's default timeout (none by default); it is cancelled, failing
// with ErrCanceled, if ctx is cancelled. A request that cannot be sent
// (ErrQueueFull, ErrClosed) returns an already failed future. The frames
// must not be modified after the call.
func (r *ReqConnection) SendMsg(ctx context.Context, parts ...[]byte) *Future {
	id := newRequestID()
	fu := &Future{id: id, req: r, done: make(chan struct{})}
	if err := ctx.Err(); err != nil {
		fu.complete(nil, ctxError(id, err))
		return fu
	}
	key := string(id)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		fu.complete(nil, ErrClosed)
		return fu
	}
	r.pending[key] = fu
	r.mu.Unlock()

	// Timers are armed before the request leaves, so a reply cannot beat
	// them; they only ever act on a request still pending.
	var stops []func() bool
	if ctx.Done() != nil {
		stops = append(stops, context.AfterFunc(ctx, func() { r.expire(key, ctxError(id, ctx.Err())) }))
	}
	if _, has := ctx.Deadline(); !has && r.defaultTimeout > 0 {
		stops = append(stops, time.AfterFunc(r.defaultTimeout, func() { r.expire(key, timeoutError(id)) }).Stop)
	}
	fu.setStops(stops)

	frames := make([][]byte, 0, 2+len(parts))
	frames = append(append(frames, id, []byte{}), parts...)
	if err := r.send(zmq.Msg{Frames: frames}); err != nil {
		r.expire(key, err)
	}
	return fu
}

func ctxError(id []byte, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return timeoutError(id)
	}
	return canceledError(id)
}

// newRequestID returns a random version-4 UUID, as txZMQ's uuid4().bytes.
func newRequestID() []byte {
	id := make([]byte, 16)
	rand.Read(id)
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// expire fails a request that is still pending.
func (r *ReqConnection) expire(key string, err error) bool {
	r.mu.Lock()
	fu, ok := r.pending[key]
	delete(r.pending, key)
	r.mu.Unlock()
	if ok {
		fu.complete(nil, err)
	}
	return ok
}

// messageReceived runs on the receiving goroutine: it completes the future,
// whose callbacks then run on the loop.
func (r *ReqConnection) messageReceived(m zmq.Msg) {
	if len(m.Frames) < 2 || len(m.Frames[1]) != 0 {
		r.f.logger.Debug("reactor: ReqConnection dropped a reply without [id, \"\"] envelope", "frames", len(m.Frames))
		return
	}
	key := string(m.Frames[0])
	r.mu.Lock()
	fu, ok := r.pending[key]
	delete(r.pending, key)
	r.mu.Unlock()
	if !ok {
		r.f.logger.Debug("reactor: ReqConnection dropped a late or unknown reply", "id", hex.EncodeToString(m.Frames[0]))
		return
	}
	fu.complete(m.Frames[2:], nil)
}

// Pending returns how many requests await their reply.
func (r *ReqConnection) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

func (r *ReqConnection) closeAll() {
	r.mu.Lock()
	r.closed = true
	pending := r.pending
	r.pending = make(map[string]*Future)
	r.mu.Unlock()
	for _, fu := range pending {
		fu.complete(nil, ErrClosed)
	}
}

// Future is the result of a request to come (Twisted's Deferred, as
// txZMQ's sendMsg returns it). It completes once, with the reply's frames
// or an error: ErrRequestTimeout, ErrCanceled, ErrQueueFull, ErrClosed.
type Future struct {
	id  []byte
	req *ReqConnection

	mu        sync.Mutex
	done      chan struct{}
	finished  bool
	reply     [][]byte
	err       error
	stops     []func() bool
	callbacks []func([][]byte, error)
}

// ID returns the request's id on the wire.
func (fu *Future) ID() []byte { return fu.id }

// Done returns a channel closed when the future completes.
func (fu *Future) Done() <-chan struct{} { return fu.done }

// Wait waits for the future to complete and returns the reply's frames or
// the request's error. If ctx is done first it returns ctx's error and the
// request goes on (Cancel it to give it up). It may be called from a
// handler, but then holds up the loop while it waits.
func (fu *Future) Wait(ctx context.Context) ([][]byte, error) {
	select {
	case <-fu.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	fu.mu.Lock()
	defer fu.mu.Unlock()
	return fu.reply, fu.err
}

// Then registers cb to run on the factory's loop with the result once the
// future completes (at once, if it has). Callbacks run in the order they
// were registered; none runs after the factory has shut down.
func (fu *Future) Then(cb func(reply [][]byte, err error)) {
	fu.mu.Lock()
	if !fu.finished {
		fu.callbacks = append(fu.callbacks, cb)
		fu.mu.Unlock()
		return
	}
	reply, err := fu.reply, fu.err
	fu.mu.Unlock()
	fu.req.f.post(func() { cb(reply, err) })
}

// Cancel gives the request up: the future fails with ErrCanceled and its
// reply, if it comes, is dropped. It reports whether the request was still
// pending.
func (fu *Future) Cancel() bool {
	return fu.req.expire(string(fu.id), canceledError(fu.id))
}

func (fu *Future) setStops(stops []func() bool) {
	fu.mu.Lock()
	if fu.finished {
		fu.mu.Unlock()
		for _, stop := range stops {
			stop()
		}
		return
	}
	fu.stops = stops
	fu.mu.Unlock()
}

func (fu *Future) complete(reply [][]byte, err error) {
	fu.mu.Lock()
	if fu.finished {
		fu.mu.Unlock()
		return
	}
	fu.finished = true
	fu.reply, fu.err = reply, err
	stops, cbs := fu.stops, fu.callbacks
	fu.stops, fu.callbacks = nil, nil
	close(fu.done)
	fu.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	if len(cbs) > 0 && fu.req != nil {
		fu.req.f.post(func() {
			for _, cb := range cbs {
				fu.req.f.run(func() { cb(reply, err) })
			}
		})
	}
}

// RepConnection answers requests (txZMQ's ZmqREPConnection). Like txZMQ's
// it is a ROUTER underneath: a request [routing..., id, "", parts...] goes to
// the handler as (id, parts), and Reply(id, ...) sends [routing..., id, "",
// parts...] back the way it came. Requests may be answered in any order,
// from any goroutine. It also serves plain ZeroMQ REQ sockets: their
// requests have no id frame, so the handler's id is the peer's routing id.
type RepConnection struct {
	*Connection
	handler func(id []byte, parts [][]byte)

	mu     sync.Mutex
	routes map[string][][]byte
}

// NewRepConnection makes a reply connection whose handler gets each
// request's id and frames on the factory's loop (txZMQ's gotMessage).
func NewRepConnection(f *Factory, handler func(id []byte, parts [][]byte), opts ...Option) (*RepConnection, error) {
	c, err := newConnection(f, "RepConnection", zmq.Router, opts, zmq.WithRouterMandatory(true))
	if err != nil {
		return nil, err
	}
	r := &RepConnection{Connection: c, handler: handler, routes: make(map[string][][]byte)}
	c.onMsg = r.messageReceived
	if err := c.start(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RepConnection) messageReceived(m zmq.Msg) {
	i := slices.IndexFunc(m.Frames, func(b []byte) bool { return len(b) == 0 })
	if i < 1 {
		r.f.logger.Debug("reactor: RepConnection dropped a request without an envelope delimiter", "frames", len(m.Frames))
		return
	}
	routing, id, parts := m.Frames[:i-1], m.Frames[i-1], m.Frames[i+1:]
	r.mu.Lock()
	r.routes[string(id)] = routing
	r.mu.Unlock()
	if r.handler != nil {
		r.handler(id, parts)
	}
}

// Reply answers the request with that id. It fails with ErrUnknownRequest
// if no such request is outstanding, and with an error matching
// zmq.ErrHostUnreachable if the requester has gone away.
func (r *RepConnection) Reply(id []byte, parts ...[]byte) error {
	r.mu.Lock()
	routing, ok := r.routes[string(id)]
	delete(r.routes, string(id))
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %x", ErrUnknownRequest, id)
	}
	frames := make([][]byte, 0, len(routing)+2+len(parts))
	frames = append(append(append(frames, routing...), id, []byte{}), parts...)
	return r.send(zmq.Msg{Frames: frames})
}
