package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is the broker's logic, free of sockets: a state that the
// broker's loop feeds with messages and events, one at a time, and that
// sends through a sink. The loop is its only user, so it needs no locks.

// sink is where the state's messages go: to a peer of the ROUTER, or up
// to an upstream broker.
type sink interface {
	// sendPeer queues body for the peer with routing id id, behind an
	// empty delimiter frame if delim. It never waits: it fails with
	// errQueueFull if the peer's queue is full, errGone if the peer is
	// not connected.
	sendPeer(id []byte, delim bool, body []byte) error
	// sendUp queues body for upstream i, failing with errQueueFull
	// rather than waiting.
	sendUp(i int, body []byte) error
}

var (
	errQueueFull = errors.New("queue full")
	errGone      = errors.New("peer not connected")
)

type peerKind uint8

const (
	kindUnknown peerKind = iota // has not registered
	kindClient                  // registered a name
	kindBroker                  // a downstream broker: announced its routes
)

// peer is one routing id of the ROUTER.
type peer struct {
	id    []byte
	user  string // the user id of its connection (ZAP): its identity, "" if none
	kind  peerKind
	name  string    // client: its name; broker: its node name
	since time.Time // client: registration; others: first message
	last  time.Time // last message of any kind
	lost  time.Time // when its last connection ended (liveness.go); zero while connected
	count int       // client: messages since it registered (message_count)
	delim bool      // it sent an empty delimiter frame: replies get one too
	limit bucket

	drops    uint64 // messages to it dropped at its queue's limit
	dropping bool   // the last message to it was dropped

	routes     []string // broker: the names routed to it
	pending    []string // broker: routes of an announcement still arriving in parts
	pendingGen uint64
	pendingGot int
}

// announceChunk is the most bytes of names one announcement part carries.
const announceChunk = 16 << 10

// Stats are a broker's counters since it started, and its current counts.
type Stats struct {
	Received    uint64 // messages received, from clients and brokers
	Sent        uint64 // messages sent
	Errors      uint64 // error replies, and messages that could not be delivered
	Dropped     uint64 // messages dropped because the recipient's queue was full
	RateLimited uint64 // requests refused by the rate limit
	Expired     uint64 // peers forgotten after Expire of silence
	Forwarded   uint64 // messages passed to other brokers of the federation
	// NamesRefused counts registrations Config.Names did not allow.
	NamesRefused uint64
	// FederationRefused counts federation messages (announcements,
	// forwarded messages, federated broadcasts) from peers not admitted
	// as brokers (Config.FederationPeers).
	FederationRefused uint64
	// TakenOver counts registrations dropped because another identity
	// reused the routing id (see Security in the package documentation).
	TakenOver  uint64
	Cut        uint64 // connections cut for a message over the hard cap (MaxMsgSize × 16)
	Broadcasts uint64 // broadcasts of clients here
	FanOut     uint64 // the clients here they reached, all together

	// By message type ("direct_message", ...) and by error reason
	// ("invalid_json", "queue_full", ...): only the non-zero counts.
	ReceivedByType map[string]uint64
	SentByType     map[string]uint64
	DroppedByType  map[string]uint64
	ErrorsByReason map[string]uint64
	// Cluster are the counters of a node of a cluster on Redis.
	Cluster ClusterStats

	Clients   int // registered clients
	Peers     int // routing ids known: clients, brokers and peers yet to register
	Brokers   int // downstream brokers
	Routes    int // client names reachable through downstream brokers
	Upstreams int // upstream connections that are up
}

type state struct {
	cfg *Config
	log *slog.Logger
	out sink
	now func() time.Time

	peers  map[string]*peer           // by routing id
	names  map[string]*peer           // registered clients by nameKey
	routes map[string]*peer           // nameKey of the names below downstream brokers → the broker
	conns  map[string]map[string]bool // routing id → its connections' peer addresses → pinged (liveness.go)
	ups    []bool                     // upstream i is connected
	gen    uint64                     // generation of our announcements
	stats  Stats
	count  counters

	reqID   json.RawMessage // the request_id of the request being handled, echoed in its reply
	dirty   bool            // names or routes changed since the last announcement
	changed chan struct{}   // closed and replaced whenever names or routes change (and on a cut)

	cluster *cluster // the cluster on Redis this broker is a node of, or nil
	cur     *peer    // the peer whose request is being handled
}

func newState(cfg *Config, out sink, upstreams int) *state {
	return &state{
		cfg: cfg, log: cfg.Logger, out: out, now: time.Now,
		peers:   make(map[string]*peer),
		names:   make(map[string]*peer),
		routes:  make(map[string]*peer),
		conns:   make(map[string]map[string]bool),
		ups:     make([]bool, upstreams),
		changed: make(chan struct{}),
	}
}

func (s *state) markChanged() {
	s.dirty = true
	s.notify()
}

// notify wakes the waiters of waitState.
func (s *state) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// handlePeer handles a message from the ROUTER: the frames after the
// routing id; user is its connection's user id (zmq.Msg.UserID).
func (s *state) handlePeer(id []byte, user string, frames [][]byte) {
	s.handlePeerAt(id, user, frames, nil, s.now())
}

// preparse parses a peer's message as handlePeerAt would (after a REQ's
// delimiter), if it is one frame; it reports whether it could. It takes no
// state, so it may run before the broker's lock.
func preparse(frames [][]byte, req *request) bool {
	if len(frames) > 1 && len(frames[0]) == 0 {
		frames = frames[1:]
	}
	return len(frames) == 1 && len(frames[0]) > 0 && parseRequest(frames[0], req)
}

// handlePeerAt is handlePeer at time now. pre is the message's request if
// preparse parsed it, or nil.
func (s *state) handlePeerAt(id []byte, user string, frames [][]byte, pre *request, now time.Time) {
	p := s.touch(id, user, now)
	// A REQ peer puts an empty delimiter first; its replies need one too.
	p.delim = len(frames) > 1 && len(frames[0]) == 0
	if p.delim {
		frames = frames[1:]
	}
	if p.kind != kindBroker && !p.limit.take(s.cfg.Rate, s.cfg.Burst, now) {
		s.count.received[mtOther]++
		s.stats.RateLimited++
		s.refuse(p, rsRateLimited, "rate limit exceeded: at most %g messages a second", s.cfg.Rate)
		return
	}
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	var req request
	var rs reason
	var err error
	switch {
	case size > s.cfg.MaxMsgSize && p.kind != kindBroker: // a forwarded message is a little larger
		rs, err = rsTooLarge, fmt.Errorf("message too large: %d bytes, at most %d", size, s.cfg.MaxMsgSize)
	case len(frames) != 1:
		rs, err = rsFrames, fmt.Errorf("invalid message: expected one frame, got %d", len(frames))
	case len(frames[0]) == 0:
		rs, err = rsEmpty, errors.New("empty message")
	case pre != nil: // the usual case: parsed before the lock
		req = *pre
	case parseRequest(frames[0], &req): // codec.go
	default:
		r := new(request) // decode's interface would move req to the heap on the usual path too
		if err = decode(frames[0], r); err != nil {
			rs, err = rsInvalid, fmt.Errorf("invalid message: %w", err)
		}
		req = *r
	}
	if err != nil {
		s.count.received[mtOther]++
		s.refuse(p, rs, "%v", err)
		return
	}
	body := frames[0]
	s.count.received[msgTypeOf(req.Type)]++
	s.reqID, s.cur = requestID(req.ID), p
	defer func() { s.reqID, s.cur = nil, nil }()
	switch req.Type {
	case TypeRegister:
		if req.Name == "" && req.Node != "" && p.kind != kindClient {
			if !s.mayFederate(p.user) {
				s.refuseBroker(p, "register{node}")
				return
			}
			s.brokerRegister(p, body)
			return
		}
		s.register(p, req.Name, req.Limits, now)
	case TypeDirectMessage:
		s.direct(p, &req, now)
	case TypeBroadcast:
		s.broadcast(p, &req, now)
	case TypeListClients:
		if s.cluster != nil {
			s.cluster.list(p)
			return
		}
		s.send(p, mtClientList, clientList{RequestID: s.reqID, Clients: s.clientEntries(), Total: len(s.names), Type: TypeClientList})
	case TypePing:
		s.send(p, mtPong, pong{RequestID: s.reqID, Type: TypePong, Timestamp: unix(now),
			Stats: PongStats{Received: s.stats.Received, Sent: s.stats.Sent, Errors: s.stats.Errors}})
	case typeMessage, TypeRoutingError, typeFedBroadcast:
		if p.kind == kindClient {
			s.refuse(p, rsUnknownType, "unknown message type %q", req.Type)
			return
		}
		if p.kind != kindBroker {
			s.refuseBroker(p, req.Type)
			return
		}
		var e envelope
		if err := decode(body, &e); err != nil {
			s.refuse(p, rsInvalid, "invalid message: %v", err)
			return
		}
		s.routeIn(&e, p, -1)
	default:
		s.refuse(p, rsUnknownType, "unknown message type %q", req.Type)
	}
}

// touch counts a message from the peer with routing id id, which it
// returns, known from now on.
func (s *state) touch(id []byte, user string, now time.Time) *peer {
	s.stats.Received++
	p := s.peers[string(id)]
	if p != nil && p.user != user {
		p = s.takenOver(p, user)
	}
	if p == nil {
		p = &peer{id: []byte(string(id)), user: user, since: now}
		s.peers[string(p.id)] = p
	}
	p.last = now
	if p.kind == kindClient {
		p.count++
	}
	return p
}

// tooLarge answers a request the socket read and dropped for its size
// (zmq.WithTruncateOver): envelope is what it kept, an empty delimiter
// from a REQ peer.
func (s *state) tooLarge(id []byte, user string, envelope [][]byte, size int64) {
	p := s.touch(id, user, s.now())
	p.delim = len(envelope) == 1 && len(envelope[0]) == 0
	s.count.received[mtOther]++
	s.refuse(p, rsTooLarge, "message too large: %d bytes, at most %d", size, s.cfg.MaxMsgSize)
}

// handleUp handles a message from upstream broker i.
func (s *state) handleUp(i int, frames [][]byte) {
	s.stats.Received++
	var e envelope
	var err error
	switch {
	case len(frames) != 1:
		err = fmt.Errorf("expected one frame, got %d", len(frames))
	default:
		err = decode(frames[0], &e)
	}
	if err != nil {
		s.count.received[mtOther]++
		s.countError(rsFederation)
		s.log.Warn("broker: bad message from upstream", "upstream", s.cfg.Upstream[i], "err", err)
		return
	}
	s.count.received[msgTypeOf(e.Type)]++
	switch e.Type {
	case typeMessage, TypeRoutingError, typeFedBroadcast:
		s.routeIn(&e, nil, i)
	case TypeError:
		// The upstream refused something of ours; it answers errors like
		// to a client: {message, timestamp}, and the envelope has no
		// message field.
		var r errorReply
		msg := "(unreadable)"
		if json.Unmarshal(frames[0], &r) == nil {
			msg = r.Message
		}
		s.countError(rsFederation)
		s.log.Warn("broker: upstream reports an error", "upstream", s.cfg.Upstream[i], "message", msg)
	default:
		s.countError(rsFederation)
		s.log.Warn("broker: unexpected message from upstream", "upstream", s.cfg.Upstream[i], "type", e.Type)
	}
}

// register handles a client's register{name}.
func (s *state) register(p *peer, name string, limits bool, now time.Time) {
	switch {
	case p.kind == kindBroker:
		s.fail(p, "a broker cannot register as a client")
		return
	case name == "":
		s.refuse(p, rsBadRequest, "register needs a name")
		return
	}
	if err := checkName(name); err != nil {
		s.fail(p, "%v", err)
		return
	}
	if !s.mayRegister(p, name) {
		s.stats.NamesRefused++
		s.log.Info("broker: name not allowed", "name", name, "user", p.user, "id", clientID(p.id))
		who := "an unauthenticated client"
		if p.user != "" {
			who = fmt.Sprintf("user %q", p.user)
		}
		s.refuse(p, rsNameNotAllowed, "name %q is not allowed for %s", name, who)
		return
	}
	key := nameKey(name)
	if o := s.names[key]; o != nil && o != p || s.routes[key] != nil {
		s.refuse(p, rsNameTaken, "name %q is taken", name)
		return
	}
	if s.cluster != nil && (p.kind != kindClient || nameKey(p.name) != key) {
		s.cluster.claim(p, name, limits) // registered when Redis answers
		return
	}
	s.registered(p, name, limits, now)
}

// registered makes p the client named name and acknowledges it.
func (s *state) registered(p *peer, name string, limits bool, now time.Time) {
	key := nameKey(name)
	if p.kind != kindClient {
		p.kind, p.since, p.count = kindClient, now, 1
		s.log.Debug("broker: client registered", "name", name, "id", clientID(p.id))
	} else if p.name != name {
		delete(s.names, nameKey(p.name))
		s.log.Debug("broker: client renamed", "old", p.name, "name", name, "id", clientID(p.id))
	}
	if p.name != name || s.names[key] != p {
		p.name = name
		s.names[key] = p
		s.markChanged()
	}
	ack := registrationAck{RequestID: s.reqID, Type: TypeRegistrationAck, Status: "success", ClientID: clientID(p.id),
		Message: fmt.Sprintf("Welcome, %s!", name)}
	if limits {
		ack.MaxMsgSize = s.cfg.MaxMsgSize
	}
	s.send(p, mtRegistrationAck, ack)
}

// direct handles direct_message{target, content}.
func (s *state) direct(p *peer, req *request, now time.Time) {
	if p.kind != kindClient {
		s.refuse(p, rsNotRegistered, "register first")
		return
	}
	if req.Target == "" || !present(req.Content) {
		s.fail(p, "direct_message needs target and content")
		return
	}
	status := StatusDelivered
	if t := s.names[nameKey(req.Target)]; t != nil {
		m := directMessage{Type: TypeDirectMessage, From: p.name, Content: req.Content, Timestamp: unix(now),
			contentPlain: req.contentPlain}
		if !s.sendDirect(t, &m) {
			status = StatusFailed
		}
	} else if s.cluster != nil && s.routes[nameKey(req.Target)] == nil {
		r := *req // a copy for the cluster, so that req stays on handlePeer's stack
		s.cluster.direct(p, &r, now)
		return
	} else {
		e := &envelope{Type: typeMessage, Destination: req.Target, OriginalSender: p.name,
			RoutePath: []string{s.cfg.Name}, Content: req.Content, Timestamp: unix(now)}
		switch err := s.forward(e, nil, -1); {
		case errors.Is(err, errNoRoute):
			s.refuse(p, rsNoRoute, "client %q is not registered", req.Target)
			return
		case err != nil:
			status = StatusFailed
		default:
			status = StatusForwarded
		}
	}
	c := deliveryConfirmation{RequestID: s.reqID, Type: TypeDeliveryConfirmation, Target: req.Target, Status: status}
	s.sendRaw(p, mtDeliveryConfirmation, encodeConfirmation(&c))
}

// broadcast handles broadcast{content}: every other client here gets it,
// and so does the rest of the federation.
func (s *state) broadcast(p *peer, req *request, now time.Time) {
	if p.kind != kindClient {
		s.refuse(p, rsNotRegistered, "register first")
		return
	}
	if !present(req.Content) {
		s.fail(p, "broadcast needs content")
		return
	}
	ts := unix(now)
	n := s.deliverAll(p, directMessage{Type: TypeBroadcast, From: p.name, Content: req.Content, Timestamp: ts,
		contentPlain: req.contentPlain})
	s.stats.Broadcasts++
	s.stats.FanOut += uint64(n)
	s.flood(&envelope{Type: typeFedBroadcast, OriginalSender: p.name, RoutePath: []string{s.cfg.Name},
		Content: req.Content, Timestamp: ts}, nil, -1)
	if s.cluster != nil {
		s.cluster.broadcast(p, req, ts, n)
		return
	}
	s.send(p, mtBroadcastConfirmation, broadcastConfirmation{RequestID: s.reqID, Type: TypeBroadcastConfirmation, Recipients: n})
}

// deliverAll sends m to every client but except; it returns how many it
// reached.
func (s *state) deliverAll(except *peer, m directMessage) int {
	if len(s.names) == 0 || len(s.names) == 1 && except != nil && except.kind == kindClient {
		return 0
	}
	b, err := encode(m)
	if err != nil {
		s.countError(rsInternal)
		return 0
	}
	n := 0
	for _, o := range s.names { // deleting the current entry (a client gone) is safe
		if o != except && s.sendRaw(o, mtBroadcast, b) {
			n++
		}
	}
	return n
}

var errNoRoute = errors.New("no route")

// forward passes a message for a client that is not here on to the broker
// that has it below, or else upstream. It never sends back where the
// message came from (fromPeer, or upstream fromUp).
func (s *state) forward(e *envelope, fromPeer *peer, fromUp int) error {
	if r := s.routes[nameKey(e.Destination)]; r != nil {
		if r == fromPeer {
			return errNoRoute
		}
		return s.toBroker(r, e)
	}
	if len(s.ups) > 0 && fromUp < 0 {
		return s.toUpstream(s.primary(), e)
	}
	return errNoRoute
}

// primary is the upstream messages go to: the first one connected, or the
// first one if none is (its queue holds them until it is).
func (s *state) primary() int {
	for i, up := range s.ups {
		if up {
			return i
		}
	}
	return 0
}

// routeIn handles a federation message from a downstream broker (from) or
// from upstream i.
func (s *state) routeIn(e *envelope, from *peer, fromUp int) {
	if len(e.RoutePath) >= maxHops || slices.Contains(e.RoutePath, s.cfg.Name) {
		s.countError(rsFederation)
		s.log.Warn("broker: dropped a message going in circles", "type", e.Type, "route_path", e.RoutePath)
		return
	}
	e.RoutePath = append(e.RoutePath, s.cfg.Name)
	switch e.Type {
	case typeMessage:
		if e.Destination == "" || e.OriginalSender == "" || !present(e.Content) {
			s.failFrom(from, "message needs destination, original_sender and content")
			return
		}
		s.routeMessage(e, from, fromUp)
	case TypeRoutingError:
		if e.Destination == "" {
			s.failFrom(from, "routing_error needs a destination")
			return
		}
		s.routeError(e, from, fromUp)
	case typeFedBroadcast:
		if e.OriginalSender == "" || !present(e.Content) {
			s.failFrom(from, "federated_broadcast needs original_sender and content")
			return
		}
		s.deliverAll(nil, directMessage{Type: TypeBroadcast, From: e.OriginalSender, Content: e.Content,
			RoutePath: e.RoutePath, Timestamp: e.Timestamp})
		s.flood(e, from, fromUp)
	}
}

// routeMessage delivers a federated direct message here or passes it on;
// what cannot go anywhere goes back to its sender as a routing_error.
func (s *state) routeMessage(e *envelope, from *peer, fromUp int) {
	if t := s.names[nameKey(e.Destination)]; t != nil {
		if !s.send(t, mtDirectMessage, directMessage{Type: TypeDirectMessage, From: e.OriginalSender, Content: e.Content,
			RoutePath: e.RoutePath, Timestamp: e.Timestamp}) {
			s.bounce(e, fmt.Sprintf("delivery to %s failed", e.Destination))
		}
		return
	}
	switch err := s.forward(e, from, fromUp); {
	case errors.Is(err, errNoRoute):
		s.bounce(e, "no route to "+e.Destination)
	case err != nil:
		s.bounce(e, fmt.Sprintf("no way on to %s: %v", e.Destination, err))
	}
}

// bounce answers an undeliverable message with a routing_error to its
// original sender.
func (s *state) bounce(e *envelope, reason string) {
	s.countError(rsFederation)
	re := &envelope{Type: TypeRoutingError, Destination: e.OriginalSender, OriginalSender: s.cfg.Name,
		RoutePath: []string{s.cfg.Name}, Error: reason, FailedDestination: e.Destination,
		FailedRoute: e.RoutePath, Content: e.Content, Timestamp: unix(s.now())}
	s.routeError(re, nil, -1)
}

// routeError takes a routing_error to the client it is for. One that
// cannot get there is dropped: errors about errors are not sent.
func (s *state) routeError(e *envelope, from *peer, fromUp int) {
	if t := s.names[nameKey(e.Destination)]; t != nil {
		if b, err := json.Marshal(e); err == nil {
			s.sendRaw(t, mtRoutingError, b)
		} else {
			s.countError(rsInternal)
		}
		return
	}
	if err := s.forward(e, from, fromUp); err != nil {
		s.countError(rsFederation)
		s.log.Debug("broker: dropped an undeliverable routing error", "destination", e.Destination, "err", err)
	}
}

// flood passes a federated broadcast to every neighbouring broker but the
// one it came from: the downstream brokers, and upstream unless it came
// from there.
func (s *state) flood(e *envelope, from *peer, fromUp int) {
	var b []byte
	for _, p := range s.peers {
		if p.kind == kindBroker && p != from {
			if b == nil {
				var err error
				if b, err = json.Marshal(e); err != nil {
					s.countError(rsInternal)
					return
				}
			}
			s.toBrokerRaw(p, msgTypeOf(e.Type), b)
		}
	}
	if len(s.ups) > 0 && fromUp < 0 {
		s.toUpstream(s.primary(), e)
	}
}

func (s *state) toBroker(p *peer, e *envelope) error {
	b, err := json.Marshal(e)
	if err != nil {
		s.countError(rsInternal)
		return err
	}
	return s.toBrokerRaw(p, msgTypeOf(e.Type), b)
}

func (s *state) toBrokerRaw(p *peer, t msgType, b []byte) error {
	if !s.sendRaw(p, t, b) {
		return errQueueFull
	}
	s.stats.Forwarded++
	return nil
}

func (s *state) toUpstream(i int, e *envelope) error {
	b, err := json.Marshal(e)
	if err != nil {
		s.countError(rsInternal)
		return err
	}
	t := msgTypeOf(e.Type)
	if err := s.out.sendUp(i, b); err != nil {
		if errors.Is(err, errQueueFull) {
			s.countError(rsQueueFull)
			s.stats.Dropped++
			s.count.dropped[t]++
		} else {
			s.countError(rsInternal)
		}
		return err
	}
	s.stats.Sent++
	s.count.sent[t]++
	s.stats.Forwarded++
	return nil
}

// brokerRegister handles a downstream broker's announcement.
func (s *state) brokerRegister(p *peer, body []byte) {
	var e envelope
	if err := decode(body, &e); err != nil {
		s.refuse(p, rsInvalid, "invalid message: %v", err)
		return
	}
	if err := checkName(e.Node); err != nil {
		s.fail(p, "register: node: %v", err)
		return
	}
	if e.Node == s.cfg.Name {
		s.fail(p, "register: node %q has this broker's name", e.Node)
		return
	}
	if e.Parts < 0 || e.Parts > s.cfg.MaxRoutes || e.Parts > 0 && (e.Part < 1 || e.Part > e.Parts) {
		s.fail(p, "register: bad part %d of %d", e.Part, e.Parts)
		return
	}
	if p.kind != kindBroker {
		p.kind, p.name, p.since = kindBroker, e.Node, p.last
		s.log.Info("broker: downstream broker joined", "node", e.Node, "id", clientID(p.id))
	}
	p.name = e.Node
	if e.Parts <= 1 {
		if len(e.Routes) > s.cfg.MaxRoutes {
			s.fail(p, "register: more than %d routes", s.cfg.MaxRoutes)
			return
		}
		s.setRoutes(p, e.Routes)
		return
	}
	if e.Generation != p.pendingGen || e.Part == 1 {
		p.pending, p.pendingGen, p.pendingGot = nil, e.Generation, 0
	}
	if len(p.pending)+len(e.Routes) > s.cfg.MaxRoutes {
		p.pending, p.pendingGot = nil, 0
		s.fail(p, "register: more than %d routes", s.cfg.MaxRoutes)
		return
	}
	p.pending = append(p.pending, e.Routes...)
	if p.pendingGot++; p.pendingGot == e.Parts {
		routes := p.pending
		p.pending, p.pendingGot = nil, 0
		s.setRoutes(p, routes)
	}
}

// setRoutes makes names the routes through downstream broker p. A name of
// a client here, or routed to another broker already, stays where it is.
func (s *state) setRoutes(p *peer, names []string) {
	for _, n := range p.routes {
		if k := nameKey(n); s.routes[k] == p {
			delete(s.routes, k)
		}
	}
	kept := make([]string, 0, len(names))
	bad := 0
	for _, n := range names {
		if n == "" || checkName(n) != nil {
			bad++
			continue
		}
		k := nameKey(n)
		if s.names[k] != nil {
			s.log.Warn("broker: name announced by a downstream broker is a client here", "node", p.name, "name", n)
			continue
		}
		if o := s.routes[k]; o != nil && o != p {
			s.log.Warn("broker: name announced by two downstream brokers", "node", p.name, "other", o.name, "name", n)
			continue
		}
		s.routes[k] = p
		kept = append(kept, n)
	}
	if bad > 0 {
		s.stats.Errors++
		s.log.Warn("broker: downstream broker announced invalid names; ignored", "node", p.name, "invalid", bad)
	}
	p.routes = kept
	s.markChanged()
}

// announcement returns the messages that tell an upstream broker every
// name reachable here, split in parts of at most announceChunk bytes.
func (s *state) announcement() [][]byte {
	names := make([]string, 0, len(s.names)+len(s.routes))
	for _, p := range s.names {
		names = append(names, p.name)
	}
	for _, b := range s.peers {
		if b.kind == kindBroker {
			for _, n := range b.routes {
				if s.routes[nameKey(n)] == b {
					names = append(names, n)
				}
			}
		}
	}
	slices.Sort(names)
	var parts [][]string
	start, size := 0, 0
	for i, n := range names {
		l := jsonLen(n) + 1
		if size+l > announceChunk && i > start {
			parts = append(parts, names[start:i])
			start, size = i, 0
		}
		size += l
	}
	parts = append(parts, names[start:])
	s.gen++
	out := make([][]byte, 0, len(parts))
	for i, p := range parts {
		e := envelope{Type: TypeRegister, Node: s.cfg.Name, Routes: p}
		if len(parts) > 1 {
			e.Generation, e.Part, e.Parts = s.gen, i+1, len(parts)
		}
		b, _ := json.Marshal(e)
		out = append(out, b)
	}
	return out
}

// jsonLen is the length of s as a JSON string, as encoding/json writes it.
func jsonLen(s string) int {
	n := 2
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			n += 2
		case r < ' ' || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' || r == utf8.RuneError:
			n += 6
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}

// announce sends the announcement to upstream i (-1: to every upstream).
func (s *state) announce(i int) {
	if len(s.ups) == 0 {
		s.dirty = false
		return
	}
	msgs := s.announcement()
	for u := range s.ups {
		if i >= 0 && u != i {
			continue
		}
		for _, m := range msgs {
			if err := s.out.sendUp(u, m); err != nil {
				if errors.Is(err, errQueueFull) {
					s.countError(rsQueueFull)
					s.stats.Dropped++
					s.count.dropped[mtRegister]++
				} else {
					s.countError(rsInternal)
				}
				s.log.Warn("broker: could not announce upstream", "upstream", s.cfg.Upstream[u], "err", err)
				break
			}
			s.stats.Sent++
			s.count.sent[mtRegister]++
		}
	}
	if i < 0 {
		s.dirty = false
	}
}

// upState records whether upstream i is connected; a new connection gets
// the announcement at once.
func (s *state) upState(i int, up bool) {
	s.ups[i] = up
	if up {
		s.log.Info("broker: upstream connected", "upstream", s.cfg.Upstream[i])
		s.announce(i)
	} else {
		s.log.Info("broker: upstream disconnected", "upstream", s.cfg.Upstream[i])
	}
}

func (s *state) forget(p *peer, why string) {
	if s.peers[string(p.id)] != p {
		return
	}
	delete(s.peers, string(p.id))
	if s.cluster != nil {
		s.cluster.gone(p)
	}
	switch p.kind {
	case kindClient:
		if k := nameKey(p.name); s.names[k] == p {
			delete(s.names, k)
		}
		s.log.Debug("broker: client gone", "name", p.name, "id", clientID(p.id), "why", why)
		s.markChanged()
	case kindBroker:
		for _, n := range p.routes {
			if k := nameKey(n); s.routes[k] == p {
				delete(s.routes, k)
			}
		}
		s.log.Info("broker: downstream broker gone", "node", p.name, "routes", len(p.routes), "why", why)
		s.markChanged()
	}
}

// send encodes v and sends it to p; it reports whether it could.
func (s *state) send(p *peer, t msgType, v any) bool {
	b, err := encode(v)
	if err != nil {
		s.countError(rsInternal)
		s.log.Error("broker: cannot encode a reply", "err", err)
		return false
	}
	return s.sendRaw(p, t, b)
}

// sendDirect sends a direct message to p: send without an interface on
// the hot path.
func (s *state) sendDirect(p *peer, m *directMessage) bool {
	if b := encodeDirect(m); b != nil {
		return s.sendRaw(p, mtDirectMessage, b)
	}
	return s.send(p, mtDirectMessage, *m)
}

// sendRaw sends b, a message of type t, to p, counting what becomes of it:
// a message that cannot be queued is one error (queue_full or peer_gone).
// A peer that is no longer connected is forgotten.
func (s *state) sendRaw(p *peer, t msgType, b []byte) bool {
	if s.held(p, t, b) {
		return true // a reply, sent in order after those still awaited
	}
	err := s.out.sendPeer(p.id, p.delim, b)
	if err == nil {
		s.stats.Sent++
		s.count.sent[t]++
		p.dropping = false
		return true
	}
	switch {
	case errors.Is(err, errQueueFull):
		s.countError(rsQueueFull)
		s.stats.Dropped++
		s.count.dropped[t]++
		p.drops++
		if !p.dropping {
			p.dropping = true
			s.log.Warn("broker: queue full, dropping messages", "peer", s.describe(p), "dropped_so_far", p.drops)
		}
	case errors.Is(err, errGone):
		s.countError(rsGone)
		s.forget(p, "disconnected")
	default:
		s.countError(rsInternal)
		s.log.Debug("broker: send failed", "peer", s.describe(p), "err", err)
	}
	return false
}

func (s *state) describe(p *peer) string {
	if p.name != "" {
		return p.name
	}
	return clientID(p.id)
}

// countError is the one place errors are counted.
func (s *state) countError(r reason) {
	s.stats.Errors++
	s.count.errors[r]++
}

// refuse answers p with an error reply and counts it, once: a reply that
// cannot be queued is dropped (Stats.Dropped) but not counted again.
func (s *state) refuse(p *peer, r reason, format string, args ...any) {
	s.countError(r)
	b, err := encode(errorReply{RequestID: s.reqID, Type: TypeError, Message: fmt.Sprintf(format, args...), Timestamp: unix(s.now())})
	if err != nil || s.held(p, mtError, b) {
		return
	}
	switch err := s.out.sendPeer(p.id, p.delim, b); {
	case err == nil:
		s.stats.Sent++
		s.count.sent[mtError]++
	case errors.Is(err, errQueueFull):
		s.stats.Dropped++
		s.count.dropped[mtError]++
	case errors.Is(err, errGone):
		s.forget(p, "disconnected")
	}
}

// fail refuses a malformed request (reason bad_request).
func (s *state) fail(p *peer, format string, args ...any) {
	s.refuse(p, rsBadRequest, format, args...)
}

// failFrom answers a malformed federation message: to the downstream broker
// that sent it, or, from upstream, only in the log.
func (s *state) failFrom(from *peer, msg string) {
	if from != nil {
		s.refuse(from, rsFederation, "%s", msg)
		return
	}
	s.countError(rsFederation)
	s.log.Warn("broker: bad message from upstream", "err", msg)
}

// clientEntries lists the clients by name, as client_list has them.
func (s *state) clientEntries() []clientEntry {
	list := make([]clientEntry, 0, len(s.names))
	for _, c := range s.names {
		list = append(list, clientEntry{Name: c.name, ConnectedSince: unix(c.since), LastActivity: unix(c.last), MessageCount: c.count})
	}
	slices.SortFunc(list, func(a, b clientEntry) int { return strings.Compare(a.Name, b.Name) })
	return list
}

// cut counts a connection the socket cut for a message over the hard cap.
func (s *state) cut(id []byte, err error) {
	s.countError(rsTooLargeCut)
	s.stats.Cut++
	p := s.peers[string(id)]
	who := clientID(id)
	if p != nil {
		who = s.describe(p)
	}
	s.log.Warn("broker: connection cut: message over the hard limit", "peer", who,
		"limit", s.cfg.socketLimit(), "err", err)
	if p != nil && generatedID(id) { // a chosen id may be back on a new connection already
		s.forget(p, "message over the hard limit")
	}
	s.notify()
}

// clientInfos lists the clients by name.
func (s *state) clientInfos() []ClientInfo {
	list := make([]ClientInfo, 0, len(s.names))
	for _, c := range s.names {
		list = append(list, ClientInfo{Name: c.name, ConnectedSince: c.since, LastActivity: c.last, MessageCount: c.count})
	}
	slices.SortFunc(list, func(a, b ClientInfo) int { return strings.Compare(a.Name, b.Name) })
	return list
}

// snapshot returns the counters and the current counts.
func (s *state) snapshot() Stats {
	st := s.stats
	if s.cluster != nil {
		st.Cluster = s.cluster.snapshot()
	}
	st.ReceivedByType = tableMap(s.count.received[:], msgTypeNames[:])
	st.SentByType = tableMap(s.count.sent[:], msgTypeNames[:])
	st.DroppedByType = tableMap(s.count.dropped[:], msgTypeNames[:])
	st.ErrorsByReason = tableMap(s.count.errors[:], reasonNames[:])
	st.Clients, st.Peers, st.Routes = len(s.names), len(s.peers), len(s.routes)
	for _, p := range s.peers {
		if p.kind == kindBroker {
			st.Brokers++
		}
	}
	for _, up := range s.ups {
		if up {
			st.Upstreams++
		}
	}
	return st
}
