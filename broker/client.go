package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/zmqgo/zmq"
)

// Client is a client of a broker over a DEALER socket, speaking the
// broker's protocol (one JSON frame per message, as a txZMQ
// ZmqDealerConnection sends it).
//
// Register, Send, Broadcast, List and Ping send a request and wait for
// its reply, until their context is done. They are safe for concurrent
// use, and may be issued from several goroutines at once: the broker
// answers each client's requests in order, and the client pairs replies
// with requests in that order. A request whose context ends before the
// reply keeps its place, so the replies after it still pair up. A reply
// the broker could not deliver (its queue for this client was full) fails
// its request with ErrNoReply once a later reply arrives.
//
// What other clients send (direct_message, broadcast) and routing errors
// of the federation go to the Handler given with WithHandler.
//
// The connection is remade if it breaks. A broker that restarted has
// forgotten the client, though: requests then fail with an *Error
// ("register first") until the client registers again.
type Client struct {
	sock    *zmq.Socket
	handler Handler
	log     *slog.Logger

	sendMu  sync.Mutex // held while sending: pending is in the order of the wire
	mu      sync.Mutex // guards pending, closed, name
	pending []*call
	closed  bool
	name    string

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
	Type      string          `json:"type"`
	From      string          `json:"from,omitempty"`    // the sender's name
	Content   json.RawMessage `json:"content,omitempty"` // as the sender gave it
	Timestamp float64         `json:"timestamp,omitempty"`
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

// Time returns the timestamp: when the sender's broker took the message.
func (m Message) Time() time.Time { return fromUnix(m.Timestamp) }

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
)

// ClientOption configures a Client.
type ClientOption func(*clientConfig)

type clientConfig struct {
	handler Handler
	queue   int
	logger  *slog.Logger
	opts    []zmq.Option
	sec     []zmq.Option
	curve   *zmq.CurvePublicKey // WithCurve without a key pair: make one
}

// WithHandler sets the handler of incoming messages. Without one they are
// dropped.
func WithHandler(h Handler) ClientOption { return func(c *clientConfig) { c.handler = h } }

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
	sock, err := zmq.NewSocket(zmq.Dealer, slices.Concat([]zmq.Option{zmq.WithLinger(0), zmq.WithLogger(cfg.logger)}, cfg.sec, cfg.opts)...)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := sock.Connect(endpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("broker: connect %s: %w", endpoint, err)
	}
	c := &Client{sock: sock, handler: cfg.handler, log: cfg.logger, inbox: make(chan Message, cfg.queue)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.recvLoop()
	if c.handler != nil {
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
	w, err := c.call(ctx, TypeRegistrationAck, struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}{name, TypeRegister})
	if err != nil {
		return Registration{}, err
	}
	c.mu.Lock()
	c.name = name
	c.mu.Unlock()
	return Registration{Status: w.Status, ClientID: w.ClientID, Message: w.Text}, nil
}

// Send sends content to the client named target (direct_message) and
// returns the status of the broker's delivery_confirmation:
// StatusDelivered, or StatusForwarded when the target is on another broker
// of a federation (if it turns out to be nowhere, a routing_error comes to
// the handler later). StatusFailed comes with ErrNotDelivered. content is
// encoded with encoding/json; a json.RawMessage is sent as it is.
func (c *Client) Send(ctx context.Context, target string, content any) (string, error) {
	raw, err := marshalContent(content)
	if err != nil {
		return "", err
	}
	w, err := c.call(ctx, TypeDeliveryConfirmation, struct {
		Content json.RawMessage `json:"content"`
		Target  string          `json:"target"`
		Type    string          `json:"type"`
	}{raw, target, TypeDirectMessage})
	if err != nil {
		return "", err
	}
	if w.Status == StatusFailed {
		return w.Status, ErrNotDelivered
	}
	return w.Status, nil
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
		c.closed = true
		pending := c.pending
		c.pending = nil
		c.mu.Unlock()
		for _, cl := range pending {
			cl.done <- result{err: ErrClosed}
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
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("broker: encoding the content: %w", err)
	}
	return b, nil
}

// wire is any message from the broker: a Message, or a reply.
type wire struct {
	Message
	Status     string       `json:"status"`
	ClientID   string       `json:"client_id"`
	Text       string       `json:"message"`
	Target     string       `json:"target"`
	Recipients int          `json:"recipients"`
	Clients    []ClientInfo `json:"clients"`
	Total      int          `json:"total"`
	Stats      PongStats    `json:"stats"`
}

type call struct {
	want string // the reply type that answers it
	done chan result
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
	cl := &call{want: want, done: make(chan result, 1)}
	c.sendMu.Lock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.sendMu.Unlock()
		return nil, ErrClosed
	}
	c.pending = append(c.pending, cl)
	c.mu.Unlock()
	err = c.sock.Send(ctx, zmq.NewMsg(body))
	if err != nil {
		c.mu.Lock()
		if i := slices.Index(c.pending, cl); i >= 0 {
			c.pending = slices.Delete(c.pending, i, i+1)
		}
		c.mu.Unlock()
	}
	c.sendMu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case r := <-cl.done:
		if r.err != nil {
			return nil, r.err
		}
		if r.w.Type == TypeError {
			return nil, &Error{Message: r.w.Text, Time: fromUnix(r.w.Timestamp)}
		}
		return r.w, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func isReply(typ string) bool {
	switch typ {
	case TypeRegistrationAck, TypeDeliveryConfirmation, TypeBroadcastConfirmation, TypeClientList, TypePong, TypeError:
		return true
	}
	return false
}

// resolve hands a reply to the oldest request waiting for one. Requests
// before it that wanted another type of reply lost theirs. It reports
// false if no request waits.
func (c *Client) resolve(w *wire) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) > 0 {
		cl := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		if w.Type == TypeError || w.Type == cl.want {
			cl.done <- result{w: w}
			return true
		}
		cl.done <- result{err: ErrNoReply}
	}
	return false
}

func (c *Client) recvLoop() {
	defer c.wg.Done()
	for {
		m, err := c.sock.Recv(c.ctx)
		if err != nil {
			if c.ctx.Err() == nil && !errors.Is(err, zmq.ErrClosed) {
				c.log.Error("broker client: receive failed", "err", err)
			}
			return
		}
		body := m.Frames[len(m.Frames)-1]
		w := new(wire)
		if err := json.Unmarshal(body, w); err != nil {
			c.log.Warn("broker client: undecodable message", "err", err)
			var t typeOnly
			json.Unmarshal(body, &t)
			w = &wire{Message: Message{Type: t.Type}}
		}
		if isReply(w.Type) && c.resolve(w) {
			continue
		}
		if c.handler == nil {
			continue
		}
		msg := w.Message
		msg.Raw = body
		select {
		case c.inbox <- msg:
		case <-c.ctx.Done():
			return
		}
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
