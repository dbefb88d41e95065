package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqgo/zmq"
)

// Client is a client of a broker over a DEALER socket, speaking the
// broker's protocol (one JSON frame per message, as a txZMQ
// ZmqDealerConnection sends it).
//
// Register, Send, Broadcast, List and Ping send a request and wait for
// its reply, until their context is done. They are safe for concurrent
// use, and may be issued from several goroutines at once. Each request
// carries a request_id, which a zmqgo broker echoes in its reply: a reply
// pairs with its own request, never with another. (With a broker that does
// not echo it, such as the seed's, replies pair in order: the broker
// answers each client's requests in order, on one connection.) A request
// whose context ends before the reply keeps its place until the reply
// comes. A reply the broker could not deliver (its queue for this client
// was full) fails its request with ErrNoReply once a later reply arrives.
//
// What other clients send (direct_message, broadcast) and routing errors
// of the federation go to the Handler given with WithHandler.
//
// The connection is remade if it breaks. Requests are sent only while a
// connection is up (they wait for one, until their context ends, and
// then fail with ErrNoBroker), so each belongs to one connection: when it
// breaks, every request still waiting for its reply fails at once with
// ErrConnectionLost, and replies on the next connection pair with the
// requests sent on it. A client that had registered registers again under
// its name as soon as it is reconnected, before any other request goes
// out; if the broker refuses (someone took the name meanwhile), Name
// returns "" and requests fail with an error that says so.
type Client struct {
	sock     *zmq.Socket
	endpoint string
	handler  Handler
	inline   bool // WithInlineHandler: handler called by received, no handleLoop
	log      *slog.Logger
	maxSize  atomic.Int64 // WithMaxMsgSize, or what the broker told in registration_ack; 0: unknown (read on every send: no lock)

	names   nameCache     // the last from and target decoded (clientcodec.go)
	nextID  atomic.Uint64 // request_id of the next request
	sendMu  sync.Mutex    // held while sending: pending is in the order of the wire
	mu      sync.Mutex    // guards the fields below
	pending []*call
	later   []finished // resolve: SendAsync outcomes to hand out once c.mu is released
	closed  bool
	name    string
	up      bool          // a connection is up: requests may go out
	upCh    chan struct{} // closed when up becomes true
	everUp  bool          // a connection was ever made
	lostAt  time.Time     // when the last connection broke
	connErr error         // why the last connection attempt or handshake failed
	regErr  error         // registering again after a reconnection failed

	inbox     chan Message
	ctx       context.Context // done when the client closes
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Handler handles a message that is not the reply to a request: a
// direct_message or broadcast from another client, or a routing_error.
// Handlers run one at a time, on a goroutine of the client, in the order
// the messages arrived. ctx is done once the client is closing; a handler
// that waits for something should give up then, as Close waits for it to
// return. While it runs, later messages queue (WithHandlerQueue); with the
// queue full the client stops reading from the broker, replies included,
// until the handler catches up. A handler may call the client's methods,
// with a deadline: their replies wait behind a full queue too.
type Handler func(ctx context.Context, m Message)

// Message is a message from the broker that is not a reply: Type is
// direct_message, broadcast or routing_error (or a type this package does
// not know).
type Message struct {
	Type    string          `json:"type"`
	From    string          `json:"from,omitempty"`    // the sender's name
	Content json.RawMessage `json:"content,omitempty"` // as the sender gave it
	// Time is when the sender's broker took the message (the wire's
	// timestamp, seconds since the epoch); zero if it had none.
	Time time.Time `json:"-"`
	// RoutePath lists the brokers a federated message went through.
	RoutePath []string `json:"route_path,omitempty"`

	// Of a routing_error: the message to FailedDestination, sent along
	// FailedRoute, could not be delivered because of Error.
	Destination       string   `json:"destination,omitempty"`
	OriginalSender    string   `json:"original_sender,omitempty"`
	Error             string   `json:"error,omitempty"`
	FailedDestination string   `json:"failed_destination,omitempty"`
	FailedRoute       []string `json:"failed_route,omitempty"`

	// Raw is the message as it arrived.
	Raw []byte `json:"-"`
}

// Text returns the content as text: a JSON string unquoted, any other
// JSON value as it is.
func (m Message) Text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	return string(m.Content)
}

// Registration is a registration_ack.
type Registration struct {
	Status   string // "success"
	ClientID string // the client's routing id at the broker, as text or hex
	Message  string // "Welcome, NAME!"
}

// Pong is the broker's answer to Ping.
type Pong struct {
	Time  time.Time
	Stats PongStats
}

// Error is an error reply from the broker: the request was refused.
type Error struct {
	Message string
	Time    time.Time
}

func (e *Error) Error() string { return "broker: " + e.Message }

var (
	// ErrNotDelivered is returned by Send when the broker could not queue
	// the message for its target (status "failed").
	ErrNotDelivered = errors.New("broker: not delivered (the target's queue was full, or it had gone)")
	// ErrNoReply fails a request whose reply the broker dropped.
	ErrNoReply = errors.New("broker: the reply to this request was lost")
	// ErrConnectionLost fails the requests waiting for a reply when the
	// connection to the broker breaks: each may or may not have been
	// carried out.
	ErrConnectionLost = errors.New("broker: connection to the broker lost before the reply")
	// ErrNoBroker fails a request that found no connection to send it on
	// before its context ended: no broker answered at the endpoint. The
	// error says whether a connection was ever made, and why the last
	// attempt failed; errors.Is(err, context.DeadlineExceeded) holds too.
	ErrNoBroker = errors.New("broker: no broker answered")
	// ErrTooLarge is returned, before anything is sent, for a request over
	// the broker's size limit (WithMaxMsgSize, or as the broker told it).
	ErrTooLarge = errors.New("broker: message exceeds the broker's size limit")
)

// ClientOption configures a Client.
type ClientOption func(*clientConfig)

type clientConfig struct {
	handler Handler
	inline  bool
	queue   int
	logger  *slog.Logger
	opts    []zmq.Option
	sec     []zmq.Option
	curve   *zmq.CurvePublicKey // WithCurve without a key pair: make one
	maxSize int
}

// WithMaxMsgSize tells the client the broker's limit on requests
// (Config.MaxMsgSize, `zmqgo broker --max-msg-size`): larger ones fail
// with ErrTooLarge before they are sent, instead of being refused, or of
// costing the connection. A zmqgo broker tells its limit in reply to
// Register anyway; this is for the requests before that, and for other
// brokers.
func WithMaxMsgSize(n int) ClientOption { return func(c *clientConfig) { c.maxSize = max(n, 0) } }

// WithHandler sets the handler of incoming messages. Without one they are
// dropped.
func WithHandler(h Handler) ClientOption { return func(c *clientConfig) { c.handler = h } }

// WithInlineHandler is WithHandler with h run on the goroutine that
// receives from the broker, with no queue between: no hand-over per
// message. h then holds up everything the client receives, replies
// included, so it must not block, nor call the client's methods that wait
// for a reply (Send, Register, ...; SendAsync is fine).
func WithInlineHandler(h Handler) ClientOption {
	return func(c *clientConfig) { c.handler, c.inline = h, true }
}

// WithHandlerQueue sets how many incoming messages may wait for the
// handler (default 1024).
func WithHandlerQueue(n int) ClientOption { return func(c *clientConfig) { c.queue = max(n, 1) } }

// WithLogger sets where the client logs what it cannot make sense of.
func WithLogger(l *slog.Logger) ClientOption { return func(c *clientConfig) { c.logger = l } }

// WithSocketOptions passes options to the client's DEALER socket, after
// the client's own (zmq.WithLinger(0): every request is waited for, so
// nothing queued at Close is still awaited).
func WithSocketOptions(opts ...zmq.Option) ClientOption {
	return func(c *clientConfig) { c.opts = append(c.opts, opts...) }
}

// WithPlain makes the client log in with PLAIN credentials, for a broker
// whose Config.Security has zmq.WithPlainServer (`zmqgo broker
// --plain-server`). The user name is the client's identity at the broker
// (Config.Names). PLAIN sends the password in clear: use it only on
// trusted networks, or use WithCurve.
func WithPlain(user, password string) ClientOption {
	return func(c *clientConfig) {
		c.sec, c.curve = []zmq.Option{zmq.WithPlainClient(user, password)}, nil
	}
}

// WithCurve makes the client a CURVE client of the broker whose public key
// is server (`zmqgo broker --curve-server`): the connection is encrypted
// and the broker authenticated. The client proves its identity with the
// key pair pub, sec (its identity at the broker is pub in Z85, for
// Config.Names); with zero keys it makes a key pair of its own, which
// gives it an identity no rule names.
func WithCurve(server, pub zmq.CurvePublicKey, sec zmq.CurveSecretKey) ClientOption {
	return func(c *clientConfig) {
		if sec == (zmq.CurveSecretKey{}) {
			c.sec, c.curve = nil, &server
			return
		}
		c.sec, c.curve = []zmq.Option{zmq.WithCurveClient(server, pub, sec)}, nil
	}
}

// NewClient connects a client to the broker at endpoint. The connection
// is made, and remade if it breaks, in the background; requests wait for
// it. Register before sending.
func NewClient(endpoint string, opts ...ClientOption) (*Client, error) {
	cfg := clientConfig{queue: 1024}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.curve != nil {
		pub, sec, err := zmq.NewCurveKeypair()
		if err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
		cfg.sec = []zmq.Option{zmq.WithCurveClient(*cfg.curve, pub, sec)}
	}
	// Immediate: requests go only to a live connection, and those queued
	// for one that breaks are dropped with it, so that every request
	// belongs to exactly one connection (see watchLoop).
	c := &Client{endpoint: endpoint, handler: cfg.handler, inline: cfg.inline, log: cfg.logger,
		inbox: make(chan Message, cfg.queue), upCh: make(chan struct{})}
	c.maxSize.Store(int64(cfg.maxSize))
	c.ctx, c.cancel = context.WithCancel(context.Background())
	// What arrives is decoded and paired with its request on the
	// connection's reader (zmq.WithHandler): no hand-over per reply.
	sock, err := zmq.NewSocket(zmq.Dealer, slices.Concat([]zmq.Option{zmq.WithLinger(0), zmq.WithLogger(cfg.logger),
		zmq.WithImmediate(true), zmq.WithHandler(c.received)}, cfg.sec, cfg.opts)...)
	if err != nil {
		c.cancel()
		return nil, fmt.Errorf("broker: %w", err)
	}
	c.sock = sock
	events := sock.Monitor(c.ctx)
	if strings.HasPrefix(endpoint, "inproc://") {
		// inproc links report no connection events: requests simply wait
		// for the link, which lives as long as both sockets.
		c.up, c.everUp = true, true
		close(c.upCh)
	}
	if err := sock.Connect(endpoint); err != nil {
		c.cancel()
		sock.Close()
		return nil, fmt.Errorf("broker: connect %s: %w", endpoint, err)
	}
	c.wg.Add(1)
	go c.watchLoop(events)
	if c.handler != nil && !c.inline {
		c.wg.Add(1)
		go c.handleLoop()
	}
	return c, nil
}

// Name returns the name the client last registered ("" before).
func (c *Client) Name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// Register claims name for this client (register). A name another live
// client holds is refused with an *Error; registering again, under the same
// name or another, is allowed.
func (c *Client) Register(ctx context.Context, name string) (Registration, error) {
	w, err := c.call(ctx, TypeRegistrationAck, registerRequest(name))
	if err != nil {
		return Registration{}, err
	}
	c.registered(name, w)
	return Registration{Status: w.Status, ClientID: w.ClientID, Message: w.Text}, nil
}

// registerRequest is a register that asks the broker for its limits
// (which a zmqgo broker adds to its registration_ack; others ignore it).
func registerRequest(name string) any {
	return struct {
		Limits bool   `json:"limits"`
		Name   string `json:"name"`
		Type   string `json:"type"`
	}{true, name, TypeRegister}
}

// registered records a successful registration.
func (c *Client) registered(name string, w *wire) {
	c.mu.Lock()
	c.registeredLocked(name, w)
	c.mu.Unlock()
}

func (c *Client) registeredLocked(name string, w *wire) {
	c.name, c.regErr = name, nil
	if w.MaxMsgSize > 0 {
		c.maxSize.Store(int64(w.MaxMsgSize))
	}
}

// Send sends content to the client named target (direct_message) and
// returns the status of the broker's delivery_confirmation:
// StatusDelivered, or StatusForwarded when the target is on another broker
// of a federation (if it turns out to be nowhere, a routing_error comes to
// the handler later). StatusFailed comes with ErrNotDelivered. content is
// encoded with encoding/json; a json.RawMessage is sent as it is.
func (c *Client) Send(ctx context.Context, target string, content any) (string, error) {
	sc, err := newSendContent(content)
	if err != nil {
		return "", err
	}
	// The size without the request_id, escapes not counted: callEncoded
	// checks the whole request too.
	w, err := c.callEncoded(ctx, TypeDeliveryConfirmation, sendRequestLen(sc, target), func(id uint64) []byte {
		return sendRequest(sc, target, id)
	})
	return sendStatus(w, err)
}

// sendRequest is the direct_message request of Send and SendAsync, with
// request_id id. It cannot fail: a raw content is valid JSON
// (marshalContent), and a string always encodes.
func sendRequest(sc sendContent, target string, id uint64) []byte {
	if plainTarget(target) { // written by hand (clientcodec.go): the usual case
		return appendSendRequest(make([]byte, 0, sendRequestLen(sc, target)+24), id, sc, target)
	}
	raw := sc.raw
	if !sc.isRaw {
		raw, _ = marshalContent(sc.s)
	}
	body, _ := json.Marshal(struct {
		Content json.RawMessage `json:"content"`
		Target  string          `json:"target"`
		Type    string          `json:"type"`
	}{raw, target, TypeDirectMessage})
	return withID(id, body)
}

// sendContent is a direct message's content: a string, written straight
// into the request as encoding/json writes it (no copy of its own: most
// contents are strings), or other JSON, already encoded.
type sendContent struct {
	s     string
	raw   json.RawMessage
	isRaw bool
}

func newSendContent(content any) (sendContent, error) {
	if s, ok := content.(string); ok {
		return sendContent{s: s}, nil
	}
	raw, err := marshalContent(content)
	return sendContent{raw: raw, isRaw: true}, err
}

// size is the content's length in the request; a string's escapes not
// counted.
func (sc sendContent) size() int {
	if sc.isRaw {
		return len(sc.raw)
	}
	return len(sc.s) + 2
}

func (sc sendContent) appendTo(b []byte) []byte {
	if sc.isRaw {
		return append(b, sc.raw...)
	}
	return appendString(b, sc.s)
}

// sendStatus is what Send returns for the outcome of its request.
func sendStatus(w *wire, err error) (string, error) {
	switch {
	case err != nil:
		return "", err
	case w.Status == StatusFailed:
		return w.Status, ErrNotDelivered
	}
	return w.Status, nil
}

// SendAsync sends content to target as Send does, without waiting for the
// broker's confirmation: done is called with what Send would have
// returned once it comes, or once the request fails (connection lost,
// client closed). It lets one goroutine keep many messages in flight.
//
// done runs on the goroutine that receives from the broker (or that found
// the failure) and must not block: it holds up everything the client
// receives. It may call SendAsync again: the requests sent from done go out
// together, in one write, after the replies received with its own. Unlike
// Send, SendAsync never waits: with no connection up it returns an error
// that wraps ErrNoBroker, and with the socket's queue full (a thousand
// requests in flight, zmq.WithSendHWM) zmq.ErrWouldBlock, as over inproc
// before the link to the broker is made (Register first); done is not
// called then.
func (c *Client) SendAsync(target string, content any, done func(status string, err error)) error {
	sc, err := newSendContent(content)
	if err != nil {
		return err
	}
	id := c.nextID.Add(1)
	body := sendRequest(sc, target, id)
	cl := &call{want: TypeDeliveryConfirmation, size: len(body), id: id, async: done, c: c}
	return c.enqueueAsync(cl, body)
}

// enqueueAsync is enqueue without waiting, for SendAsync.
func (c *Client) enqueueAsync(cl *call, body []byte) error {
	if err := c.tooLarge(cl.size); err != nil {
		return err
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !c.up {
		c.mu.Unlock()
		return c.noBroker(zmq.ErrWouldBlock)
	}
	c.pending = append(c.pending, cl)
	c.mu.Unlock()
	if err := c.sock.TrySend(zmq.NewMsg(body)); err != nil {
		if !c.unpend(cl) {
			// Close, or the connection's loss, took the request first
			// and gave done its outcome: done is called, so no error.
			return nil
		}
		return err
	}
	return nil
}

// unpend takes back a request that could not be sent; false if something
// else (Close, the connection's loss) took it from pending first.
func (c *Client) unpend(cl *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.pending, cl)
	if i >= 0 {
		c.pending = slices.Delete(c.pending, i, i+1)
	}
	return i >= 0
}

// tooLarge refuses a request of size bytes over the broker's limit, if
// known.
func (c *Client) tooLarge(size int) error {
	if limit := int(c.maxSize.Load()); limit > 0 && size > limit {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, limit)
	}
	return nil
}

// Broadcast sends content to every other client (broadcast), those of the
// whole federation included, and returns how many clients of this broker
// it reached (broadcast_confirmation).
func (c *Client) Broadcast(ctx context.Context, content any) (int, error) {
	raw, err := marshalContent(content)
	if err != nil {
		return 0, err
	}
	w, err := c.call(ctx, TypeBroadcastConfirmation, struct {
		Content json.RawMessage `json:"content"`
		Type    string          `json:"type"`
	}{raw, TypeBroadcast})
	if err != nil {
		return 0, err
	}
	return w.Recipients, nil
}

// List returns the clients registered with the broker, by name
// (list_clients).
func (c *Client) List(ctx context.Context) ([]ClientInfo, error) {
	w, err := c.call(ctx, TypeClientList, typeOnly{TypeListClients})
	if err != nil {
		return nil, err
	}
	return w.Clients, nil
}

// Ping asks the broker for its time and counters (ping). It also keeps an
// idle client from expiring.
func (c *Client) Ping(ctx context.Context) (Pong, error) {
	w, err := c.call(ctx, TypePong, typeOnly{TypePing})
	if err != nil {
		return Pong{}, err
	}
	return Pong{Time: fromUnix(w.Timestamp), Stats: w.Stats}, nil
}

// Close closes the connection. Requests still waiting fail with ErrClosed;
// Close waits for a running handler to return.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed, c.up = true, false
		pending := c.pending
		c.pending = nil
		c.mu.Unlock()
		for _, cl := range pending {
			cl.finish(result{err: ErrClosed})
		}
		c.cancel()
		c.sock.Close()
		c.wg.Wait()
	})
	return nil
}

type typeOnly struct {
	Type string `json:"type"`
}

func marshalContent(v any) (json.RawMessage, error) {
	if s, ok := v.(string); ok { // the usual content, written as encoding/json does (codec.go)
		return appendString(make([]byte, 0, len(s)+2), s), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("broker: encoding the content: %w", err)
	}
	return b, nil
}

// wire is any message from the broker: a Message, or a reply.
type wire struct {
	Message
	Timestamp  float64         `json:"timestamp"`
	Status     string          `json:"status"`
	ClientID   string          `json:"client_id"`
	Text       string          `json:"message"`
	Target     string          `json:"target"`
	Recipients int             `json:"recipients"`
	Clients    []ClientInfo    `json:"clients"`
	Total      int             `json:"total"`
	Stats      PongStats       `json:"stats"`
	MaxMsgSize int             `json:"max_msg_size"`
	RequestID  json.RawMessage `json:"request_id"`
}

type call struct {
	id    uint64 // its request_id
	want  string // the reply type that answers it
	size  int    // bytes of the request
	rereg string // the client's own register after a reconnection, of this name: no one waits
	done  chan result
	async func(status string, err error) // SendAsync's: called with the outcome instead of done, never under c.mu
	c     *Client                        // SendAsync: whose request
}

// finish gives a request its outcome, outside c.mu.
func (cl *call) finish(r result) {
	if cl.async == nil {
		cl.done <- r
		return
	}
	cl.async(sendStatus(cl.c.outcome(r)))
}

type result struct {
	w   *wire
	err error
}

// call sends a request and waits for its reply.
func (c *Client) call(ctx context.Context, want string, req any) (*wire, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("broker: encoding the request: %w", err)
	}
	return c.callEncoded(ctx, want, len(body), func(id uint64) []byte { return withID(id, body) })
}

// callEncoded is call with the request written by encode, given its
// request_id, and size bytes long without it.
func (c *Client) callEncoded(ctx context.Context, want string, size int, encode func(id uint64) []byte) (*wire, error) {
	if err := c.tooLarge(size); err != nil { // before encoding it
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cl := &call{want: want, size: size, id: c.nextID.Add(1), done: make(chan result, 1)}
	body := encode(cl.id)
	if err := c.tooLarge(len(body)); err != nil { // the broker counts the request_id too
		return nil, err
	}
	if err := c.enqueue(ctx, cl, body); err != nil {
		return nil, err
	}
	select {
	case r := <-cl.done:
		return c.outcome(r)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// outcome turns a request's result into the reply or the error its caller
// gets.
func (c *Client) outcome(r result) (*wire, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.w.Type == TypeError {
		e := &Error{Message: r.w.Text, Time: fromUnix(r.w.Timestamp)}
		c.mu.Lock()
		regErr := c.regErr
		c.mu.Unlock()
		if regErr != nil && r.w.Text == "register first" {
			return nil, fmt.Errorf("%w (%v)", e, regErr)
		}
		return nil, e
	}
	return r.w, nil
}

// withID gives the request its request_id: a zmqgo broker echoes it in the
// reply, which then pairs with its request whatever came before (a reply
// from a connection that broke, a reply the broker dropped); other brokers
// ignore it, and replies pair in order.
func withID(id uint64, body []byte) []byte {
	out := make([]byte, 0, len(body)+32)
	out = append(out, `{"request_id":`...)
	out = strconv.AppendUint(out, id, 10)
	out = append(out, ',')
	return append(out, body[1:]...) // body is a JSON object with fields
}

// enqueue sends a request on the live connection, waiting for one until
// ctx ends, and adds it to pending.
func (c *Client) enqueue(ctx context.Context, cl *call, body []byte) error {
	for {
		c.sendMu.Lock()
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			c.sendMu.Unlock()
			return ErrClosed
		}
		if !c.up {
			upCh := c.upCh
			c.mu.Unlock()
			c.sendMu.Unlock()
			select {
			case <-upCh:
				continue
			case <-ctx.Done():
				return c.noBroker(ctx.Err())
			}
		}
		c.pending = append(c.pending, cl)
		c.mu.Unlock()
		// TrySend: a message goes into the live connection's queue at
		// once, or not at all (no connection after all, or its queue full).
		err := c.sock.TrySend(zmq.NewMsg(body))
		if errors.Is(err, zmq.ErrWouldBlock) {
			// Rare: a thousand requests in flight. Wait for room.
			err = c.sock.Send(ctx, zmq.NewMsg(body))
		}
		c.sendMu.Unlock()
		if err != nil {
			c.unpend(cl)
			if ctx.Err() != nil {
				return c.noBroker(ctx.Err())
			}
			return err
		}
		return nil
	}
}

// noBroker explains a request that found no connection in time.
func (c *Client) noBroker(ctxErr error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up {
		return ctxErr // it was sent, or waited for room: an ordinary timeout
	}
	why := "never connected"
	if c.everUp {
		why = fmt.Sprintf("the connection was lost %v ago and is not back", time.Since(c.lostAt).Round(time.Millisecond))
	}
	if c.connErr != nil {
		why += fmt.Sprintf("; last attempt: %v", c.connErr)
	}
	return fmt.Errorf("%w at %s: %s: %w", ErrNoBroker, c.endpoint, why, ctxErr)
}

// watchLoop follows the connection: a request belongs to the connection
// it was sent on, so when that breaks, the requests waiting for a reply
// fail; a new connection re-registers the client first.
func (c *Client) watchLoop(events <-chan zmq.Event) {
	defer c.wg.Done()
	for e := range events {
		switch e.Type {
		case zmq.EventHandshakeSucceeded:
			if e.Dropped > 0 {
				c.connectionLost(fmt.Errorf("%d connection events missed", e.Dropped))
			}
			c.connectionUp()
		case zmq.EventDisconnected:
			c.connectionLost(e.Err)
		case zmq.EventConnectRetried, zmq.EventHandshakeFailedNoDetail, zmq.EventHandshakeFailedProtocol,
			zmq.EventHandshakeFailedAuth:
			if e.Err != nil {
				c.mu.Lock()
				c.connErr = e.Err
				c.mu.Unlock()
			}
		}
	}
}

func (c *Client) connectionLost(why error) {
	c.mu.Lock()
	if !c.up {
		c.mu.Unlock()
		return
	}
	c.up, c.upCh, c.lostAt = false, make(chan struct{}), time.Now()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	if why == nil {
		why = errors.New("closed by the broker")
	}
	c.log.Warn("broker client: connection lost", "endpoint", c.endpoint, "err", why, "requests_failed", len(pending))
	for _, cl := range pending {
		err := fmt.Errorf("%w (%v)", ErrConnectionLost, why)
		if cl.size > 64<<10 {
			err = fmt.Errorf("%w (%v); the request was %d bytes: a broker drops the connection of a client whose "+
				"message is far over its size limit (zmqgo broker: twice --max-msg-size)", ErrConnectionLost, why, cl.size)
		}
		cl.finish(result{err: err})
	}
}

func (c *Client) connectionUp() {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up || c.closed {
		return
	}
	reconnect := c.everUp
	c.up, c.everUp, c.connErr = true, true, nil
	close(c.upCh)
	if !reconnect || c.name == "" {
		return
	}
	// Register again, ahead of any other request on this connection.
	name := c.name
	body, _ := json.Marshal(registerRequest(name))
	cl := &call{want: TypeRegistrationAck, size: len(body), rereg: name, id: c.nextID.Add(1), done: make(chan result, 1)}
	body = withID(cl.id, body)
	c.pending = append(c.pending, cl)
	if err := c.sock.TrySend(zmq.NewMsg(body)); err != nil {
		c.pending = c.pending[:len(c.pending)-1]
		c.regFailed(name, err)
	}
}

// reregistered takes the reply to the register sent after a reconnection
// (c.mu is held): before any later reply, so that the requests after it
// see its outcome.
func (c *Client) reregistered(name string, w *wire, err error) {
	if err == nil && w.Type == TypeError {
		err = &Error{Message: w.Text, Time: fromUnix(w.Timestamp)}
	}
	if err != nil {
		c.regFailed(name, err)
		return
	}
	c.registeredLocked(name, w)
	c.log.Info("broker client: registered again after reconnecting", "name", name)
}

// regFailed records that registering again failed; c.mu is held.
func (c *Client) regFailed(name string, err error) {
	if c.name == name {
		c.name = ""
	}
	c.regErr = fmt.Errorf("reconnected, but registering again as %q failed: %w", name, err)
	c.log.Error("broker client: "+c.regErr.Error(), "name", name)
}

func isReply(typ string) bool {
	switch typ {
	case TypeRegistrationAck, TypeDeliveryConfirmation, TypeBroadcastConfirmation, TypeClientList, TypePong, TypeError:
		return true
	}
	return false
}

// resolve hands a reply to its request: the one with its request_id, or
// without one (a broker that does not echo it, or an error about a
// request it could not read) the oldest request waiting. Requests before
// it that wanted another type of reply, or that its request_id skips, lost
// theirs. It reports false if the reply answers no request.
func (c *Client) resolve(w *wire) bool {
	c.mu.Lock()
	ok := c.resolveLocked(w)
	later := c.later
	c.later = nil
	c.mu.Unlock()
	for i := range later {
		f := &later[i]
		r := result{err: f.err}
		if f.ok {
			r.w = &f.w
		}
		f.cl.finish(r)
	}
	if later != nil {
		clear(later)
		c.mu.Lock()
		c.later = later[:0]
		c.mu.Unlock()
	}
	return ok
}

func (c *Client) resolveLocked(w *wire) bool {
	if id, err := strconv.ParseUint(string(w.RequestID), 10, 64); err == nil && len(w.RequestID) > 0 {
		i := slices.IndexFunc(c.pending, func(cl *call) bool { return cl.id == id })
		if i < 0 {
			// The reply to a request already failed (its connection
			// broke) or given up: nothing waits for it.
			c.log.Debug("broker client: a reply nobody waits for", "request_id", id, "type", w.Type)
			return true
		}
		for _, cl := range c.pending[:i] {
			c.deliver(cl, nil, ErrNoReply)
		}
		cl := c.pending[i]
		clear(c.pending[:i+1])
		c.pending = c.pending[i+1:]
		if w.Type != TypeError && w.Type != cl.want {
			c.deliver(cl, nil, fmt.Errorf("broker: a %s answered a request for a %s", w.Type, cl.want))
		} else {
			c.deliver(cl, w, nil)
		}
		return true
	}
	for len(c.pending) > 0 {
		cl := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		if w.Type != TypeError && w.Type != cl.want {
			c.deliver(cl, nil, ErrNoReply)
			continue
		}
		c.deliver(cl, w, nil)
		return true
	}
	return false
}

// deliver gives a request its outcome; c.mu is held. A SendAsync's
// function runs once c.mu is released (resolve), as it may send.
// w is the receiver's (on its stack): what outlives the call is a copy.
func (c *Client) deliver(cl *call, w *wire, err error) {
	switch {
	case cl.rereg != "":
		c.reregistered(cl.rereg, w, err)
	case cl.async != nil:
		f := finished{cl: cl, err: err}
		if w != nil {
			f.w, f.ok = *w, true
		}
		c.later = append(c.later, f)
	default:
		out := result{err: err}
		if w != nil {
			cp := *w
			out.w = &cp
		}
		cl.done <- out
	}
}

// finished is a SendAsync's outcome, for its function to be called
// outside c.mu: the reply itself (ok), or err.
type finished struct {
	cl  *call
	w   wire
	ok  bool
	err error
}

// received handles what the broker sends, on the connection's reader: a
// reply goes to its request, anything else to the handler's queue, which,
// full, holds up the reading.
func (c *Client) received(m zmq.Msg) {
	body := m.Frames[len(m.Frames)-1]
	var w wire // on the stack: resolve copies what a request keeps
	if err := decodeWire(body, &w, &c.names); err != nil {
		c.log.Warn("broker client: undecodable message", "err", err)
		var t typeOnly
		json.Unmarshal(body, &t)
		w = wire{Message: Message{Type: t.Type}}
	}
	if isReply(w.Type) && c.resolve(&w) {
		return
	}
	if c.handler == nil {
		return
	}
	msg := w.Message
	msg.Raw, msg.Time = body, fromUnix(w.Timestamp)
	if c.inline {
		c.handler(c.ctx, msg)
		return
	}
	select {
	case c.inbox <- msg:
	case <-c.ctx.Done():
	}
}

func (c *Client) handleLoop() {
	defer c.wg.Done()
	for {
		select {
		case m := <-c.inbox:
			c.handler(c.ctx, m)
		case <-c.ctx.Done():
			return
		}
	}
}
