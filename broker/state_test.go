package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSink records what the state sends. Peers in full have a full queue;
// peers in gone are not connected. It is safe for concurrent use, as
// tests read it while a loop writes it.
type fakeSink struct {
	mu     sync.Mutex
	peers  map[string][][]byte
	delims map[string][]bool
	ups    [][][]byte
	full   map[string]bool
	gone   map[string]bool
	upFull bool
}

func newFakeSink(upstreams int) *fakeSink {
	return &fakeSink{peers: map[string][][]byte{}, delims: map[string][]bool{}, ups: make([][][]byte, upstreams),
		full: map[string]bool{}, gone: map[string]bool{}}
}

func (f *fakeSink) sendPeer(id []byte, delim bool, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.gone[string(id)]:
		return errGone
	case f.full[string(id)]:
		return errQueueFull
	}
	f.peers[string(id)] = append(f.peers[string(id)], body)
	f.delims[string(id)] = append(f.delims[string(id)], delim)
	return nil
}

func (f *fakeSink) sendUp(i int, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.upFull {
		return errQueueFull
	}
	f.ups[i] = append(f.ups[i], body)
	return nil
}

// take returns and forgets what was sent to id.
func (f *fakeSink) take(id string) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.peers[id]
	delete(f.peers, id)
	delete(f.delims, id)
	return m
}

func (f *fakeSink) takeUp(i int) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.ups[i]
	f.ups[i] = nil
	return m
}

// harness drives a state directly, at a fixed time.
type harness struct {
	t     *testing.T
	st    *state
	sink  *fakeSink
	now   time.Time
	logs  *bytes.Buffer
	users map[string]string // peer id -> its user id (ZAP)
}

func newHarness(t *testing.T, cfg Config, upstreams int) *harness {
	t.Helper()
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for range upstreams {
		cfg.Upstream = append(cfg.Upstream, fmt.Sprintf("tcp://up%d", len(cfg.Upstream)))
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, sink: newFakeSink(upstreams), now: time.Unix(1700000000, 250000000), logs: &logs, users: map[string]string{}}
	h.st = newState(&cfg, h.sink, upstreams)
	h.st.now = func() time.Time { return h.now }
	return h
}

// send delivers a one-frame message from peer id.
func (h *harness) send(id, body string) {
	h.st.handlePeer([]byte(id), h.users[id], [][]byte{[]byte(body)})
}

// reply returns the one message sent to id since the last look, decoded.
func (h *harness) reply(id string) map[string]any {
	h.t.Helper()
	msgs := h.sink.take(id)
	if len(msgs) != 1 {
		h.t.Fatalf("%s got %d messages, want 1: %q", id, len(msgs), msgs)
	}
	return decodeMap(h.t, msgs[0])
}

// replyType checks the one reply's type and returns it.
func (h *harness) replyType(id, typ string) map[string]any {
	h.t.Helper()
	m := h.reply(id)
	if m["type"] != typ {
		h.t.Fatalf("%s got %v, want a %s", id, m, typ)
	}
	return m
}

func (h *harness) register(id, name string) {
	h.t.Helper()
	h.send(id, `{"type":"register","name":"`+name+`"}`)
	h.replyType(id, TypeRegistrationAck)
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("undecodable message %q: %v", b, err)
	}
	return m
}

// seedEncoding is how the router-dealer example encoded a reply: a map,
// whose keys encoding/json sorts.
func seedEncoding(t *testing.T, m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The replies are byte for byte those of the router-dealer example.
func TestWireBytes(t *testing.T) {
	h := newHarness(t, Config{}, 0)
	ts := unix(h.now)
	check := func(id string, want map[string]any) {
		t.Helper()
		msgs := h.sink.take(id)
		if len(msgs) != 1 || string(msgs[0]) != seedEncoding(t, want) {
			t.Fatalf("%s got %q\nwant %s", id, msgs, seedEncoding(t, want))
		}
	}
	h.send("A", `{"type":"register","name":"alice"}`)
	check("A", map[string]any{"type": "registration_ack", "status": "success", "client_id": "A", "message": "Welcome, alice!"})
	h.send("\x00\x01\x02\x03\x04", `{"type":"register","name":"bob"}`)
	check("\x00\x01\x02\x03\x04", map[string]any{"type": "registration_ack", "status": "success", "client_id": "0001020304", "message": "Welcome, bob!"})
	h.send("A", `{"type":"direct_message","target":"bob","content":{"x":[1,2]}}`)
	check("\x00\x01\x02\x03\x04", map[string]any{"type": "direct_message", "from": "alice", "content": json.RawMessage(`{"x":[1,2]}`), "timestamp": ts})
	check("A", map[string]any{"type": "delivery_confirmation", "target": "bob", "status": "delivered"})
	h.send("A", `{"type":"broadcast","content":"hi all"}`)
	check("\x00\x01\x02\x03\x04", map[string]any{"type": "broadcast", "from": "alice", "content": "hi all", "timestamp": ts})
	check("A", map[string]any{"type": "broadcast_confirmation", "recipients": 1})
	h.send("A", `{"type":"list_clients"}`)
	check("A", map[string]any{"type": "client_list", "total": 2, "clients": []clientEntry{
		{Name: "alice", ConnectedSince: ts, LastActivity: ts, MessageCount: 4},
		{Name: "bob", ConnectedSince: ts, LastActivity: ts, MessageCount: 1},
	}})
	h.send("A", `{"type":"ping"}`)
	check("A", map[string]any{"type": "pong", "timestamp": ts, "stats": map[string]int{"received": 6, "sent": 7, "errors": 0}})
	h.send("A", `{"type":"direct_message","target":"carol","content":"x"}`)
	check("A", map[string]any{"type": "error", "message": `client "carol" is not registered`, "timestamp": ts})
}

// A client that sends an empty delimiter frame first (a REQ socket) gets
// its replies behind one too.
func TestDelimiterMirrored(t *testing.T) {
	h := newHarness(t, Config{}, 0)
	h.st.handlePeer([]byte("R"), "", [][]byte{{}, []byte(`{"type":"register","name":"req"}`)})
	h.st.handlePeer([]byte("D"), "", [][]byte{[]byte(`{"type":"register","name":"dealer"}`)})
	if d := h.sink.delims["R"]; !slices.Equal(d, []bool{true}) {
		t.Fatalf("REQ client replies with delimiter: %v", d)
	}
	if d := h.sink.delims["D"]; !slices.Equal(d, []bool{false}) {
		t.Fatalf("DEALER client replies with delimiter: %v", d)
	}
	// An empty message (a ZMQ_PROBE_ROUTER probe looks like one) is a bad
	// request like any other.
	h.st.handlePeer([]byte("P"), "", [][]byte{{}})
	if m := h.replyType("P", TypeError); m["message"] != "empty message" {
		t.Fatalf("empty message answered %v", m)
	}
}

func TestNames(t *testing.T) {
	h := newHarness(t, Config{}, 0)
	h.register("A", "alice")
	h.send("B", `{"type":"register","name":"alice"}`)
	if m := h.replyType("B", TypeError); m["message"] != `name "alice" is taken` {
		t.Fatal(m)
	}
	h.register("A", "alice") // again: fine
	h.register("A", "alicia")
	h.register("B", "alice") // free again
	h.send("C", `{"type":"list_clients"}`)
	if m := h.replyType("C", TypeClientList); m["total"] != 2.0 {
		t.Fatal(m)
	}
	for _, bad := range []string{"", strings.Repeat("x", maxNameLen+1), "tab\there", "nul\u0000"} {
		b, _ := json.Marshal(map[string]string{"type": "register", "name": bad})
		h.send("D", string(b))
		h.replyType("D", TypeError)
	}
	// Unregistered clients may list and ping, not send.
	h.send("D", `{"type":"direct_message","target":"alice","content":"x"}`)
	if m := h.replyType("D", TypeError); m["message"] != "register first" {
		t.Fatal(m)
	}
	h.send("D", `{"type":"broadcast","content":"x"}`)
	h.replyType("D", TypeError)
	h.send("D", `{"type":"ping"}`)
	h.replyType("D", TypePong)
}

// Bad input: an error to the sender, counted, and nothing else changes.
func TestBadInput(t *testing.T) {
	h := newHarness(t, Config{MaxMsgSize: 2048}, 0)
	h.register("A", "alice")
	h.register("B", "bob")
	for _, c := range []struct{ in, msg string }{
		{"not json", "invalid message: not a JSON object"},
		{"{not json", "invalid message: not valid JSON"},
		{`{"type":"ping"} trailing`, "invalid message: not valid JSON"},
		{"[1,2]", "invalid message: not a JSON object"},
		{`"register"`, "invalid message: not a JSON object"},
		{"null", "invalid message: not a JSON object"},
		{"42", "invalid message: not a JSON object"},
		{`{}`, `unknown message type ""`},
		{`{"type":5}`, `invalid message: field "type" must be a string`},
		{`{"type":"register","name":["x"]}`, `invalid message: field "name" must be a string`},
		{`{"type":"direct_message","target":7,"content":"x"}`, `invalid message: field "target" must be a string`},
		{`{"type":"direct_message","target":"bob"}`, "direct_message needs target and content"},
		{`{"type":"direct_message","target":"bob","content":null}`, "direct_message needs target and content"},
		{`{"type":"direct_message","content":"x"}`, "direct_message needs target and content"},
		{`{"type":"broadcast"}`, "broadcast needs content"},
		{`{"type":"register"}`, "register needs a name"},
		{`{"type":"register","name":"bob"}`, `name "bob" is taken`},
		{`{"type":"nope"}`, `unknown message type "nope"`},
		{`{"type":"message","destination":"bob","content":"x"}`, `unknown message type "message"`},
		{`{"type":"ping","pad":"` + strings.Repeat("x", 2048) + `"}`, "message too large: 2072 bytes, at most 2048"},
		{strings.Repeat("[", 100000), "message too large"},
		{`{"a":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, "message too large"},
	} {
		before := h.st.stats
		h.send("A", c.in)
		m := h.replyType("A", TypeError)
		if msg, _ := m["message"].(string); !strings.HasPrefix(msg, c.msg) {
			t.Errorf("%.40q: error %q, want %q", c.in, msg, c.msg)
		}
		if h.st.stats.Errors != before.Errors+1 || h.st.stats.Received != before.Received+1 {
			t.Errorf("%.40q: counters %+v after %+v", c.in, h.st.stats, before)
		}
		if got := h.sink.take("B"); got != nil {
			t.Errorf("%.40q reached bob: %q", c.in, got)
		}
	}
	// (An empty message is what ZMQ_PROBE_ROUTER sends: TestDelimiterMirrored.)
	// Still registered, both.
	h.send("A", `{"type":"direct_message","target":"bob","content":"still here?"}`)
	h.replyType("B", TypeDirectMessage)
	h.replyType("A", TypeDeliveryConfirmation)
	// Deeply nested content within the size limit is fine or an error, never a crash.
	h2 := newHarness(t, Config{}, 0)
	h2.register("A", "alice")
	h2.send("A", `{"type":"broadcast","content":`+strings.Repeat("[", 11000)+strings.Repeat("]", 11000)+`}`)
	h2.replyType("A", TypeError)
}

// A full queue drops, counts and warns once; a gone client is forgotten.
func TestQueueFullAndGone(t *testing.T) {
	h := newHarness(t, Config{}, 0)
	h.register("A", "alice")
	h.register("B", "bob")
	h.register("C", "carol")
	h.sink.full["B"] = true
	for range 3 {
		h.send("A", `{"type":"broadcast","content":"x"}`)
		if m := h.replyType("A", TypeBroadcastConfirmation); m["recipients"] != 1.0 {
			t.Fatal(m)
		}
		h.replyType("C", TypeBroadcast)
	}
	h.send("A", `{"type":"direct_message","target":"bob","content":"x"}`)
	if m := h.replyType("A", TypeDeliveryConfirmation); m["status"] != StatusFailed {
		t.Fatal(m)
	}
	if st := h.st.snapshot(); st.Dropped != 4 || st.Errors != 4 || st.Clients != 3 {
		t.Fatalf("stats %+v", st)
	}
	if n := strings.Count(h.logs.String(), "queue full"); n != 1 {
		t.Fatalf("%d queue-full warnings, want 1:\n%s", n, h.logs)
	}
	h.sink.full["B"] = false
	h.sink.gone["C"] = true
	h.send("A", `{"type":"direct_message","target":"carol","content":"x"}`)
	if m := h.replyType("A", TypeDeliveryConfirmation); m["status"] != StatusFailed {
		t.Fatal(m)
	}
	h.send("A", `{"type":"list_clients"}`)
	if m := h.replyType("A", TypeClientList); m["total"] != 2.0 {
		t.Fatalf("carol still listed: %v", m)
	}
	// A closed connection of a chosen routing id is forgotten after the
	// grace, unless it comes back (liveness.go).
	h.st.connUp([]byte("B"), "addr", true)
	h.st.connDown([]byte("B"), "addr")
	h.st.sweep()
	if st := h.st.snapshot(); st.Clients != 2 {
		t.Fatalf("forgotten before the grace: %+v", st)
	}
	h.now = h.now.Add(h.st.cfg.grace() + time.Millisecond)
	h.st.sweep()
	if st := h.st.snapshot(); st.Clients != 1 || st.Peers != 1 || st.Expired != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Announcements upstream: every name, in parts when there are many, and
// the parts put back together by the broker above.
func TestAnnouncementParts(t *testing.T) {
	child := newHarness(t, Config{Name: "east"}, 1)
	for i := range 3000 {
		child.st.handlePeer(fmt.Appendf(nil, "c%d", i), "", [][]byte{fmt.Appendf(nil, `{"type":"register","name":"client-with-a-longish-name-%04d"}`, i)})
	}
	child.st.announce(-1)
	parts := child.sink.takeUp(0)
	if len(parts) < 4 {
		t.Fatalf("%d parts", len(parts))
	}
	top := newHarness(t, Config{Name: "top", FederationPeers: []string{"east-key"}}, 0)
	top.users["east"] = "east-key"
	for i, p := range parts {
		if len(p) > announceChunk+200 {
			t.Fatalf("part %d: %d bytes", i, len(p))
		}
		if i == len(parts)-1 && len(top.st.routes) != 0 {
			t.Fatalf("routes applied before the last part: %d", len(top.st.routes))
		}
		top.send("east", string(p))
	}
	if len(top.st.routes) != 3000 {
		t.Fatalf("%d routes", len(top.st.routes))
	}
	if got := top.sink.take("east"); got != nil {
		t.Fatalf("announcement answered: %q", got)
	}
	// A smaller table replaces it; a new generation restarts an incomplete one.
	top.send("east", string(parts[0]))
	top.send("east", `{"type":"register","node":"east","routes":["a","b"]}`)
	if len(top.st.routes) != 2 || top.st.routes["a"] == nil {
		t.Fatalf("routes %v", top.st.routes)
	}
	// Local clients win over announced names.
	top.register("T", "c")
	top.send("east", `{"type":"register","node":"east","routes":["a","c"]}`)
	if top.st.routes["c"] != nil || top.st.names["c"] == nil {
		t.Fatal("announced name displaced a local client")
	}
	for _, bad := range []string{
		`{"type":"register","node":"top","routes":["x"]}`,
		`{"type":"register","node":"east","routes":["x"],"part":3,"parts":2}`,
		`{"type":"register","node":"east","routes":"x"}`,
	} {
		top.send("east", bad)
		top.replyType("east", TypeError)
	}
}

func TestSetupErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Name: "a\nb"},
		{MaxMsgSize: 10},
		{QueueSize: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := New(Config{Bind: []string{"nope://x"}}); err == nil {
		t.Error("bad endpoint accepted")
	}
	if _, err := New(Config{Bind: []string{"tcp://127.0.0.1:0"}, Upstream: []string{"tcp://"}}); err == nil {
		t.Error("bad upstream accepted")
	}
}

// nullSink drops everything.
type nullSink struct{}

func (nullSink) sendPeer([]byte, bool, []byte) error { return nil }
func (nullSink) sendUp(int, []byte) error            { return nil }

// BenchmarkHandleDirect is the broker's own cost of a direct message:
// decoding, routing, encoding the delivery and the confirmation.
func BenchmarkHandleDirect(b *testing.B) {
	cfg, _ := Config{Rate: -1, Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	s := newState(&cfg, nullSink{}, 0)
	s.handlePeer([]byte("A"), "", [][]byte{[]byte(`{"type":"register","name":"alice"}`)})
	s.handlePeer([]byte("B"), "", [][]byte{[]byte(`{"type":"register","name":"bob"}`)})
	msg := [][]byte{[]byte(`{"type":"direct_message","target":"bob","content":"` + strings.Repeat("x", 100) + `"}`)}
	b.ReportAllocs()
	for b.Loop() {
		s.handlePeer([]byte("A"), "", msg)
	}
}

// BenchmarkHandleBroadcast: a broadcast to 1,000 clients.
func BenchmarkHandleBroadcast(b *testing.B) {
	cfg, _ := Config{Rate: -1, Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	s := newState(&cfg, nullSink{}, 0)
	for i := range 1000 {
		s.handlePeer(fmt.Appendf(nil, "c%d", i), "", [][]byte{fmt.Appendf(nil, `{"type":"register","name":"c%d"}`, i)})
	}
	msg := [][]byte{[]byte(`{"type":"broadcast","content":"` + strings.Repeat("x", 100) + `"}`)}
	b.ReportAllocs()
	for b.Loop() {
		s.handlePeer([]byte("c0"), "", msg)
	}
}
