package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/zmqgo/zmq/reactor"
)

// Envelope is every message between nodes, one JSON frame:
//
//	register       {node, routes}: a child tells its parent which names are
//	               reachable through it (itself and everything below it)
//	message        {destination, original_sender, route_path, content}
//	routing_error  {destination, original_sender, route_path, error,
//	               failed_destination, failed_route, content}: sent back to
//	               the original sender of a message that had no route
//
// route_path lists the nodes a message went through, its origin first;
// each node appends its name as it receives it.
type Envelope struct {
	Type              string   `json:"type"`
	Node              string   `json:"node,omitempty"`
	Routes            []string `json:"routes,omitempty"`
	Destination       string   `json:"destination,omitempty"`
	OriginalSender    string   `json:"original_sender,omitempty"`
	RoutePath         []string `json:"route_path,omitempty"`
	Content           string   `json:"content,omitempty"`
	Error             string   `json:"error,omitempty"`
	FailedDestination string   `json:"failed_destination,omitempty"`
	FailedRoute       []string `json:"failed_route,omitempty"`
}

// maxHops bounds a message's path, should a misconfiguration make a loop.
const maxHops = 32

// NodeConfig places a node in the tree.
type NodeConfig struct {
	Name   string
	Bind   string // where children connect; "" for a leaf
	Parent string // the parent's Bind address; "" for the root
}

// Node is a routing node: a ROUTER for its children, a DEALER (with its
// name as identity) to its parent, and a routing table from destination
// names to the child they are reached through. What it does not know goes
// up; what the root does not know comes back as a routing_error.
type Node struct {
	Name string
	f    *reactor.Factory
	down *reactor.RouterConnection
	up   *reactor.DealerConnection

	routes  map[string]string // destination → child (routing id); loop only
	changed chan struct{}     // routes changed (cap 1)

	// Delivered gets the messages and routing errors addressed to this node.
	Delivered chan Envelope
}

// NewNode starts a node on f.
func NewNode(f *reactor.Factory, cfg NodeConfig) (*Node, error) {
	n := &Node{Name: cfg.Name, f: f, routes: make(map[string]string), changed: make(chan struct{}, 1), Delivered: make(chan Envelope, 1000)}
	// Both connections exist before either has an endpoint: the handlers
	// use both, and nothing arrives before an endpoint is added.
	var err error
	if cfg.Bind != "" {
		if n.down, err = reactor.NewRouterConnection(f, n.fromChild); err != nil {
			return nil, err
		}
	}
	if cfg.Parent != "" {
		if n.up, err = reactor.NewDealerConnection(f, n.fromParent, reactor.WithIdentity([]byte(cfg.Name))); err != nil {
			return nil, err
		}
	}
	if n.down != nil {
		if err := n.down.AddEndpoints(reactor.Bind(cfg.Bind)); err != nil {
			return nil, err
		}
	}
	if n.up != nil {
		if err := n.up.AddEndpoints(reactor.Connect(cfg.Parent)); err != nil {
			return nil, err
		}
		done := make(chan error, 1)
		f.Call(func() { done <- n.announce() })
		if err := <-done; err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Addr is where children connect.
func (n *Node) Addr() string {
	if n.down == nil {
		return ""
	}
	return n.down.Addr()
}

// announce tells the parent every name reachable here.
func (n *Node) announce() error {
	names := append([]string{n.Name}, n.known()...)
	return n.sendUp(Envelope{Type: "register", Node: n.Name, Routes: names})
}

func (n *Node) known() []string {
	names := make([]string, 0, len(n.routes))
	for name := range n.routes {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (n *Node) sendUp(e Envelope) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return n.up.SendMsg(b)
}

func (n *Node) sendDown(child string, e Envelope) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return n.down.SendMsg([]byte(child), b)
}

func (n *Node) fromChild(sender []byte, parts [][]byte) {
	var e Envelope
	if err := json.Unmarshal(parts[len(parts)-1], &e); err != nil {
		return
	}
	if e.Type == "register" {
		for _, name := range e.Routes {
			if name != n.Name {
				n.routes[name] = string(sender)
			}
		}
		select {
		case n.changed <- struct{}{}:
		default:
		}
		if n.up != nil {
			n.announce()
		}
		return
	}
	n.receive(e)
}

func (n *Node) fromParent(parts [][]byte) {
	var e Envelope
	if err := json.Unmarshal(parts[len(parts)-1], &e); err == nil {
		n.receive(e)
	}
}

// receive takes a message off the wire: this node joins its path.
func (n *Node) receive(e Envelope) {
	if slices.Contains(e.RoutePath, n.Name) || len(e.RoutePath) >= maxHops {
		return // a loop: drop it
	}
	e.RoutePath = append(e.RoutePath, n.Name)
	n.route(e)
}

// route sends e one hop on, delivers it here, or answers with a routing
// error. It runs on the loop.
func (n *Node) route(e Envelope) {
	if e.Destination == n.Name {
		select {
		case n.Delivered <- e:
		default:
		}
		return
	}
	var err error
	if child, ok := n.routes[e.Destination]; ok {
		err = n.sendDown(child, e)
	} else if n.up != nil {
		err = n.sendUp(e)
	} else {
		err = fmt.Errorf("no route to %s", e.Destination)
	}
	if err == nil || e.Type != "message" {
		return // a routing error that cannot be routed is dropped
	}
	n.route(Envelope{
		Type: "routing_error", Destination: e.OriginalSender, OriginalSender: n.Name,
		RoutePath: []string{n.Name}, Error: err.Error(), FailedDestination: e.Destination,
		FailedRoute: e.RoutePath, Content: e.Content,
	})
}

// Send sends content to the node named dest, from any goroutine.
func (n *Node) Send(dest, content string) {
	n.f.Call(func() {
		n.route(Envelope{Type: "message", Destination: dest, OriginalSender: n.Name, RoutePath: []string{n.Name}, Content: content})
	})
}

// Routes returns the routing table as "destination->child" entries.
func (n *Node) Routes() []string {
	ch := make(chan []string, 1)
	if !n.f.Call(func() {
		var rs []string
		for _, name := range n.known() {
			rs = append(rs, name+"->"+n.routes[name])
		}
		ch <- rs
	}) {
		return nil
	}
	return <-ch
}

// WaitRoutes waits until the node can route to every name given.
func (n *Node) WaitRoutes(ctx context.Context, names ...string) error {
	for {
		ok := make(chan bool, 1)
		n.f.Call(func() {
			for _, name := range names {
				if _, known := n.routes[name]; !known && name != n.Name {
					ok <- false
					return
				}
			}
			ok <- true
		})
		select {
		case all := <-ok:
			if all {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-n.changed:
		case <-ctx.Done():
			return fmt.Errorf("%s still cannot route to all of %v: %w", n.Name, names, ctx.Err())
		}
	}
}

// Describe renders a delivered envelope as one line.
func Describe(e Envelope) string {
	path := strings.Join(e.RoutePath, " > ")
	if e.Type == "routing_error" {
		return fmt.Sprintf("routing error from %s: %s (%q sent along %s), back via %s",
			e.OriginalSender, e.Error, e.Content, strings.Join(e.FailedRoute, " > "), path)
	}
	return fmt.Sprintf("%q from %s via %s", e.Content, e.OriginalSender, path)
}
