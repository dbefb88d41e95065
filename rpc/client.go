package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/zmqgo/zmq"
)

// Client calls a hololinked (or zmqgo) RPC server. It is safe for concurrent
// use: many requests may be in flight from many goroutines, and replies are
// matched to them by messageID.
type Client struct {
	id, serverID, addr string
	cfg                config
	log                *slog.Logger
	sock               *zmq.Socket

	// reader is the right to receive: whoever waits for a reply takes it
	// and reads for everyone until its own reply arrives, so a lone caller
	// gets its reply without a hand-off between goroutines.
	reader chan struct{}
	done   chan struct{} // closed by Close

	ids     *idGen
	sec     []byte // the default serverExecutionContext, encoded once
	mu      sync.Mutex
	pending map[string]chan *Response
	closed  bool
}

// Dial connects to the server with id serverID at addr (tcp://, ipc:// or
// inproc://) and completes hololinked's handshake: HANDSHAKE is sent every
// 500 ms until answered (a ROUTER drops the first try to a peer it is not
// yet connected to). ctx bounds the handshake; without a deadline
// WithHandshakeTimeout does (60 s).
func Dial(ctx context.Context, addr, serverID string, opts ...Option) (*Client, error) {
	cfg := newConfig(opts)
	c := &Client{serverID: serverID, addr: addr, cfg: cfg, log: cfg.logger, pending: map[string]chan *Response{}, ids: newIDGen()}
	c.sec = EncodeExecContext(cfg.invokation, cfg.execution, false)
	c.id = cfg.clientID
	if c.id == "" {
		c.id = serverID + "|zmqgo|" + shortID()
	}
	var err error
	c.sock, err = zmq.NewSocket(zmq.Router, append(cfg.sockOpts[:len(cfg.sockOpts):len(cfg.sockOpts)],
		zmq.WithRoutingID([]byte(c.id)), zmq.WithLogger(cfg.logger))...)
	if err != nil {
		return nil, fmt.Errorf("rpc: client socket: %w", err)
	}
	if err := c.sock.Connect(addr); err != nil {
		c.sock.Close()
		return nil, fmt.Errorf("rpc: connect %s: %w", addr, err)
	}
	c.reader = make(chan struct{}, 1)
	c.reader <- struct{}{}
	c.done = make(chan struct{})
	if _, ok := ctx.Deadline(); !ok && cfg.handshakeTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.handshakeTime)
		defer cancel()
	}
	if err := c.handshake(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ID returns the client id (socket identity and senderID).
func (c *Client) ID() string { return c.id }

// Close stops the client; calls in flight return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.done)
	err := c.sock.Close()
	c.mu.Lock() // wake every waiter
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	return err
}

func (c *Client) handshake(ctx context.Context) error {
	for {
		h := RequestHeader{MessageType: MsgHandshake, MessageID: newUUID(), SenderID: c.id, ReceiverID: c.serverID,
			ServerExecutionContext: handshakeServerCtx, ThingExecutionContext: rawJSON(`{"fetchExecutionLogs":false}`),
			PayloadContentType: ContentJSON, PreencodedPayloadContentType: ContentText}
		ch, err := c.register(h.MessageID)
		if err != nil {
			return err
		}
		r := &Request{Header: h}
		if err := c.sock.Send(ctx, zmq.NewMsg(r.Frames([]byte(c.serverID))...)); err != nil {
			c.unregister(h.MessageID)
			return c.ctxErr(ctx, err)
		}
		tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		resp, err := c.await(tctx, ch)
		cancel()
		switch {
		case resp != nil:
			if resp.Header.MessageType != MsgHandshake {
				return fmt.Errorf("%w: %s to HANDSHAKE", ErrUnexpectedReply, resp.Header.MessageType)
			}
			return nil
		case err == ErrClosed:
			return err
		case ctx.Err() != nil:
			c.unregister(h.MessageID)
			return fmt.Errorf("%w %q at %s: %w", ErrHandshake, c.serverID, c.addr, ctx.Err())
		}
		c.unregister(h.MessageID)
	}
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// replyChans recycles the one-reply channels of requests whose reply was
// received (and so drained, and known to no one else).
var replyChans = sync.Pool{New: func() any { return make(chan *Response, 1) }}

func (c *Client) register(id string) (chan *Response, error) {
	ch := replyChans.Get().(chan *Response)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		replyChans.Put(ch)
		return nil, ErrClosed
	}
	c.pending[id] = ch
	return ch, nil
}

func (c *Client) unregister(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// await waits for the reply on ch, reading the socket for every caller
// while it holds the reader token. It returns (nil, ctx error) if ctx ends
// first and (nil, ErrClosed) if the client is closed.
func (c *Client) await(ctx context.Context, ch chan *Response) (*Response, error) {
	for {
		select {
		case resp, ok := <-ch:
			if !ok {
				return nil, ErrClosed
			}
			return resp, nil
		case <-c.reader:
			resp, err := c.readUntil(ctx, ch)
			c.reader <- struct{}{}
			if resp != nil || err != nil {
				return resp, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
			return nil, ErrClosed
		}
	}
}

// readUntil receives and hands out replies until ch has one.
func (c *Client) readUntil(ctx context.Context, ch chan *Response) (*Response, error) {
	for {
		select {
		case resp, ok := <-ch:
			if !ok {
				return nil, ErrClosed
			}
			return resp, nil
		default:
		}
		m, err := c.sock.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, ErrClosed
		}
		resp, err := ParseResponse(m.Frames)
		if err != nil {
			c.log.Warn("rpc: bad reply dropped", "err", err)
			continue
		}
		c.mu.Lock()
		dst := c.pending[resp.Header.MessageID]
		delete(c.pending, resp.Header.MessageID)
		c.mu.Unlock()
		if dst == nil {
			c.log.Debug("rpc: reply for no pending request", "type", resp.Header.MessageType, "id", resp.Header.MessageID)
			continue
		}
		dst <- resp // buffered: one reply per id
	}
}

// CallOption changes one request.
type CallOption func(*callConfig)

type callConfig struct {
	invokation, execution float64
	oneway                bool
	contentType           string
	preencoded            []byte
}

// Oneway asks the server not to reply (TIMEOUTs still come, and are
// dropped); the call returns once the request is sent.
func Oneway() CallOption { return func(c *callConfig) { c.oneway = true } }

// CallTimeouts overrides the client's invocation and execution timeouts
// (WithTimeouts) for one request.
func CallTimeouts(invocation, execution time.Duration) CallOption {
	return func(c *callConfig) { c.invokation, c.execution = secs(invocation), secs(execution) }
}

// ContentType encodes the request payload with another codec
// (application/msgpack, text/plain).
func ContentType(ct string) CallOption { return func(c *callConfig) { c.contentType = ct } }

// Preencoded sends raw bytes in the preencoded frame (a writeproperty value,
// or an action's first positional argument).
func Preencoded(b []byte) CallOption { return func(c *callConfig) { c.preencoded = b } }

// Future is a request in flight (Client.Go).
type Future struct {
	ch     chan *Response
	c      *Client
	id     string
	err    error
	resp   *Response
	done   bool
	oneway bool
}

// Go sends a request without waiting: thingID.objekt.operation with payload
// (encoded with the call's codec; nil is "null").
func (c *Client) Go(ctx context.Context, thingID, objekt, operation string, payload any, opts ...CallOption) *Future {
	f := new(Future)
	c.send(ctx, f, thingID, objekt, operation, payload, opts)
	return f
}

// applyCallOptions is apart so that cc escapes (to the options) only
// when there are options.
//
//go:noinline
func applyCallOptions(cc callConfig, opts []CallOption) callConfig {
	p := &cc
	for _, o := range opts {
		o(p)
	}
	return *p
}

// send is Go into f (Do and the typed calls keep f on their stack).
func (c *Client) send(ctx context.Context, f *Future, thingID, objekt, operation string, payload any, opts []CallOption) {
	cc := callConfig{invokation: c.cfg.invokation, execution: c.cfg.execution, contentType: ContentJSON}
	if len(opts) > 0 {
		cc = applyCallOptions(cc, opts)
	}
	f.c, f.oneway = c, cc.oneway
	codec, err := CodecFor(cc.contentType)
	if err != nil {
		f.err, f.done = err, true
		return
	}
	sec := c.sec
	if cc.oneway || cc.invokation != c.cfg.invokation || cc.execution != c.cfg.execution {
		sec = EncodeExecContext(cc.invokation, cc.execution, cc.oneway)
	}
	h := RequestHeader{MessageType: MsgOperation, MessageID: c.ids.next(), SenderID: c.id, ReceiverID: c.serverID,
		ServerExecutionContext: sec, ThingExecutionContext: defaultThingCtx,
		ThingID: thingID, Objekt: objekt, Operation: operation,
		PayloadContentType: codec.ContentType(), PreencodedPayloadContentType: ContentText}
	// One buffer for the server id, the header and the payload, cut into
	// frames below: the same bytes as Request.Frames, one allocation.
	b := make([]byte, 0, 2*len(c.serverID)+len(h.MessageID)+len(c.id)+len(sec)+len(defaultThingCtx)+
		len(thingID)+len(objekt)+len(operation)+len(h.PayloadContentType)+len(ContentText)+220)
	b = append(b, c.serverID...)
	n1 := len(b)
	b = h.AppendJSON(b)
	n2 := len(b)
	fast := false
	if _, raw := payload.(json.RawMessage); codec == JSON && !raw {
		b, fast = appendValue(b, payload)
		if !fast {
			b = b[:n2]
		}
	}
	if !fast {
		body, err := codec.Marshal(payload)
		if err != nil {
			f.err, f.done = err, true
			return
		}
		b = append(b, body...)
	}
	if len(b) == n2 {
		b = append(b, "null"...)
	}
	f.id = h.MessageID
	if !cc.oneway {
		if f.ch, err = c.register(h.MessageID); err != nil {
			f.err, f.done = err, true
			return
		}
	}
	if err := c.sock.Send(ctx, zmq.Msg{Frames: [][]byte{b[:n1:n1], nil, b[n1:n2:n2], b[n2:], cc.preencoded}}); err != nil {
		c.unregister(h.MessageID)
		f.err, f.done = c.ctxErr(ctx, err), true
	}
}

// Wait waits for the reply. A REPLY is returned; EXCEPTION and
// INVALID_MESSAGE are *Exception errors, TIMEOUT a *TimeoutError. If ctx
// ends first, the request is forgotten (a late reply is dropped). A oneway
// request returns (nil, nil) at once.
func (f *Future) Wait(ctx context.Context) (*Response, error) {
	if f.done || f.oneway {
		return f.resp, f.err
	}
	resp, err := f.c.await(ctx, f.ch)
	if resp == nil {
		f.c.unregister(f.id) // a late reply is dropped
		f.done, f.err = true, err
		return nil, err
	}
	replyChans.Put(f.ch) // drained, and out of pending: no one else sends on it
	f.ch = nil
	f.done = true
	f.resp, f.err = resp, resp.err()
	return f.resp, f.err
}

// Result waits and decodes the reply's value into out (a pointer, or nil).
func (f *Future) Result(ctx context.Context, out any) error {
	resp, err := f.Wait(ctx)
	if err != nil || resp == nil || out == nil {
		return err
	}
	return resp.Decode(out)
}

func (r *Response) err() error {
	switch r.Header.MessageType {
	case MsgReply:
		return nil
	case MsgTimeout:
		var kind string
		if JSON.Unmarshal(r.Payload, &kind) != nil {
			kind = string(r.Payload)
		}
		return &TimeoutError{Kind: kind}
	case MsgException, MsgInvalid:
		e, err := ParseException(r.Payload, r.Header.PayloadContentType)
		if err != nil {
			return err
		}
		e.Invalid = r.Header.MessageType == MsgInvalid
		return e
	}
	return fmt.Errorf("%w: %s", ErrUnexpectedReply, r.Header.MessageType)
}

// Decode decodes the reply's value into out. A reply whose value is in the
// preencoded frame (raw bytes) decodes into *[]byte or *any as the bytes.
func (r *Response) Decode(out any) error {
	if len(r.Preencoded) > 0 && (len(r.Payload) == 0 || string(r.Payload) == "null") {
		switch p := out.(type) {
		case *[]byte:
			*p = r.Preencoded
			return nil
		case *any:
			*p = r.Preencoded
			return nil
		}
	}
	c, err := CodecFor(r.Header.PayloadContentType)
	if err != nil {
		return err
	}
	return c.Unmarshal(r.Payload, out)
}

// Do sends a request and waits for its reply.
func (c *Client) Do(ctx context.Context, thingID, objekt, operation string, payload any, opts ...CallOption) (*Response, error) {
	var f Future
	c.send(ctx, &f, thingID, objekt, operation, payload, opts)
	return f.Wait(ctx)
}

// ReadProperty reads a property into out.
func (c *Client) ReadProperty(ctx context.Context, thingID, name string, out any, opts ...CallOption) error {
	var f Future
	c.send(ctx, &f, thingID, name, OpReadProperty, nil, opts)
	return f.Result(ctx, out)
}

// WriteProperty writes a property.
func (c *Client) WriteProperty(ctx context.Context, thingID, name string, value any, opts ...CallOption) error {
	_, err := c.Do(ctx, thingID, name, OpWriteProperty, value, opts...)
	return err
}

// ReadMultipleProperties reads the named properties (all if names is nil),
// as hololinked's client does: through the _get_properties action every
// hololinked Thing has.
func (c *Client) ReadMultipleProperties(ctx context.Context, thingID string, names []string) (map[string]any, error) {
	args := map[string]any{}
	if names != nil {
		args["names"] = names
	}
	var out map[string]any
	err := c.InvokeAction(ctx, thingID, "_get_properties", args, &out)
	return out, err
}

// WriteMultipleProperties writes several properties, as hololinked's client
// does: through the _set_properties action.
func (c *Client) WriteMultipleProperties(ctx context.Context, thingID string, values map[string]any) error {
	return c.InvokeAction(ctx, thingID, "_set_properties", values, nil)
}

// InvokeAction calls an action with args (a map or struct of keyword
// arguments; put positional ones under "__args__"; nil for none) and
// decodes its return value into out (nil to ignore it).
func (c *Client) InvokeAction(ctx context.Context, thingID, action string, args, out any, opts ...CallOption) error {
	var f Future
	c.send(ctx, &f, thingID, action, OpInvokeAction, argsOrEmpty(args), opts)
	return f.Result(ctx, out)
}

// InvokeActionAsync calls an action and returns at once; Future.Result
// waits.
func (c *Client) InvokeActionAsync(ctx context.Context, thingID, action string, args any, opts ...CallOption) *Future {
	return c.Go(ctx, thingID, action, OpInvokeAction, argsOrEmpty(args), opts...)
}

func argsOrEmpty(args any) any {
	if args == nil {
		return map[string]any{}
	}
	return args
}

// Ping calls the built-in ping action.
func (c *Client) Ping(ctx context.Context, thingID string) error {
	return c.InvokeAction(ctx, thingID, "ping", nil, nil)
}

// Exit asks the server to stop (hololinked stops on any EXIT; a zmqgo
// server refuses unless WithAllowExit). A refusal is returned as an
// *Exception; success has no reply, so Exit waits up to wait for one.
func (c *Client) Exit(ctx context.Context, wait time.Duration) error {
	h := RequestHeader{MessageType: MsgExit, MessageID: newUUID(), SenderID: c.id, ReceiverID: c.serverID,
		ServerExecutionContext: handshakeServerCtx, ThingExecutionContext: rawJSON(`{"fetchExecutionLogs":false}`),
		PayloadContentType: ContentJSON, PreencodedPayloadContentType: ContentText}
	ch, err := c.register(h.MessageID)
	if err != nil {
		return err
	}
	defer c.unregister(h.MessageID)
	r := &Request{Header: h}
	if err := c.sock.Send(ctx, zmq.NewMsg(r.Frames([]byte(c.serverID))...)); err != nil {
		return c.ctxErr(ctx, err)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	resp, err := c.await(wctx, ch)
	switch {
	case resp != nil:
		return resp.err()
	case err == ErrClosed || ctx.Err() != nil:
		return err
	}
	return nil // no reply: the server stopped
}

// Protocol names the transport of the client's address as hololinked's
// get_thing_description wants it: "TCP", "IPC" or "INPROC".
func (c *Client) Protocol() string {
	if i := strings.Index(c.addr, "://"); i > 0 {
		return strings.ToUpper(c.addr[:i])
	}
	return "IPC"
}

// ThingDescription fetches a Thing's W3C WoT Thing Description, as
// hololinked's ClientFactory does (get_thing_description for this
// client's transport).
func (c *Client) ThingDescription(ctx context.Context, thingID string) (map[string]any, error) {
	var td map[string]any
	err := c.InvokeAction(ctx, thingID, "get_thing_description",
		map[string]any{"ignore_errors": false, "protocol": c.Protocol(), "skip_names": []any{}}, &td)
	return td, err
}

// EventEndpoint returns where thingID's event is published: the href of the
// event's form in the Thing Description (hololinked's client uses it),
// with a tcp host that is a name for "any interface" replaced by the host
// this client connects to. If the TD cannot be had, it is derived from the
// request address (EventEndpoint).
func (c *Client) EventEndpoint(ctx context.Context, thingID, event string) (string, error) {
	td, err := c.ThingDescription(ctx, thingID)
	if err != nil {
		var e *Exception
		if errors.As(err, &e) {
			if ep := EventEndpoint(c.addr); ep != "" {
				return ep, nil
			}
		}
		return "", err
	}
	events, _ := td["events"].(map[string]any)
	ev, _ := events[event].(map[string]any)
	if ev == nil {
		return "", fmt.Errorf("rpc: thing %q has no event %q", thingID, event)
	}
	forms, _ := ev["forms"].([]any)
	for _, f := range forms {
		fm, _ := f.(map[string]any)
		href, _ := fm["href"].(string)
		if href == "" {
			continue
		}
		if strings.HasPrefix(href, "tcp://") && strings.HasPrefix(c.addr, "tcp://") {
			_, port, err1 := net.SplitHostPort(strings.TrimPrefix(href, "tcp://"))
			host, _, err2 := net.SplitHostPort(strings.TrimPrefix(c.addr, "tcp://"))
			if err1 == nil && err2 == nil {
				href = "tcp://" + net.JoinHostPort(host, port)
			}
		}
		return href, nil
	}
	if ep := EventEndpoint(c.addr); ep != "" {
		return ep, nil
	}
	return "", fmt.Errorf("rpc: event %q of %q has no form", event, thingID)
}

// Subscription receives one event's messages.
type Subscription struct {
	// C delivers the events; it is closed by Close.
	C      <-chan *EventMessage
	ch     chan *EventMessage
	sock   *zmq.Socket
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Subscribe subscribes to thingID's event, at its endpoint from the Thing
// Description (see EventEndpoint). Topics match exactly unless
// WithPrefixMatch; the last-value cache's repeats (same messageID) are
// dropped. ctx bounds the TD fetch and connecting.
func (c *Client) Subscribe(ctx context.Context, thingID, event string) (*Subscription, error) {
	ep, err := c.EventEndpoint(ctx, thingID, event)
	if err != nil {
		return nil, err
	}
	return SubscribeAt(ep, thingID, event, c.cfg.sockOpts, c.cfg.prefixMatch)
}

// SubscribeFunc calls fn for each event, from one goroutine, until the
// returned Subscription is closed.
func (c *Client) SubscribeFunc(ctx context.Context, thingID, event string, fn func(*EventMessage)) (*Subscription, error) {
	sub, err := c.Subscribe(ctx, thingID, event)
	if err != nil {
		return nil, err
	}
	sub.wg.Add(1)
	ch := sub.ch
	sub.C = nil
	go func() {
		defer sub.wg.Done()
		for e := range ch {
			fn(e)
		}
	}()
	return sub, nil
}

// SubscribeAt subscribes to thingID's event at a known event endpoint.
func SubscribeAt(endpoint, thingID, event string, sockOpts []zmq.Option, prefix bool) (*Subscription, error) {
	topic := thingID + "/" + event
	sock, err := zmq.NewSocket(zmq.Sub, append(sockOpts[:len(sockOpts):len(sockOpts)],
		zmq.WithRoutingID([]byte(topic+"|zmqgo|"+shortID())))...)
	if err != nil {
		return nil, err
	}
	if err := sock.Subscribe([]byte(topic)); err != nil {
		sock.Close()
		return nil, err
	}
	if err := sock.Connect(endpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("rpc: connect %s: %w", endpoint, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *EventMessage, 64)
	s := &Subscription{C: ch, ch: ch, sock: sock, cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(ch)
		last := ""
		for {
			m, err := sock.Recv(ctx)
			if err != nil {
				return
			}
			e, err := ParseEvent(m.Frames)
			if err != nil || (!prefix && e.Topic != topic) || e.Header.MessageID == last {
				continue
			}
			last = e.Header.MessageID
			select {
			case ch <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return s, nil
}

// Close ends the subscription.
func (s *Subscription) Close() error {
	s.cancel()
	err := s.sock.Close()
	go func() { // drain so the reader can finish
		for range s.ch {
		}
	}()
	s.wg.Wait()
	return err
}

// Decode decodes the event's value into out.
func (e *EventMessage) Decode(out any) error {
	c, err := CodecFor(e.Header.PayloadContentType)
	if err != nil {
		return err
	}
	return c.Unmarshal(e.Payload, out)
}

func rawJSON(s string) []byte { return []byte(s) }
