package broker

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// FuzzHandle feeds the broker's message handler a sequence of messages,
// one per line: from a client, "X" (plain lines), from a downstream broker
// ("<" lines) or from upstream (">" lines). Whatever they hold, the
// handler must not panic, the other clients keep their names and get
// nothing but messages meant for them, every error is counted, and the
// tables stay consistent. The corpus the fuzzer found is kept in
// testdata/fuzz/FuzzHandle; run it longer with
//
//	go test -run '^$' -fuzz FuzzHandle -fuzztime 60s ./broker
func FuzzHandle(f *testing.F) {
	for _, seed := range []string{
		`{"type":"register","name":"mallory"}`,
		`{"type":"register","name":"mallory"}` + "\n" + `{"type":"direct_message","target":"alice","content":"hi"}`,
		`{"type":"register","name":"mallory"}` + "\n" + `{"type":"direct_message","target":"remote","content":{"a":[1,2,3]}}`,
		`{"type":"register","name":"mallory"}` + "\n" + `{"type":"direct_message","target":"nobody","content":null}`,
		`{"type":"register","name":"mallory"}` + "\n" + `{"type":"broadcast","content":"hello everyone"}`,
		`{"type":"register","name":"mallory"}` + "\n" + `{"type":"register","name":"alice"}` + "\n" + `{"type":"register","name":"m2"}`,
		`{"type":"list_clients"}`,
		`{"type":"ping"}`,
		`{"type":"direct_message","target":"alice","content":"unregistered"}`,
		`{"type":"register","name":5}`,
		`not json`,
		`[{"type":"ping"}]`,
		`{"type":"register","node":"rogue","routes":["alice","bob","x"]}` + "\n" + `{"type":"message","destination":"alice","original_sender":"x","route_path":["rogue"],"content":"spoof"}`,
		`<{"type":"register","node":"child","routes":["remote","alice"],"generation":2,"part":1,"parts":2}` + "\n" + `<{"type":"register","node":"child","routes":["r2"],"generation":2,"part":2,"parts":2}`,
		`<{"type":"message","destination":"alice","original_sender":"remote","route_path":["child"],"content":"up","timestamp":1.5}`,
		`<{"type":"message","destination":"nowhere","original_sender":"remote","route_path":["child"],"content":"lost"}`,
		`<{"type":"federated_broadcast","original_sender":"remote","route_path":["child"],"content":"all"}`,
		`<{"type":"routing_error","destination":"alice","original_sender":"top","route_path":["top"],"error":"no route","failed_destination":"x","failed_route":["a"],"content":"c"}`,
		`>{"type":"message","destination":"bob","original_sender":"far","route_path":["top"],"content":"down"}`,
		`>{"type":"message","destination":"remote","original_sender":"far","route_path":["top"],"content":"further down"}`,
		`>{"type":"federated_broadcast","original_sender":"far","route_path":["top"],"content":"news"}`,
		`>{"type":"error","message":"nope","timestamp":1}`,
		`>{"type":"message","destination":"bob","original_sender":"far","route_path":["fuzz"],"content":"loop"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg, _ := Config{Name: "fuzz", MaxMsgSize: 4096, Rate: 100, Burst: 8, Upstream: []string{"tcp://up"},
			Logger: slog.New(slog.DiscardHandler), FederationPeers: []string{"child"}}.withDefaults()
		users := map[string]string{"CH": "child"}
		sink := newFakeSink(1)
		s := newState(&cfg, sink, 1)
		now := time.Unix(1700000000, 0)
		s.now = func() time.Time { return now }
		s.handlePeer([]byte("VA"), "", [][]byte{[]byte(`{"type":"register","name":"alice"}`)})
		s.handlePeer([]byte("VB"), "", [][]byte{[]byte(`{"type":"register","name":"bob"}`)})
		s.handlePeer([]byte("CH"), "child", [][]byte{[]byte(`{"type":"register","node":"child","routes":["remote"]}`)})
		sink.take("VA")
		sink.take("VB")
		sink.takeUp(0)
		lines := bytes.Split(in, []byte("\n"))
		if len(lines) > 16 {
			lines = lines[:16]
		}
		for _, line := range lines {
			now = now.Add(10 * time.Millisecond)
			before := s.stats
			var from string
			switch {
			case bytes.HasPrefix(line, []byte(">")):
				s.handleUp(0, [][]byte{line[1:]})
			case bytes.HasPrefix(line, []byte("<")):
				from = "CH"
				s.handlePeer([]byte(from), users[from], [][]byte{line[1:]})
			default:
				from = "X"
				s.handlePeer([]byte(from), users[from], [][]byte{line})
			}
			if s.stats.Received != before.Received+1 {
				t.Fatalf("received %d after %d", s.stats.Received, before.Received)
			}
			checkFuzzState(t, s, sink, from, before)
		}
	})
}

func checkFuzzState(t *testing.T, s *state, sink *fakeSink, from string, before Stats) {
	t.Helper()
	typeOf := func(b []byte) string {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("sent something that is not a JSON object: %q", b)
		}
		typ, ok := m["type"].(string)
		if !ok {
			t.Fatalf("sent a message without a type: %q", b)
		}
		return typ
	}
	// The victims keep their names and get only what is meant for them.
	for id, name := range map[string]string{"VA": "alice", "VB": "bob"} {
		if p := s.names[name]; p == nil || string(p.id) != id {
			t.Fatalf("%s lost its name", name)
		}
		for _, m := range sink.take(id) {
			switch typ := typeOf(m); typ {
			case TypeDirectMessage, TypeBroadcast, TypeRoutingError:
			default:
				t.Fatalf("%s got a %s: %s", name, typ, m)
			}
		}
	}
	// The sender gets at most two messages (a direct message to itself and
	// its confirmation); an error is counted.
	for _, id := range []string{"X", "CH"} {
		msgs := sink.take(id)
		if id == from && len(msgs) > 2 || id != from && id == "X" && len(msgs) > 1 {
			t.Fatalf("%s got %d messages", id, len(msgs))
		}
		for _, m := range msgs {
			if typeOf(m) == TypeError && s.stats.Errors == before.Errors {
				t.Fatalf("error reply not counted: %s", m)
			}
		}
	}
	for _, m := range sink.takeUp(0) {
		switch typ := typeOf(m); typ {
		case TypeRegister, typeMessage, TypeRoutingError, typeFedBroadcast:
		default:
			t.Fatalf("sent a %s upstream: %s", typ, m)
		}
	}
	// A peer without an admitted identity never becomes a broker.
	if p := s.peers["X"]; p != nil && p.kind == kindBroker {
		t.Fatalf("an unauthenticated peer was admitted as a broker")
	}
	// The tables agree with each other.
	for name, p := range s.names {
		if p.kind != kindClient || nameKey(p.name) != name || s.peers[string(p.id)] != p || s.routes[name] != nil {
			t.Fatalf("names[%q] inconsistent: %+v", name, p)
		}
		if checkName(name) != nil || strings.TrimSpace(name) == "" && name == "" {
			t.Fatalf("bad name registered: %q", name)
		}
	}
	for name, p := range s.routes {
		if p.kind != kindBroker || s.peers[string(p.id)] != p {
			t.Fatalf("routes[%q] points to %+v", name, p)
		}
	}
}

// FuzzNameRules: a names file never panics the parser, and what it allows
// is stable under the normalisation (a name and its key are allowed
// alike).
func FuzzNameRules(f *testing.F) {
	f.Add([]byte("alice: alice, alice-*\n*: guest-*\n"), "alice", "ALICE-2")
	f.Add([]byte("tSe}/:(/N:0PcPNAN$-pdiA.&S{U0Gyw?&Bw!EVX: s*x*y\n# c\n"), "tSe}/:(/N:0PcPNAN$-pdiA.&S{U0Gyw?&Bw!EVX", "sxy")
	f.Fuzz(func(t *testing.T, file []byte, id, name string) {
		r, err := ParseNameRules(bytes.NewReader(file))
		if err != nil {
			return
		}
		if checkName(name) != nil {
			return
		}
		if r.Allowed(id, name) != r.Allowed(id, nameKey(name)) {
			t.Fatalf("%q and its key %q judged differently", name, nameKey(name))
		}
	})
}
