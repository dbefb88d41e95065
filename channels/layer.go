package channels

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/zmqgo/zmq"
)

// ErrChannelFull is returned (wrapped in a *ServerError) by Send when
// the channel holds its capacity of messages, as channels' ChannelFull.
var ErrChannelFull = errors.New("channels: channel is full")

// ServerError is a request the server refused with EXCEPTON; Exception
// is its text, a Python repr such as "ChannelFull('...')".
type ServerError struct {
	Command   string
	Exception string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("channels: server refused %s: %s", e.Command, e.Exception)
}

// Is makes errors.Is(err, ErrChannelFull) and ErrInvalidName hold for the
// matching exceptions.
func (e *ServerError) Is(target error) bool {
	switch target {
	case ErrChannelFull:
		return strings.HasPrefix(e.Exception, "ChannelFull(")
	case ErrInvalidName:
		return strings.HasPrefix(e.Exception, "TypeError(")
	}
	return false
}

// Message is a channel message: a msgpack map, as Django Channels
// messages are dicts. Values are what Props holds.
type Message = map[string]any

// LayerOption configures a Layer.
type LayerOption func(*Layer)

// WithExpiry sets the time to live of sent messages (default: the
// server's, 60 s unless changed).
func WithExpiry(d time.Duration) LayerOption { return func(l *Layer) { l.expiry = d } }

// WithGroupExpiry sets how long GroupAdd keeps a channel in a group
// (default: the server's, 86400 s unless changed).
func WithGroupExpiry(d time.Duration) LayerOption { return func(l *Layer) { l.groupExpiry = d } }

// WithLayerLogger logs the layer's trouble (silent by default).
func WithLayerLogger(lg *slog.Logger) LayerOption { return func(l *Layer) { l.log = lg } }

// SendOption configures one Send or GroupSend.
type SendOption func(*Props)

// WithTTL gives one message its own time to live (fractions honoured), on
// Send and on GroupSend (channels #1361).
func WithTTL(d time.Duration) SendOption {
	return func(p *Props) { p.Set("ttl", d.Seconds()) }
}

// Layer is a channel layer client speaking DMB's protocol: what
// django_message_broker.ChannelsServerLayer does in a Django process, for
// Go. Its methods are safe for concurrent use.
type Layer struct {
	data, sig   *zmq.Socket
	log         *slog.Logger
	expiry      time.Duration
	groupExpiry time.Duration
	prefix      string // for NewChannel

	// gen counts the events after which the server may have forgotten
	// our subscriptions (a flush, a reconnection): waiting Receives renew.
	gen atomic.Uint64

	mu      sync.Mutex
	subs    map[string]subscription // channels subscribed, when
	queues  map[string]*localQueue
	pending map[string]chan reply
	wg      sync.WaitGroup
	once    sync.Once
	closed  chan struct{}
}

type reply struct {
	cmd   string
	props Props
	raw   []byte
}

type subscription struct {
	gen uint64
	at  time.Time
}

type localQueue struct {
	msgs   []delivered
	signal chan struct{} // one token while msgs may be non-empty
}

type delivered struct {
	body    []byte
	expires time.Time
}

// resubscribe is how often a waiting Receive renews its subscription, so
// a restarted server, or one that dropped it, delivers again.
const resubscribe = 5 * time.Second

// Dial connects a Layer to the server whose data port is addr
// (tcp://HOST:PORT; signalling on PORT+1). Connection happens in the
// background, as ZeroMQ's does; requests wait for it.
func Dial(addr string, opts ...LayerOption) (*Layer, error) {
	host, port, err := SplitBind(addr)
	if err != nil {
		return nil, err
	}
	return dialEndpoints(joinBind(host, port), joinBind(host, port+1), opts...)
}

// dialEndpoints connects the data and signalling sockets to the
// endpoints given (tests put a proxy in front of one).
func dialEndpoints(dataEP, sigEP string, opts ...LayerOption) (*Layer, error) {
	var err error
	l := &Layer{log: slog.New(slog.DiscardHandler), queues: map[string]*localQueue{}, subs: map[string]subscription{},
		pending: map[string]chan reply{}, closed: make(chan struct{})}
	for _, o := range opts {
		o(l)
	}
	id := make([]byte, 4)
	rand.Read(id)
	l.prefix = "go" + hex.EncodeToString(id)
	sopts := []zmq.Option{zmq.WithLinger(time.Second), zmq.WithHeartbeatInterval(5 * time.Second),
		zmq.WithHeartbeatTimeout(15 * time.Second), zmq.WithReconnectIntervalMax(2 * time.Second),
		zmq.WithMaxMsgSize(2 * MaxBodySize), zmq.WithLogger(l.log)}
	if l.data, err = zmq.NewSocket(zmq.Dealer, sopts...); err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	if l.sig, err = zmq.NewSocket(zmq.Dealer, sopts...); err != nil {
		l.data.Close()
		return nil, fmt.Errorf("channels: %w", err)
	}
	// Watch before connecting, so that the first handshake watch sees is
	// the first connection's, not already a reconnection's.
	events := l.data.Monitor(context.Background())
	if err := l.data.Connect(dataEP); err != nil {
		l.data.Close()
		l.sig.Close()
		return nil, fmt.Errorf("channels: %w", err)
	}
	if err := l.sig.Connect(sigEP); err != nil {
		l.data.Close()
		l.sig.Close()
		return nil, fmt.Errorf("channels: %w", err)
	}
	l.wg.Add(3)
	go l.read(l.data, false)
	go l.read(l.sig, true)
	go l.watch(events)
	return l, nil
}

// watch renews subscriptions after a reconnection: a restarted server
// knows none of them.
func (l *Layer) watch(events <-chan zmq.Event) {
	defer l.wg.Done()
	first := true
	for e := range events {
		if e.Type != zmq.EventHandshakeSucceeded {
			continue
		}
		if first {
			first = false
			continue
		}
		l.forget(false)
	}
}

// forget wakes every waiting Receive to renew its subscription; with
// drop, the undelivered messages go too (a flush).
func (l *Layer) forget(drop bool) {
	l.gen.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, q := range l.queues {
		select {
		case q.signal <- struct{}{}:
		default:
		}
	}
	if drop {
		clear(l.queues)
	}
	clear(l.subs)
}

// Close closes the layer; blocked calls return ErrClosed.
func (l *Layer) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.data.Close()
		l.sig.Close()
		l.wg.Wait()
	})
	return nil
}

func newID() []byte {
	id := make([]byte, 16)
	rand.Read(id)
	id[6] = id[6]&0x0f | 0x40 // uuid4, as DMB's ids
	id[8] = id[8]&0x3f | 0x80
	return id
}

func (l *Layer) read(s *zmq.Socket, sig bool) {
	defer l.wg.Done()
	for {
		m, err := s.Recv(context.Background())
		if err != nil {
			return
		}
		_, rest, err := splitEnvelope(m.Frames)
		if err != nil {
			l.log.Debug("channels: layer dropped a message without delimiter")
			continue
		}
		if sig {
			sm, err := ParseSignal(rest)
			if err != nil {
				l.log.Debug("channels: layer dropped a bad signalling message", "err", err)
				continue
			}
			if sm.Command == CmdFlushClient {
				l.forget(true)
				continue
			}
			l.answer(sm.ID, reply{sm.Command, sm.Props, rest[2]})
			continue
		}
		dm, err := ParseData(rest)
		if err != nil {
			l.log.Debug("channels: layer dropped a bad data message", "err", err)
			continue
		}
		if dm.Command != CmdDelivery {
			l.answer(dm.ID, reply{dm.Command, dm.Props, nil})
			continue
		}
		d := delivered{body: dm.Body}
		if t, ok := dm.Props.Get("expiry"); ok {
			d.expires, _ = t.(time.Time)
		}
		l.mu.Lock()
		q := l.queue(string(dm.Channel))
		q.msgs = append(q.msgs, d)
		l.mu.Unlock()
		select {
		case q.signal <- struct{}{}:
		default:
		}
	}
}

func (l *Layer) queue(name string) *localQueue {
	q := l.queues[name]
	if q == nil {
		q = &localQueue{signal: make(chan struct{}, 1)}
		l.queues[name] = q
	}
	return q
}

func (l *Layer) answer(id []byte, r reply) {
	l.mu.Lock()
	ch := l.pending[string(id)]
	delete(l.pending, string(id))
	l.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// request sends frames on the data or signalling socket and waits for
// the reply with the same id.
func (l *Layer) request(ctx context.Context, sig bool, id []byte, frames [][]byte) (reply, error) {
	ch := make(chan reply, 1)
	l.mu.Lock()
	l.pending[string(id)] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.pending, string(id))
		l.mu.Unlock()
	}()
	s := l.data
	if sig {
		s = l.sig
	}
	if err := s.Send(ctx, zmq.Msg{Frames: append([][]byte{nil}, frames...)}); err != nil {
		return reply{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return reply{}, ctx.Err()
	case <-l.closed:
		return reply{}, ErrClosed
	}
}

func (l *Layer) dataRequest(ctx context.Context, cmd, channel string, p Props, body []byte) error {
	id := newID()
	props, err := AppendProps(nil, p)
	if err != nil {
		return err
	}
	r, err := l.request(ctx, false, id, DataMessage{Channel: []byte(channel), Command: cmd, ID: id, Body: body}.frames(props))
	if err != nil {
		return err
	}
	return replyErr(cmd, r)
}

func (l *Layer) signalRequest(ctx context.Context, cmd string, p Props) (reply, error) {
	id := newID()
	props, err := AppendProps(nil, p)
	if err != nil {
		return reply{}, err
	}
	r, err := l.request(ctx, true, id, [][]byte{id, []byte(cmd), props})
	if err != nil {
		return r, err
	}
	return r, replyErr(cmd, r)
}

func replyErr(cmd string, r reply) error {
	switch r.cmd {
	case CmdException:
		text, _ := r.props.Get("exception")
		s, _ := text.(string)
		return &ServerError{Command: cmd, Exception: s}
	case CmdComplete, CmdPerfReport, CmdHeartbeat:
		return nil
	}
	return fmt.Errorf("channels: unexpected reply %q to %s", r.cmd, cmd)
}

// EncodeMessage encodes a channel message as DMB's client does (a
// msgpack map; an empty message as EmptyBody).
func EncodeMessage(m Message) ([]byte, error) {
	if len(m) == 0 {
		return EmptyBody, nil
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := encodeValue(enc, m, 0); err != nil {
		return nil, err
	}
	if buf.Len() > MaxBodySize {
		return nil, fmt.Errorf("channels: message of %d bytes exceeds %d", buf.Len(), MaxBodySize)
	}
	return buf.Bytes(), nil
}

// DecodeMessage decodes a body. EmptyBody, what DMB sends for an empty
// message, is an empty message (DMB's own client decodes it as 123).
func DecodeMessage(b []byte) (Message, error) {
	if bytes.Equal(b, EmptyBody) {
		return Message{}, nil
	}
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	v, err := decodeValue(dec, len(b), 0)
	if err != nil {
		return nil, formatErr("body: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, formatErr("body is a %s, not a dict", typeName(v))
	}
	return m, nil
}

func sendProps(ttl time.Duration, opts []SendOption) Props {
	p := Props{}
	if ttl > 0 {
		p.Set("ttl", ttl.Seconds())
	}
	for _, o := range opts {
		o(&p)
	}
	p.Set("ack", true)
	return p
}

// Send queues msg on channel. Errors: ErrInvalidName, ErrChannelFull
// (both as *ServerError from the server, or ErrInvalidName locally).
func (l *Layer) Send(ctx context.Context, channel string, msg Message, opts ...SendOption) error {
	if err := ValidChannelName(channel); err != nil {
		return err
	}
	if _, ok := msg["__asgi_channel__"]; ok {
		return errors.New("channels: message may not carry __asgi_channel__")
	}
	body, err := EncodeMessage(msg)
	if err != nil {
		return err
	}
	return l.dataRequest(ctx, CmdSend, channel, sendProps(l.expiry, opts), body)
}

// GroupSend queues msg on every channel of group; full channels are
// skipped, as channels specifies (the server counts them).
func (l *Layer) GroupSend(ctx context.Context, group string, msg Message, opts ...SendOption) error {
	if err := ValidGroupName(group); err != nil {
		return err
	}
	body, err := EncodeMessage(msg)
	if err != nil {
		return err
	}
	return l.dataRequest(ctx, CmdGroupSend, group, sendProps(l.expiry, opts), body)
}

// Receive returns the next message of channel, waiting for one until ctx
// ends. Messages whose time to live ran out are skipped.
func (l *Layer) Receive(ctx context.Context, channel string) (Message, error) {
	if err := ValidChannelName(channel); err != nil {
		return nil, err
	}
	l.mu.Lock()
	q := l.queue(channel)
	l.mu.Unlock()
	var tick <-chan time.Time
	var gen uint64
	for {
		l.mu.Lock()
		if q != l.queues[channel] { // flushed
			q = l.queue(channel)
		}
		now := time.Now()
		for len(q.msgs) > 0 {
			d := q.msgs[0]
			q.msgs[0] = delivered{}
			q.msgs = q.msgs[1:]
			if !d.expires.IsZero() && !now.Before(d.expires) {
				continue
			}
			if len(q.msgs) > 0 {
				select {
				case q.signal <- struct{}{}:
				default:
				}
			}
			l.mu.Unlock()
			return DecodeMessage(d.body)
		}
		l.mu.Unlock()
		if g := l.gen.Load(); tick == nil || g != gen {
			gen = g
			// Subscribe unless done lately in this generation: the
			// server holds subscriptions for a day; renewing every
			// resubscribe interval is plenty.
			l.mu.Lock()
			sub, ok := l.subs[channel]
			l.mu.Unlock()
			if !ok || sub.gen != g || time.Since(sub.at) >= resubscribe {
				if err := l.subscribe(ctx, channel); err != nil {
					return nil, err
				}
				l.mu.Lock()
				l.subs[channel] = subscription{g, time.Now()}
				l.mu.Unlock()
			}
			if tick == nil {
				t := time.NewTicker(resubscribe)
				defer t.Stop()
				tick = t.C
			}
		}
		select {
		case <-q.signal:
		case <-tick:
			if err := l.subscribe(ctx, channel); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.closed:
			return nil, ErrClosed
		}
	}
}

// subscribe sends SUBCHANX, acked (DMB's layer does not ask, so it never
// hears that a process channel it wants is taken).
func (l *Layer) subscribe(ctx context.Context, channel string) error {
	return l.dataRequest(ctx, CmdSubscribe, channel, Props{{"subscriber_name", []byte(channel)}, {"ack", true}}, nil)
}

// NewChannel returns a new process channel name (prefix.ID!ID) that only
// this layer receives from.
func (l *Layer) NewChannel(prefix string) string {
	if prefix == "" {
		prefix = "specific"
	}
	return prefix + "." + l.prefix + "!" + hex.EncodeToString(newID())
}

// GroupAdd adds channel to group.
func (l *Layer) GroupAdd(ctx context.Context, group, channel string) error {
	if err := ValidGroupName(group); err != nil {
		return err
	}
	if err := ValidChannelName(channel); err != nil {
		return err
	}
	p := Props{{"group_name", []byte(group)}, {"channel_name", []byte(channel)}}
	if l.groupExpiry > 0 {
		p = append(p, KV{"ttl", l.groupExpiry.Seconds()})
	}
	p = append(p, KV{"ack", true})
	_, err := l.signalRequest(ctx, CmdGroupAdd, p)
	return err
}

// GroupDiscard removes channel from group.
func (l *Layer) GroupDiscard(ctx context.Context, group, channel string) error {
	if err := ValidGroupName(group); err != nil {
		return err
	}
	if err := ValidChannelName(channel); err != nil {
		return err
	}
	_, err := l.signalRequest(ctx, CmdGroupDiscard, Props{{"group_name", []byte(group)}, {"channel_name", []byte(channel)}, {"ack", true}})
	return err
}

// Flush drops every message, subscription and group on the server, and
// this layer's undelivered messages (other layers get FLUSHCXX).
func (l *Layer) Flush(ctx context.Context) error {
	_, err := l.signalRequest(ctx, CmdFlush, Props{{"ack", true}})
	l.forget(true)
	return err
}

// GroupChannels lists the channels in group (sorted), which channels'
// own layers cannot tell.
func (l *Layer) GroupChannels(ctx context.Context, group string) ([]string, error) {
	r, err := l.signalRequest(ctx, CmdGroupList, Props{{"group_name", []byte(group)}})
	if err != nil {
		return nil, err
	}
	v, _ := r.props.Get("channels")
	return stringList(v), nil
}

func stringList(v any) []string {
	a, _ := v.([]any)
	l := make([]string, 0, len(a))
	for _, e := range a {
		switch e := e.(type) {
		case string:
			l = append(l, e)
		case []byte:
			l = append(l, string(e))
		}
	}
	return l
}

// ChannelInfo tells whether anyone receives from channel, how many
// messages wait for it and which groups hold it.
func (l *Layer) ChannelInfo(ctx context.Context, channel string) (ChannelInfo, error) {
	r, err := l.signalRequest(ctx, CmdChannelInfo, Props{{"channel_name", []byte(channel)}})
	if err != nil {
		return ChannelInfo{}, err
	}
	ci := ChannelInfo{Channel: channel}
	ci.Subscribers = intProp(r.props, "subscribers")
	ci.Queued = intProp(r.props, "queued")
	ci.Capacity = intProp(r.props, "capacity")
	g, _ := r.props.Get("groups")
	ci.Groups = stringList(g)
	return ci, nil
}

// Report asks the server for its PERFRPRT: the properties of Stats.
func (l *Layer) Report(ctx context.Context) (Props, error) {
	r, err := l.signalRequest(ctx, CmdPerformance, Props{})
	return r.props, err
}

func intProp(p Props, k string) int {
	switch v, _ := p.Get(k); v := v.(type) {
	case int64:
		return int(v)
	case uint64:
		return int(v)
	}
	return 0
}
