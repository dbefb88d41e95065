package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts are per-operation defaults a Property or Action declares on the
// server (hololinked issue #50). A request's own snake_case execution
// context wins; these apply when it leaves a timeout out. Zero means none.
type Timeouts struct {
	Invocation time.Duration // to start: the Thing's queue must reach the job in time
	Execution  time.Duration // to finish: the action's context is cancelled after it
}

// Property is a readable, optionally writable, value of a Thing.
type Property struct {
	Name        string
	Description string
	// Type is the JSON Schema type checked on writes and shown in the Thing
	// Description: "number", "integer", "string", "boolean", "object",
	// "array", "null", or "" for any value.
	Type     string
	Default  any
	ReadOnly bool
	// Get and Set replace the stored value with code (hardware access).
	// Set receives the decoded value after the Type check.
	Get func(ctx context.Context) (any, error)
	Set func(ctx context.Context, v any) error
	// Delete, if set, serves deleteproperty; without it deleteproperty
	// raises NotImplementedError.
	Delete   func(ctx context.Context) error
	Timeouts Timeouts
	// ContentType is the codec of replies for this property ("" = JSON).
	ContentType string
}

// Action is a callable of a Thing.
type Action struct {
	Name        string
	Description string
	// Params names the arguments in order, so positional arguments
	// ("__args__") can be looked up by name in Args.
	Params []string
	// Input and Output are JSON Schemas for the Thing Description (optional).
	Input, Output map[string]any
	Func          func(ctx context.Context, args Args) (any, error)
	// Concurrent actions run in their own goroutine, beside the Thing's
	// one-at-a-time queue (hololinked runs everything through the queue).
	Concurrent bool
	Timeouts   Timeouts
	// ContentType is the codec of replies for this action ("" = JSON).
	ContentType string
}

// Event is something a Thing publishes (Thing.Emit).
type Event struct {
	Name        string
	Description string
	Data        map[string]any // JSON Schema of the payload, for the TD (optional)
}

// Args are an action's arguments: hololinked sends keyword arguments as a
// JSON object and positional ones under "__args__"; non-empty preencoded
// bytes come first among the positional ones, as []byte.
type Args struct {
	Positional []any
	Keyword    map[string]any
	params     []string
}

// Get returns the argument called name: a keyword argument, or the
// positional one at name's index in Action.Params.
func (a Args) Get(name string) (any, bool) {
	if v, ok := a.Keyword[name]; ok {
		return v, true
	}
	for i, p := range a.params {
		if p == name && i < len(a.Positional) {
			return a.Positional[i], true
		}
	}
	return nil, false
}

// Float returns the numeric argument name, or def if it is absent. A
// non-number is a TypeError.
func (a Args) Float(name string, def float64) (float64, error) {
	v, ok := a.Get(name)
	if !ok || v == nil {
		return def, nil
	}
	if f, ok := ToFloat(v); ok {
		return f, nil
	}
	return 0, Errorf("TypeError", "argument %s must be a number, not %s", name, pyType(v))
}

// Decode fills v (a pointer to a struct or map) from the arguments, by name:
// positional ones are named after Action.Params.
func (a Args) Decode(v any) error {
	m := make(map[string]any, len(a.Keyword)+len(a.Positional))
	for i, p := range a.params {
		if i < len(a.Positional) {
			m[p] = a.Positional[i]
		}
	}
	for k, x := range a.Keyword {
		m[k] = x
	}
	b, err := json.Marshal(m)
	if err != nil {
		return Errorf("TypeError", "%v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return Errorf("TypeError", "%v", err)
	}
	return nil
}

// ToFloat converts a decoded number (float64 from JSON; int64, uint64 or
// float64 from msgpack; any Go number) to float64.
func ToFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// pyType names a decoded value's Python type, for error messages.
func pyType(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	if _, ok := ToFloat(v); ok {
		return "float"
	}
	return fmt.Sprintf("%T", v)
}

// checkType validates v against a JSON Schema type.
func checkType(typ string, v any) error {
	ok := true
	switch typ {
	case "":
	case "number":
		_, ok = ToFloat(v)
	case "integer":
		f, isNum := ToFloat(v)
		ok = isNum && f == math.Trunc(f)
	case "string":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "object":
		_, ok = v.(map[string]any)
	case "array":
		_, ok = v.([]any)
	case "null":
		ok = v == nil
	}
	if !ok {
		return Errorf("TypeError", "expected a value of type %s, got %s", typ, pyType(v))
	}
	return nil
}

// Thing is a set of properties, actions and events under an id, served by a
// Server. Declare everything before serving it.
type Thing struct {
	ID          string
	Title       string // defaults to ID
	Description string

	props   map[string]*Property
	actions map[string]*Action
	events  map[string]*Event
	topics  map[string]string // event name → "{id}/{name}"
	order   struct{ props, actions, events []string }

	mu      sync.Mutex
	values  map[string]any
	server  *Server // set by Server.AddThing
	queue   chan *job
	busy    atomic.Int32 // requests queued or running through queue
	running atomic.Int32 // concurrent actions running
}

// instant reports whether a request reads or writes a stored property (no
// hooks), or names no property at all: work that cannot block.
func (t *Thing) instant(h *RequestHeader) bool {
	if h.Operation != OpReadProperty && h.Operation != OpWriteProperty {
		return false
	}
	p, ok := t.props[h.Objekt]
	return !ok || p.Get == nil && p.Set == nil
}

// NewThing returns an empty Thing.
func NewThing(id string) *Thing {
	return &Thing{
		ID: id, props: map[string]*Property{}, actions: map[string]*Action{},
		events: map[string]*Event{}, values: map[string]any{},
	}
}

func (t *Thing) taken(name string) bool {
	_, p := t.props[name]
	_, a := t.actions[name]
	_, e := t.events[name]
	return p || a || e || builtinAction(name)
}

// AddProperty declares a property; its value starts at p.Default.
func (t *Thing) AddProperty(p Property) error {
	if p.Name == "" || t.taken(p.Name) {
		return fmt.Errorf("%w: property %q on thing %q", ErrDuplicate, p.Name, t.ID)
	}
	if p.Default != nil {
		if err := checkType(p.Type, p.Default); err != nil {
			return fmt.Errorf("rpc: property %q default: %w", p.Name, err)
		}
	}
	t.props[p.Name] = &p
	t.order.props = append(t.order.props, p.Name)
	t.values[p.Name] = p.Default
	return nil
}

// AddAction declares an action.
func (t *Thing) AddAction(a Action) error {
	if a.Name == "" || t.taken(a.Name) || a.Func == nil {
		return fmt.Errorf("%w: action %q on thing %q (or no Func)", ErrDuplicate, a.Name, t.ID)
	}
	t.actions[a.Name] = &a
	t.order.actions = append(t.order.actions, a.Name)
	return nil
}

// AddEvent declares an event.
func (t *Thing) AddEvent(e Event) error {
	if e.Name == "" || t.taken(e.Name) {
		return fmt.Errorf("%w: event %q on thing %q", ErrDuplicate, e.Name, t.ID)
	}
	t.events[e.Name] = &e
	if t.topics == nil {
		t.topics = map[string]string{}
	}
	t.topics[e.Name] = t.ID + "/" + e.Name
	t.order.events = append(t.order.events, e.Name)
	return nil
}

// Value returns a stored property value (not one behind a Get hook).
func (t *Thing) Value(name string) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.values[name]
}

// Emit publishes event name with value (JSON-encoded) to subscribers on
// every transport, and keeps it as the event's last value for late
// subscribers. A Thing not added to a Server drops it.
func (t *Thing) Emit(name string, value any) error {
	topic, ok := t.topics[name]
	if !ok {
		return fmt.Errorf("rpc: thing %q has no event %q", t.ID, name)
	}
	t.mu.Lock()
	s := t.server
	t.mu.Unlock()
	if s == nil {
		_, err := JSON.Marshal(value) // the same error as when served
		return err
	}
	return s.publish(topic, value)
}

func (t *Thing) readProperty(ctx context.Context, name string) (any, *Property, error) {
	p, ok := t.props[name]
	if !ok {
		return nil, nil, Errorf("KeyError", "'%s'", name)
	}
	if p.Get != nil {
		v, err := p.Get(ctx)
		return v, p, err
	}
	return t.Value(name), p, nil
}

func (t *Thing) writeProperty(ctx context.Context, name string, v any) error {
	p, ok := t.props[name]
	if !ok {
		return Errorf("KeyError", "'%s'", name)
	}
	if p.ReadOnly {
		return Errorf("AttributeError", "property %s of thing %s is read-only", name, t.ID)
	}
	if _, raw := v.([]byte); !raw {
		if err := checkType(p.Type, v); err != nil {
			return err
		}
	}
	if p.Set != nil {
		return p.Set(ctx, v)
	}
	t.mu.Lock()
	t.values[name] = v
	t.mu.Unlock()
	return nil
}
