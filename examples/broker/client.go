package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zmqgo/zmq/reactor"
)

// Message is a decoded message from the broker.
type Message map[string]any

// Type returns the message's "type".
func (m Message) Type() string { s, _ := m["type"].(string); return s }

// Str returns a string field ("" if absent or not a string).
func (m Message) Str(k string) string { s, _ := m[k].(string); return s }

// Num returns a number field (0 if absent).
func (m Message) Num(k string) float64 { n, _ := m[k].(float64); return n }

// Client is a DEALER client of the broker. What the broker sends arrives in
// Inbox, in order.
type Client struct {
	Name  string
	conn  *reactor.DealerConnection
	Inbox chan Message
}

// NewClient connects a client to the broker at addr.
func NewClient(f *reactor.Factory, name, addr string) (*Client, error) {
	c := &Client{Name: name, Inbox: make(chan Message, 1000)}
	conn, err := reactor.NewDealerConnection(f, func(parts [][]byte) {
		var m Message
		if err := json.Unmarshal(parts[len(parts)-1], &m); err != nil {
			m = Message{"type": "undecodable", "raw": string(parts[len(parts)-1])}
		}
		select {
		case c.Inbox <- m:
		default: // nobody reads: drop rather than stall the loop
		}
	}, reactor.Connect(addr))
	if err != nil {
		return nil, err
	}
	c.conn = conn
	return c, nil
}

func (c *Client) send(m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.conn.SendMsg(b)
}

// Register claims the client's name.
func (c *Client) Register() error {
	return c.send(map[string]any{"type": "register", "name": c.Name})
}

// Direct sends content to the client named target.
func (c *Client) Direct(target, content string) error {
	return c.send(map[string]any{"type": "direct_message", "target": target, "content": content})
}

// Broadcast sends content to every other registered client.
func (c *Client) Broadcast(content string) error {
	return c.send(map[string]any{"type": "broadcast", "content": content})
}

// ListClients asks for the registered clients.
func (c *Client) ListClients() error { return c.send(map[string]any{"type": "list_clients"}) }

// Ping asks for the broker's counters.
func (c *Client) Ping() error { return c.send(map[string]any{"type": "ping"}) }

// Next returns the next message from the broker.
func (c *Client) Next(ctx context.Context) (Message, error) {
	select {
	case m := <-c.Inbox:
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: waiting for the broker: %w", c.Name, ctx.Err())
	}
}

// Expect returns the next message, which must be of type typ.
func (c *Client) Expect(ctx context.Context, typ string) (Message, error) {
	m, err := c.Next(ctx)
	if err != nil {
		return nil, err
	}
	if m.Type() != typ {
		return nil, fmt.Errorf("%s: got %v, want a %s", c.Name, m, typ)
	}
	return m, nil
}

// Describe renders a message from the broker as one line.
func Describe(m Message) string {
	switch m.Type() {
	case "registration_ack":
		return fmt.Sprintf("registered (%s): %s", m.Str("status"), m.Str("message"))
	case "direct_message":
		return fmt.Sprintf("message from %s: %v", m.Str("from"), m["content"])
	case "delivery_confirmation":
		return fmt.Sprintf("%s to %s", m.Str("status"), m.Str("target"))
	case "broadcast":
		return fmt.Sprintf("broadcast from %s: %v", m.Str("from"), m["content"])
	case "broadcast_confirmation":
		return fmt.Sprintf("broadcast reached %v clients", m["recipients"])
	case "client_list":
		var names []string
		list, _ := m["clients"].([]any)
		for _, e := range list {
			if o, ok := e.(map[string]any); ok {
				names = append(names, fmt.Sprintf("%v (%v messages)", o["name"], o["message_count"]))
			}
		}
		return fmt.Sprintf("%v clients: %v", m["total"], names)
	case "pong":
		s, _ := m["stats"].(map[string]any)
		return fmt.Sprintf("pong: received %v, sent %v, errors %v", s["received"], s["sent"], s["errors"])
	case "error":
		return "error: " + m.Str("message")
	}
	return fmt.Sprintf("%v", map[string]any(m))
}

// isReply tells the broker's answers to our own requests from messages
// other clients sent us.
func isReply(m Message) bool {
	switch m.Type() {
	case "direct_message", "broadcast":
		return false
	}
	return true
}
