package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/reactor"
)

// The broker's protocol: one JSON object per message, its "type" saying
// what it is. Clients send:
//
//	register{name}  direct_message{target, content}  broadcast{content}
//	list_clients    ping
//
// and get back:
//
//	registration_ack{status, client_id, message}
//	direct_message{from, content, timestamp}      (to the target)
//	delivery_confirmation{target, status}         (to the sender)
//	broadcast{from, content, timestamp}           (to everyone else)
//	broadcast_confirmation{recipients}            (to the sender)
//	client_list{clients[{name, connected_since, last_activity, message_count}], total}
//	pong{timestamp, stats{received, sent, errors}}
//	error{message, timestamp}
//
// Timestamps are seconds since the Unix epoch, as Python's time.time().

// Request is a client's message to the broker.
type Request struct {
	Type    string          `json:"type"`
	Name    string          `json:"name,omitempty"`
	Target  string          `json:"target,omitempty"`
	Content json.RawMessage `json:"content,omitempty"`
}

// Reply is anything the broker sends: "type" plus the type's fields.
type Reply map[string]any

// ClientInfo is one entry of client_list.
type ClientInfo struct {
	Name           string  `json:"name"`
	ConnectedSince float64 `json:"connected_since"`
	LastActivity   float64 `json:"last_activity"`
	MessageCount   int     `json:"message_count"`
}

type client struct {
	id           []byte
	name         string
	since, last  time.Time
	messageCount int
}

// Broker routes messages between named clients over a ROUTER connection.
// Its state is touched only by its handler, on the factory's loop.
type Broker struct {
	conn    *reactor.RouterConnection
	clients map[string]*client // by routing id
	byName  map[string]*client
	now     func() time.Time

	received, sent, errors int
}

// NewBroker makes a broker bound to the given endpoints.
func NewBroker(f *reactor.Factory, eps ...reactor.Endpoint) (*Broker, error) {
	b := &Broker{clients: make(map[string]*client), byName: make(map[string]*client), now: time.Now}
	conn, err := reactor.NewRouterConnection(f, b.handle)
	if err != nil {
		return nil, err
	}
	b.conn = conn
	if err := conn.AddEndpoints(eps...); err != nil {
		conn.Shutdown()
		return nil, err
	}
	return b, nil
}

// Addr returns the address the broker is bound to.
func (b *Broker) Addr() string { return b.conn.Addr() }

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// clientID shows a routing id: as text if it is printable, else in hex.
func clientID(id []byte) string {
	if utf8.Valid(id) && len(id) > 0 && id[0] >= ' ' {
		return string(id)
	}
	return hex.EncodeToString(id)
}

// send reports whether the message went out. A client that is no longer
// connected is forgotten.
func (b *Broker) send(to []byte, r Reply) bool {
	msg, err := json.Marshal(r)
	if err == nil {
		err = b.conn.SendMsg(to, msg)
	}
	if err != nil {
		b.errors++ // the client went away, or its queue is full
		if c := b.clients[string(to)]; c != nil && errors.Is(err, zmq.ErrHostUnreachable) {
			delete(b.clients, string(to))
			delete(b.byName, c.name)
		}
		return false
	}
	b.sent++
	return true
}

func (b *Broker) fail(to []byte, format string, args ...any) {
	b.errors++
	b.send(to, Reply{"type": "error", "message": fmt.Sprintf(format, args...), "timestamp": unix(b.now())})
}

// handle is the ROUTER's handler: the request is the last frame.
func (b *Broker) handle(sender []byte, parts [][]byte) {
	b.received++
	now := b.now()
	c := b.clients[string(sender)]
	if c != nil {
		c.last = now
		c.messageCount++
	}
	var req Request
	if err := json.Unmarshal(parts[len(parts)-1], &req); err != nil {
		b.fail(sender, "invalid message: %v", err)
		return
	}
	switch req.Type {
	case "register":
		b.register(sender, c, req.Name, now)
	case "direct_message":
		if c == nil {
			b.fail(sender, "register first")
			return
		}
		if req.Target == "" || req.Content == nil {
			b.fail(sender, "direct_message needs target and content")
			return
		}
		t := b.byName[req.Target]
		if t == nil {
			b.fail(sender, "client %q is not registered", req.Target)
			return
		}
		status := "delivered"
		if !b.send(t.id, Reply{"type": "direct_message", "from": c.name, "content": req.Content, "timestamp": unix(now)}) {
			status = "failed"
		}
		b.send(sender, Reply{"type": "delivery_confirmation", "target": t.name, "status": status})
	case "broadcast":
		if c == nil {
			b.fail(sender, "register first")
			return
		}
		n := 0
		for _, o := range b.sorted() {
			if o != c && b.send(o.id, Reply{"type": "broadcast", "from": c.name, "content": req.Content, "timestamp": unix(now)}) {
				n++
			}
		}
		b.send(sender, Reply{"type": "broadcast_confirmation", "recipients": n})
	case "list_clients":
		list := []ClientInfo{}
		for _, o := range b.sorted() {
			list = append(list, ClientInfo{o.name, unix(o.since), unix(o.last), o.messageCount})
		}
		b.send(sender, Reply{"type": "client_list", "clients": list, "total": len(list)})
	case "ping":
		b.send(sender, Reply{"type": "pong", "timestamp": unix(now),
			"stats": map[string]int{"received": b.received, "sent": b.sent, "errors": b.errors}})
	default:
		b.fail(sender, "unknown message type %q", req.Type)
	}
}

func (b *Broker) register(sender []byte, c *client, name string, now time.Time) {
	if name == "" {
		b.fail(sender, "register needs a name")
		return
	}
	if o := b.byName[name]; o != nil && o != c {
		b.fail(sender, "name %q is taken", name)
		return
	}
	if c == nil {
		c = &client{id: append([]byte(nil), sender...), since: now, last: now, messageCount: 1}
		b.clients[string(sender)] = c
	} else {
		delete(b.byName, c.name)
	}
	c.name = name
	b.byName[name] = c
	b.send(sender, Reply{"type": "registration_ack", "status": "success", "client_id": clientID(sender),
		"message": fmt.Sprintf("Welcome, %s!", name)})
}

// sorted returns the registered clients by name.
func (b *Broker) sorted() []*client {
	cs := make([]*client, 0, len(b.byName))
	for _, c := range b.byName {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(x, y *client) int {
		switch {
		case x.name < y.name:
			return -1
		case x.name > y.name:
			return 1
		}
		return 0
	})
	return cs
}
