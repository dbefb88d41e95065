package channels

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// Stats are a server's counters (since start) and counts (now).
type Stats struct {
	Received    uint64  `json:"messages_in"`   // SENDCHAN accepted, and per channel of a SENDGRPX
	Delivered   uint64  `json:"messages_out"`  // DELIVERY sent
	GroupSends  uint64  `json:"group_sends"`   // SENDGRPX handled
	DroppedFull uint64  `json:"dropped_full"`  // refused or skipped: channel at capacity
	Expired     uint64  `json:"expired"`       // messages whose TTL ran out undelivered
	Errors      uint64  `json:"errors"`        // requests that failed (EXCEPTON or would have)
	BadFrames   uint64  `json:"bad_frames"`    // messages dropped without an answer
	GonePeers   uint64  `json:"gone_peers"`    // connections closed or dead with subscriptions
	Channels    int     `json:"channels"`      // channel queues
	Queued      int     `json:"queued"`        // messages waiting in them
	Subscribers int     `json:"subscribers"`   // subscriptions
	Groups      int     `json:"groups"`        // groups
	Members     int     `json:"group_members"` // (group, channel) pairs
	InPerSec    float64 `json:"in_per_sec"`    // Received over the last second
	OutPerSec   float64 `json:"out_per_sec"`   // Delivered over the last second
	Uptime      float64 `json:"uptime_seconds"`
	// The store: "memory", or "redis" (Config.Redis) with its health.
	Store        string `json:"store"`
	StoreUp      bool   `json:"store_up"`      // Redis answered the last call
	StoreErrors  uint64 `json:"store_errors"`  // Redis calls that failed
	StoreOutages uint64 `json:"store_outages"` // times Redis became unreachable
	Forwarded    uint64 `json:"forwarded"`     // process-channel messages sent to their owner node
	Unrouted     uint64 `json:"unrouted"`      // process-channel messages nobody owned, dropped
}

// ChannelInfo is a channel's presence, for CHANINFO and Server.ChannelInfo.
type ChannelInfo struct {
	Channel     string   `json:"channel"`
	Subscribers int      `json:"subscribers"`
	Queued      int      `json:"queued"`
	Capacity    int      `json:"capacity"`
	Groups      []string `json:"groups"`
}

type message struct {
	id, seq, props, body []byte // props: encoded, with "expiry"
	expires              time.Time
	credit, wake         chan struct{} // popped from Redis: credit returned when it leaves the queue
}

type endpoint struct {
	peer    string   // routing id
	env     [][]byte // routing envelope
	name    []byte   // subscriber name, frame 1 of DELIVERY
	expires time.Time
}

type queue struct {
	name     string
	msgs     []*message // FIFO from head
	head     int
	subs     []*endpoint
	next     int // round-robin position
	capacity int
	blocked  bool // every subscriber was full; retried
}

func (q *queue) len() int { return len(q.msgs) - q.head }

func (q *queue) pop() {
	q.msgs[q.head] = nil
	q.head++
	if q.head == len(q.msgs) {
		q.msgs, q.head = q.msgs[:0], 0
	} else if q.head > 64 && q.head*2 > len(q.msgs) {
		n := copy(q.msgs, q.msgs[q.head:])
		clear(q.msgs[n:])
		q.msgs, q.head = q.msgs[:n], 0
	}
}

// sink sends whole messages (envelope, empty frame, message) on the data
// or signalling socket.
type sink interface {
	send(sig bool, msg [][]byte) error
}

func (s *state) sendData(env, frames [][]byte) error { return s.out.send(false, envelope(env, frames)) }

func (s *state) sendSignal(env, frames [][]byte) error {
	return s.out.send(true, envelope(env, frames))
}

func envelope(env, frames [][]byte) [][]byte {
	out := make([][]byte, 0, len(env)+1+len(frames))
	out = append(out, env...)
	out = append(out, nil)
	return append(out, frames...)
}

// deliveryCmd is shared by every DELIVERY: sockets only read frames.
var deliveryCmd = []byte(CmdDelivery)

type state struct {
	cfg    *Config
	out    sink
	now    func() time.Time
	queues map[string]*queue
	groups map[string]map[string]time.Time // group -> channel -> expiry
	peers  map[string]map[*endpoint]*queue // data peer -> its subscriptions
	sigs   map[string][][]byte             // signalling peers, for FLUSHCXX
	block  map[*queue]struct{}

	// changed is closed and replaced whenever a subscription comes or
	// goes, for those waiting on it (tests, through Server.waitChannel).
	changed chan struct{}

	rs *redisStore // nil: in memory

	st              Stats
	badFrames       atomic.Uint64 // counted by the readers
	lastIn, lastOut uint64
	lastRate        time.Time
	started         time.Time
}

func newState(cfg *Config, out sink) *state {
	now := time.Now()
	return &state{cfg: cfg, out: out, now: time.Now,
		queues: map[string]*queue{}, groups: map[string]map[string]time.Time{},
		peers: map[string]map[*endpoint]*queue{}, sigs: map[string][][]byte{},
		block: map[*queue]struct{}{}, lastRate: now, started: now, changed: make(chan struct{})}
}

// A requestError is answered with EXCEPTON {"exception": repr}.
type requestError struct {
	name string // Python exception class, as DMB's repr shows
	err  error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

func reqErr(name, format string, args ...any) error {
	return &requestError{name, fmt.Errorf(format, args...)}
}

func exceptionText(err error) string {
	var re *requestError
	if errors.As(err, &re) {
		return pyRepr(re.name, re.err.Error())
	}
	if errors.Is(err, ErrFormat) {
		return pyRepr("MessageFormatException", err.Error())
	}
	if errors.Is(err, ErrInvalidName) {
		return pyRepr("TypeError", err.Error())
	}
	return pyRepr("ChannelsServerError", err.Error())
}

func (s *state) capacity(name string) int {
	for _, r := range s.cfg.ChannelCapacity {
		if r.match(name) {
			return r.Capacity
		}
	}
	return s.cfg.Capacity
}

func (s *state) queue(name string) *queue {
	q := s.queues[name]
	if q == nil {
		q = &queue{name: name, capacity: s.capacity(name)}
		s.queues[name] = q
	}
	return q
}

// onData handles a data-port message.
func (s *state) onData(env [][]byte, frames [][]byte) {
	m, err := ParseData(frames)
	if err != nil {
		s.st.Errors++
		s.cfg.Logger.Debug("channels: malformed data message", "err", err)
		if m.ID != nil {
			// Framed but undecodable: answer by id, ack unknown.
			s.replyData(env, m.Channel, m.ID, CmdException, Props{{"exception", exceptionText(err)}})
		} else {
			s.badFrames.Add(1)
		}
		return
	}
	var reply func()
	switch m.Command {
	case CmdSubscribe:
		err = s.subscribe(env, &m)
	case CmdUnsubscribe:
		err = s.unsubscribe(env, &m)
	case CmdSend:
		if s.rs != nil {
			err = s.redisSend(env, &m)
		} else {
			err = s.send(&m)
		}
	case CmdGroupSend:
		if s.rs != nil {
			err = s.redisGroupSend(env, &m)
		} else {
			err = s.groupSend(&m)
		}
	case CmdHeartbeat:
		s.refresh(string(env[0]))
		reply = func() { s.replyData(env, m.Channel, m.ID, CmdHeartbeat, nil) }
	default:
		err = reqErr("MessageCommandUnknown", "%q is not a data command", m.Command)
	}
	switch {
	case err == errDeferred:
	case reply != nil:
		reply()
	case err != nil:
		s.st.Errors++
		s.cfg.Logger.Debug("channels: data request refused", "command", m.Command, "channel", string(m.Channel), "err", err)
		if m.Props.truthy("ack") {
			s.replyData(env, m.Channel, m.ID, CmdException, Props{{"exception", exceptionText(err)}})
		}
	case m.Props.truthy("ack"):
		s.replyData(env, m.Channel, m.ID, CmdComplete, nil)
	}
}

func (s *state) replyData(env [][]byte, channel, id []byte, cmd string, p Props) {
	if p == nil {
		p = Props{}
	}
	dm := DataMessage{Channel: channel, Command: cmd, ID: id, Props: p}
	fr, err := dm.Frames()
	if err == nil {
		err = s.sendData(env, fr)
	}
	if err != nil {
		s.cfg.Logger.Debug("channels: data reply not sent", "command", cmd, "err", err)
	}
}

func (s *state) subscribe(env [][]byte, m *DataMessage) error {
	name, ok := m.Props.name("subscriber_name")
	if !ok || name == "" {
		return reqErr("SubscriptionError", "subscriber_name must be provided")
	}
	ch := string(m.Channel)
	if err := ValidChannelName(ch); err != nil {
		return err
	}
	q := s.queue(ch)
	peer := string(env[0])
	exp := s.now().Add(s.cfg.SubscriberExpiry)
	for _, e := range q.subs {
		if e.peer == peer && string(e.name) == name {
			e.expires = exp // refresh
			s.pump(q)
			return nil
		}
	}
	if isProcess(ch) && len(q.subs) > 0 {
		return reqErr("SubscriptionError", "process channel %s already has a subscriber", ch)
	}
	e := &endpoint{peer: peer, env: slices.Clone(env), name: []byte(name), expires: exp}
	q.subs = append(q.subs, e)
	ps := s.peers[peer]
	if ps == nil {
		ps = map[*endpoint]*queue{}
		s.peers[peer] = ps
	}
	ps[e] = q
	s.notify()
	s.pump(q)
	if s.rs != nil && len(q.subs) == 1 {
		return s.watch(env, m, q, e)
	}
	return nil
}

func (s *state) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *state) unsubscribe(env [][]byte, m *DataMessage) error {
	name, ok := m.Props.name("subscriber_name")
	if !ok || name == "" {
		return reqErr("SubscriptionError", "subscriber_name must be provided")
	}
	q := s.queues[string(m.Channel)]
	if q == nil {
		return reqErr("SubscriptionError", "cannot unsubscribe: channel %s does not exist", m.Channel)
	}
	for _, e := range q.subs {
		if e.peer == string(env[0]) && string(e.name) == name {
			s.dropEndpoint(q, e)
			return nil
		}
	}
	return reqErr("SubscriptionError", "cannot unsubscribe: %s is not subscribed to %s", name, m.Channel)
}

func (s *state) dropEndpoint(q *queue, e *endpoint) {
	i := slices.Index(q.subs, e)
	if i < 0 {
		return
	}
	q.subs = slices.Delete(q.subs, i, i+1)
	if q.next > i {
		q.next--
	}
	s.notify()
	if ps := s.peers[e.peer]; ps != nil {
		delete(ps, e)
		if len(ps) == 0 {
			delete(s.peers, e.peer)
		}
	}
	if s.rs != nil && len(q.subs) == 0 {
		s.unwatch(q)
	}
}

// ttl reads the request's "ttl" property (seconds, fractions honoured).
func (s *state) ttl(p Props) (time.Duration, error) {
	d, ok, err := p.seconds("ttl")
	if err != nil {
		return 0, reqErr("ValueError", "%v", err)
	}
	if !ok {
		return s.cfg.Expiry, nil
	}
	return d, nil
}

// encodeFor builds what every delivery of m carries: its properties plus
// "expiry", the absolute deadline, as DMB's server adds it.
func (s *state) encodeFor(m *DataMessage) (*message, error) {
	if len(m.Body) > MaxBodySize {
		return nil, reqErr("MessageTooLarge", "body of %d bytes exceeds %d", len(m.Body), MaxBodySize)
	}
	ttl, err := s.ttl(m.Props)
	if err != nil {
		return nil, err
	}
	exp := s.now().Add(ttl)
	p := slices.Clone(m.Props)
	p.Set("expiry", exp)
	enc, err := AppendProps(nil, p)
	if err != nil {
		return nil, reqErr("MessageFormatException", "%v", err)
	}
	return &message{id: m.ID, seq: m.Seq, props: enc, body: m.Body, expires: exp}, nil
}

func (s *state) send(m *DataMessage) error {
	ch := string(m.Channel)
	if err := ValidChannelName(ch); err != nil {
		return err
	}
	msg, err := s.encodeFor(m)
	if err != nil {
		return err
	}
	q := s.queue(ch)
	if q.len() >= q.capacity {
		s.st.DroppedFull++
		return reqErr("ChannelFull", "channel %s is full (capacity %d)", ch, q.capacity)
	}
	s.push(q, msg)
	return nil
}

func (s *state) push(q *queue, msg *message) {
	s.st.Received++
	q.msgs = append(q.msgs, msg)
	s.pump(q)
}

func (s *state) groupSend(m *DataMessage) error {
	g := string(m.Channel)
	if err := ValidGroupName(g); err != nil {
		return err
	}
	msg, err := s.encodeFor(m)
	if err != nil {
		return err
	}
	s.st.GroupSends++
	now := s.now()
	full := 0
	for ch, exp := range s.groups[g] {
		if !now.Before(exp) {
			continue // expired, the sweep removes it
		}
		q := s.queue(ch)
		if q.len() >= q.capacity {
			full++ // channels' spec: group sends drop silently when full
			continue
		}
		s.push(q, msg)
	}
	if full > 0 {
		s.st.DroppedFull += uint64(full)
		s.cfg.Logger.Debug("channels: group send skipped full channels", "group", g, "full", full)
	}
	return nil
}

// pump hands q's messages to its subscribers, round-robin, until it runs
// out of one or the other, or every subscriber is full.
func (s *state) pump(q *queue) {
	now := s.now()
	for q.len() > 0 && len(q.subs) > 0 {
		msg := q.msgs[q.head]
		if !now.Before(msg.expires) {
			q.pop()
			release(msg)
			s.st.Expired++
			continue
		}
		sent := false
		for tries := len(q.subs); tries > 0 && len(q.subs) > 0; tries-- {
			if q.next >= len(q.subs) {
				q.next = 0
			}
			e := q.subs[q.next]
			full := make([][]byte, 0, len(e.env)+7) // the one allocation of a delivery
			full = append(full, e.env...)
			full = append(full, nil, e.name, deliveryCmd, msg.id, msg.seq, msg.props, msg.body)
			err := s.out.send(false, full)
			if err == nil {
				q.next++
				sent = true
				break
			}
			if errors.Is(err, errPeerGone) {
				s.gone(false, e.peer)
				continue
			}
			q.next++ // full (or failing): the next one
		}
		if !sent {
			if len(q.subs) > 0 && !q.blocked {
				q.blocked = true
				s.block[q] = struct{}{}
			}
			return
		}
		q.pop()
		release(msg)
		s.st.Delivered++
	}
}

func (s *state) retryBlocked() {
	for q := range s.block {
		delete(s.block, q)
		q.blocked = false
		s.pump(q)
	}
}

// refresh renews every subscription of a data peer that shows it is
// alive (HARTBEAT).
func (s *state) refresh(peer string) {
	exp := s.now().Add(s.cfg.SubscriberExpiry)
	for e := range s.peers[peer] {
		e.expires = exp
	}
}

// gone drops a peer whose connection closed or died: its subscriptions
// (data) or its place in the FLUSHCXX list (signalling).
func (s *state) gone(sig bool, peer string) {
	if sig {
		delete(s.sigs, peer)
		return
	}
	ps := s.peers[peer]
	if len(ps) == 0 {
		return
	}
	s.st.GonePeers++
	s.cfg.Logger.Debug("channels: subscriber gone", "peer", fmt.Sprintf("%x", peer), "subscriptions", len(ps))
	for e, q := range ps {
		s.dropEndpoint(q, e)
	}
	delete(s.peers, peer)
}

// sweep removes what has expired and the queues and groups left empty.
func (s *state) sweep(now time.Time) {
	for name, q := range s.queues {
		if q.len() > 0 {
			kept := q.msgs[:0]
			for _, m := range q.msgs[q.head:] {
				if now.Before(m.expires) {
					kept = append(kept, m)
				} else {
					release(m)
					s.st.Expired++
				}
			}
			clear(q.msgs[len(kept):])
			q.msgs, q.head = kept, 0
		}
		for i := len(q.subs) - 1; i >= 0; i-- {
			if e := q.subs[i]; !now.Before(e.expires) {
				s.dropEndpoint(q, e)
			}
		}
		if q.len() == 0 && len(q.subs) == 0 {
			delete(s.queues, name)
			if q.blocked {
				delete(s.block, q)
			}
		}
	}
	for g, ms := range s.groups {
		for ch, exp := range ms {
			if !now.Before(exp) {
				delete(ms, ch)
			}
		}
		if len(ms) == 0 {
			delete(s.groups, g)
		}
	}
	if secs := now.Sub(s.lastRate).Seconds(); secs > 0 {
		s.st.InPerSec = float64(s.st.Received-s.lastIn) / secs
		s.st.OutPerSec = float64(s.st.Delivered-s.lastOut) / secs
		s.lastIn, s.lastOut, s.lastRate = s.st.Received, s.st.Delivered, now
	}
}

func (s *state) stats() Stats {
	st := s.st
	st.BadFrames = s.badFrames.Load()
	st.Channels = len(s.queues)
	for _, q := range s.queues {
		st.Queued += q.len()
		st.Subscribers += len(q.subs)
	}
	st.Groups = len(s.groups)
	for _, ms := range s.groups {
		st.Members += len(ms)
	}
	st.Uptime = s.now().Sub(s.started).Seconds()
	st.Store, st.StoreUp = "memory", true
	if r := s.rs; r != nil {
		st.Store, st.StoreUp = "redis", r.up.Load()
		st.StoreErrors, st.StoreOutages = r.errs.Load(), r.outages.Load()
		st.Forwarded, st.Unrouted = r.forwarded.Load(), r.unrouted.Load()
	}
	return st
}

func (s *state) members(group string) []string {
	now := s.now()
	var l []string
	for ch, exp := range s.groups[group] {
		if now.Before(exp) {
			l = append(l, ch)
		}
	}
	sort.Strings(l)
	return l
}

func (s *state) channelInfo(ch string) ChannelInfo {
	ci := ChannelInfo{Channel: ch, Capacity: s.capacity(ch), Groups: []string{}}
	if q := s.queues[ch]; q != nil {
		ci.Subscribers, ci.Queued = len(q.subs), q.len()
	}
	now := s.now()
	for g, ms := range s.groups {
		if exp, ok := ms[ch]; ok && now.Before(exp) {
			ci.Groups = append(ci.Groups, g)
		}
	}
	sort.Strings(ci.Groups)
	return ci
}

// onSignal handles a signalling-port message.
func (s *state) onSignal(env [][]byte, frames [][]byte) {
	m, err := ParseSignal(frames)
	if err != nil {
		s.st.Errors++
		s.cfg.Logger.Debug("channels: malformed signalling message", "err", err)
		if m.ID != nil {
			s.replySignal(env, m.ID, CmdException, Props{{"exception", exceptionText(err)}}, nil)
		} else {
			s.badFrames.Add(1)
		}
		return
	}
	if len(env) == 1 {
		s.sigs[string(env[0])] = slices.Clone(env)
	}
	ack := m.Props.truthy("ack")
	switch m.Command {
	case CmdGroupAdd:
		if s.rs != nil {
			err = s.redisGroupOp(env, &m, frames[2], true)
		} else {
			err = s.groupAdd(&m)
		}
	case CmdGroupDiscard:
		if s.rs != nil {
			err = s.redisGroupOp(env, &m, frames[2], false)
		} else {
			err = s.groupDiscard(&m)
		}
	case CmdFlush:
		if s.rs != nil {
			err = s.redisFlush(env, &m, frames[2])
		} else {
			s.flush(env)
		}
	case CmdPrint:
		st := s.stats()
		s.cfg.Logger.Info("channels: stores", "channels", st.Channels, "queued", st.Queued,
			"subscribers", st.Subscribers, "groups", st.Groups, "group_members", st.Members)
	case CmdPerformance:
		s.replySignal(env, m.ID, CmdPerfReport, s.report(), nil)
		return
	case CmdHeartbeat:
		s.replySignal(env, m.ID, CmdHeartbeat, Props{}, nil)
		return
	case CmdGroupList:
		if s.rs != nil {
			err = s.redisGroupList(env, &m)
			break
		}
		g, ok := m.Props.name("group_name")
		if !ok {
			err = reqErr("KeyError", "group_name must be provided")
			break
		}
		s.replySignal(env, m.ID, CmdComplete, Props{{"group_name", g}, {"channels", s.members(g)}}, nil)
		return
	case CmdChannelInfo:
		ch, ok := m.Props.name("channel_name")
		if !ok {
			err = reqErr("KeyError", "channel_name must be provided")
			break
		}
		ci := s.channelInfo(ch)
		s.replySignal(env, m.ID, CmdComplete, Props{{"channel_name", ch}, {"subscribers", ci.Subscribers},
			{"queued", ci.Queued}, {"capacity", ci.Capacity}, {"groups", ci.Groups}}, nil)
		return
	default:
		err = reqErr("MessageCommandUnknown", "%q is not a signalling command", m.Command)
	}
	switch {
	case err == errDeferred:
	case err != nil:
		s.st.Errors++
		s.cfg.Logger.Debug("channels: signalling request refused", "command", m.Command, "err", err)
		if ack || m.Command == CmdGroupList || m.Command == CmdChannelInfo {
			s.replySignal(env, m.ID, CmdException, Props{{"exception", exceptionText(err)}}, nil)
		}
	case ack:
		// DMB answers with the request's own properties.
		s.replySignal(env, m.ID, CmdComplete, nil, frames[2])
	}
}

func (s *state) replySignal(env [][]byte, id []byte, cmd string, p Props, raw []byte) {
	var err error
	if raw == nil {
		raw, err = AppendProps(nil, p)
	}
	if err == nil {
		err = s.sendSignal(env, [][]byte{id, []byte(cmd), raw})
	}
	if err != nil {
		s.cfg.Logger.Debug("channels: signalling reply not sent", "command", cmd, "err", err)
	}
}

func (s *state) groupNames(m *SignalMessage) (g, ch string, err error) {
	g, ok := m.Props.name("group_name")
	if !ok {
		return "", "", reqErr("KeyError", "group_name must be provided")
	}
	ch, ok = m.Props.name("channel_name")
	if !ok {
		return "", "", reqErr("KeyError", "channel_name must be provided")
	}
	if err := ValidGroupName(g); err != nil {
		return "", "", err
	}
	if err := ValidChannelName(ch); err != nil {
		return "", "", err
	}
	return g, ch, nil
}

func (s *state) groupAdd(m *SignalMessage) error {
	g, ch, err := s.groupNames(m)
	if err != nil {
		return err
	}
	ttl, ok, err := m.Props.seconds("ttl")
	if err != nil {
		return reqErr("ValueError", "%v", err)
	}
	if !ok {
		ttl = s.cfg.GroupExpiry
	}
	ms := s.groups[g]
	if ms == nil {
		ms = map[string]time.Time{}
		s.groups[g] = ms
	}
	ms[ch] = s.now().Add(ttl)
	return nil
}

func (s *state) groupDiscard(m *SignalMessage) error {
	g, ch, err := s.groupNames(m)
	if err != nil {
		return err
	}
	if ms := s.groups[g]; ms != nil {
		delete(ms, ch)
		if len(ms) == 0 {
			delete(s.groups, g)
		}
	}
	return nil
}

// flush drops every message, subscription and group, and tells every
// signalling peer to drop what it holds locally.
func (s *state) flush(env [][]byte) {
	if s.rs != nil {
		for _, q := range s.queues {
			for _, m := range q.msgs[q.head:] {
				release(m)
			}
			q.msgs, q.head = nil, 0
			if len(q.subs) > 0 {
				s.unwatch(q)
			}
		}
	}
	clear(s.queues)
	clear(s.groups)
	clear(s.peers)
	clear(s.block)
	s.notify()
	for _, e := range s.sigs {
		s.replySignal(e, newID(), CmdFlushClient, Props{}, nil)
	}
}

func (s *state) report() Props {
	st := s.stats()
	return Props{
		{"messages_in", st.Received}, {"messages_out", st.Delivered}, {"group_sends", st.GroupSends},
		{"dropped_full", st.DroppedFull}, {"expired", st.Expired}, {"errors", st.Errors},
		{"bad_frames", st.BadFrames}, {"gone_peers", st.GonePeers},
		{"channels", st.Channels}, {"queued", st.Queued}, {"subscribers", st.Subscribers},
		{"groups", st.Groups}, {"group_members", st.Members},
		{"in_per_sec", st.InPerSec}, {"out_per_sec", st.OutPerSec}, {"uptime", st.Uptime},
		{"store", st.Store}, {"store_up", st.StoreUp}, {"store_errors", st.StoreErrors},
		{"store_outages", st.StoreOutages}, {"forwarded", st.Forwarded}, {"unrouted", st.Unrouted},
	}
}
