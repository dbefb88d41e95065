package broker

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"
)

// Message types of the client protocol. Requests (client to broker):
// register, direct_message, broadcast, list_clients, ping. Replies and
// deliveries (broker to client): the rest, and direct_message and
// broadcast again, to their recipients.
const (
	TypeRegister              = "register"
	TypeDirectMessage         = "direct_message"
	TypeBroadcast             = "broadcast"
	TypeListClients           = "list_clients"
	TypePing                  = "ping"
	TypeRegistrationAck       = "registration_ack"
	TypeDeliveryConfirmation  = "delivery_confirmation"
	TypeBroadcastConfirmation = "broadcast_confirmation"
	TypeClientList            = "client_list"
	TypePong                  = "pong"
	TypeError                 = "error"
	// TypeRoutingError comes back, unasked, to the sender of a direct
	// message that a federation could not deliver (see Federation in the
	// package documentation).
	TypeRoutingError = "routing_error"
)

// Federation message types, between brokers only.
const (
	typeMessage      = "message"             // a direct message on its way through the federation
	typeFedBroadcast = "federated_broadcast" // a broadcast on its way through the federation
)

// Delivery statuses of a delivery_confirmation.
const (
	StatusDelivered = "delivered" // queued for the target, a client of this broker
	StatusForwarded = "forwarded" // handed to another broker of the federation
	StatusFailed    = "failed"    // the target's queue was full, or it had gone
)

// ClientInfo is one entry of client_list. On the wire (and in its JSON
// encoding) the times are seconds since the Unix epoch, as the seed's.
type ClientInfo struct {
	Name           string
	ConnectedSince time.Time // when it registered
	LastActivity   time.Time // its last message of any kind
	MessageCount   int       // its messages since it registered, the register included
}

// clientEntry is a ClientInfo as the wire has it.
type clientEntry struct {
	Name           string  `json:"name"`
	ConnectedSince float64 `json:"connected_since"`
	LastActivity   float64 `json:"last_activity"`
	MessageCount   int     `json:"message_count"`
}

func (e clientEntry) info() ClientInfo {
	return ClientInfo{Name: e.Name, ConnectedSince: fromUnix(e.ConnectedSince), LastActivity: fromUnix(e.LastActivity),
		MessageCount: e.MessageCount}
}

// MarshalJSON encodes c as client_list does.
func (c ClientInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(clientEntry{Name: c.Name, ConnectedSince: unix(c.ConnectedSince), LastActivity: unix(c.LastActivity),
		MessageCount: c.MessageCount})
}

// UnmarshalJSON decodes an entry of client_list.
func (c *ClientInfo) UnmarshalJSON(b []byte) error {
	var e clientEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	*c = e.info()
	return nil
}

// PongStats are the broker's counters as a pong carries them.
type PongStats struct {
	Errors   uint64 `json:"errors"`
	Received uint64 `json:"received"`
	Sent     uint64 `json:"sent"`
}

// Replies as the broker encodes them. The fields are in alphabetical order,
// so that the bytes are those of the router-dealer example, which encoded
// maps (and encoding/json sorts map keys).
type (
	registrationAck struct {
		ClientID string `json:"client_id"`
		// MaxMsgSize is sent only to clients that ask (register with
		// "limits": true, as the Go client does): the seed's clients get
		// the seed's bytes.
		MaxMsgSize int             `json:"max_msg_size,omitempty"`
		Message    string          `json:"message"`
		RequestID  json.RawMessage `json:"request_id,omitempty"` // see requestID
		Status     string          `json:"status"`
		Type       string          `json:"type"`
	}
	directMessage struct {
		Content   json.RawMessage `json:"content"`
		From      string          `json:"from"`
		RoutePath []string        `json:"route_path,omitempty"` // federated deliveries only
		Timestamp float64         `json:"timestamp"`
		Type      string          `json:"type"` // direct_message or broadcast

		contentPlain bool // request.contentPlain: encodeDirect copies Content
	}
	deliveryConfirmation struct {
		RequestID json.RawMessage `json:"request_id,omitempty"`
		Status    string          `json:"status"`
		Target    string          `json:"target"`
		Type      string          `json:"type"`
	}
	broadcastConfirmation struct {
		Recipients int             `json:"recipients"`
		RequestID  json.RawMessage `json:"request_id,omitempty"`
		Type       string          `json:"type"`
	}
	clientList struct {
		Clients   []clientEntry   `json:"clients"`
		RequestID json.RawMessage `json:"request_id,omitempty"`
		Total     int             `json:"total"`
		Type      string          `json:"type"`
	}
	pong struct {
		RequestID json.RawMessage `json:"request_id,omitempty"`
		Stats     PongStats       `json:"stats"`
		Timestamp float64         `json:"timestamp"`
		Type      string          `json:"type"`
	}
	errorReply struct {
		Message   string          `json:"message"`
		RequestID json.RawMessage `json:"request_id,omitempty"`
		Timestamp float64         `json:"timestamp"`
		Type      string          `json:"type"`
	}
)

// request is a message from a peer of the ROUTER: a client's request, or a
// broker's register (with node instead of name).
type request struct {
	Type    string          `json:"type"`
	Name    string          `json:"name"`
	Target  string          `json:"target"`
	Content json.RawMessage `json:"content"`
	Node    string          `json:"node"`
	Limits  bool            `json:"limits"` // register: tell max_msg_size in the ack
	ID      json.RawMessage `json:"request_id"`

	// contentPlain: Content is a string appendRaw would copy as it is
	// (parseRequest found out while parsing it).
	contentPlain bool
}

// maxRequestID bounds the request_id a reply echoes: a number or a short
// string is enough to pair replies with requests.
const maxRequestID = 64

// requestID is what a request's reply echoes as request_id: the request's
// own, if it is short. A client that sends none (the seed's) gets replies
// without one, the seed's bytes.
func requestID(id json.RawMessage) json.RawMessage {
	if len(id) == 0 || len(id) > maxRequestID || string(id) == "null" {
		return nil
	}
	return id
}

// envelope is a message between brokers, in the multi-hop pattern's format:
//
//	register             {node, routes, generation, part, parts}: a broker
//	                     tells its upstream the client names reachable
//	                     through it; a long list comes in parts
//	message              {destination, original_sender, route_path,
//	                     content, timestamp}
//	federated_broadcast  {original_sender, route_path, content, timestamp}
//	routing_error        {destination, original_sender, route_path, error,
//	                     failed_destination, failed_route, content,
//	                     timestamp}: back to the original sender of a
//	                     message that had no route
//
// route_path lists the brokers a message went through, its origin first.
type envelope struct {
	Type              string          `json:"type"`
	Node              string          `json:"node,omitempty"`
	Routes            []string        `json:"routes,omitempty"`
	Generation        uint64          `json:"generation,omitempty"`
	Part              int             `json:"part,omitempty"`
	Parts             int             `json:"parts,omitempty"`
	Destination       string          `json:"destination,omitempty"`
	OriginalSender    string          `json:"original_sender,omitempty"`
	RoutePath         []string        `json:"route_path,omitempty"`
	Content           json.RawMessage `json:"content,omitempty"`
	Timestamp         float64         `json:"timestamp,omitempty"`
	Error             string          `json:"error,omitempty"`
	FailedDestination string          `json:"failed_destination,omitempty"`
	FailedRoute       []string        `json:"failed_route,omitempty"`
}

// maxHops bounds a federated message's route_path, should a
// misconfiguration make a loop.
const maxHops = 32

// maxNameLen bounds client and broker names, in bytes.
const maxNameLen = 128

// unix is t as Python's time.time() gives it: seconds since the epoch (0
// for the zero time), to the microsecond: a float64 near today's time
// steps by 0.24 µs anyway, and a whole number of microseconds is quick to
// write (appendFloat).
func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

// fromUnix is the inverse of unix.
func fromUnix(f float64) time.Time {
	if f == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(f*1e9))
}

// clientID shows a routing id: as text if it is printable, else in hex.
func clientID(id []byte) string {
	if utf8.Valid(id) && len(id) > 0 && id[0] >= ' ' {
		return string(id)
	}
	return hex.EncodeToString(id)
}

var errNotObject = errors.New("not a JSON object")

// decode parses a JSON object into v, with errors a client can act on.
func decode(b []byte, v any) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return errNotObject
	}
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return errNotObject
		}
		return fmt.Errorf("field %q must be %s", te.Field, kindName(te.Type))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not valid JSON (%v at byte %d)", se, se.Offset)
	}
	return err
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64, reflect.Uint64:
		return "a number"
	}
	return "of another type"
}

// present reports whether a JSON value was given (and is not null).
func present(v json.RawMessage) bool { return len(v) > 0 && string(v) != "null" }
