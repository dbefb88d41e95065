package broker

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// Every bad request gets one error reply saying what is wrong, and is
// counted exactly once, under its reason.
func TestBadRequests(t *testing.T) {
	reg := `{"type":"register","name":"x"}`
	for _, tc := range []struct {
		name    string
		setup   []string // requests of X first, each one frame
		cfg     Config
		frames  []string
		message string // the error reply's message (a prefix of it if it ends with "…")
		reason  string
	}{
		{name: "empty", frames: []string{""}, message: "empty message", reason: "empty_message"},
		{name: "empty behind a delimiter", frames: []string{"", ""}, message: "empty message", reason: "empty_message"},
		{name: "two frames", frames: []string{"extra", reg}, message: "invalid message: expected one frame, got 2", reason: "frame_count"},
		{name: "three frames behind a delimiter", frames: []string{"", "a", "b", "c"}, message: "invalid message: expected one frame, got 3", reason: "frame_count"},
		{name: "empty frames", frames: []string{"a", ""}, message: "invalid message: expected one frame, got 2", reason: "frame_count"},
		{name: "too large", cfg: Config{MaxMsgSize: 4096}, frames: []string{strings.Repeat("x", 5000)},
			message: "message too large: 5000 bytes, at most 4096", reason: "too_large"},
		{name: "too large in frames", cfg: Config{MaxMsgSize: 4096}, frames: []string{strings.Repeat("x", 3000), strings.Repeat("y", 3000)},
			message: "message too large: 6000 bytes, at most 4096", reason: "too_large"},
		{name: "not JSON", frames: []string{"garbage"}, message: "invalid message: not a JSON object", reason: "invalid_json"},
		{name: "broken JSON", frames: []string{`{"type":`}, message: "invalid message: not valid JSON…", reason: "invalid_json"},
		{name: "array", frames: []string{`[]`}, message: "invalid message: not a JSON object", reason: "invalid_json"},
		{name: "type not a string", frames: []string{`{"type":1}`}, message: `invalid message: field "type" must be a string`, reason: "invalid_json"},
		{name: "no type", frames: []string{`{}`}, message: `unknown message type ""`, reason: "unknown_type"},
		{name: "unknown type", frames: []string{`{"type":"subscribe"}`}, message: `unknown message type "subscribe"`, reason: "unknown_type"},
		{name: "federation type from a client", setup: []string{reg}, frames: []string{`{"type":"message"}`},
			message: `unknown message type "message"`, reason: "unknown_type"},
		{name: "rate limited", cfg: Config{Rate: 1, Burst: 1}, setup: []string{`{"type":"ping"}`}, frames: []string{`{"type":"ping"}`},
			message: "rate limit exceeded: at most 1 messages a second", reason: "rate_limited"},
		{name: "register without a name", frames: []string{`{"type":"register"}`}, message: "register needs a name", reason: "bad_request"},
		{name: "register a bad name", frames: []string{`{"type":"register","name":"a\u0001"}`}, message: `name "a\x01" contains a control or invalid character`, reason: "bad_request"},
		{name: "register a taken name", frames: []string{`{"type":"register","name":"victim"}`}, message: `name "victim" is taken`, reason: "name_taken"},
		{name: "direct unregistered", frames: []string{`{"type":"direct_message","target":"victim","content":1}`}, message: "register first", reason: "not_registered"},
		{name: "broadcast unregistered", frames: []string{`{"type":"broadcast","content":1}`}, message: "register first", reason: "not_registered"},
		{name: "direct without content", setup: []string{reg}, frames: []string{`{"type":"direct_message","target":"victim"}`},
			message: "direct_message needs target and content", reason: "bad_request"},
		{name: "direct to nobody", setup: []string{reg}, frames: []string{`{"type":"direct_message","target":"nobody","content":1}`},
			message: `client "nobody" is not registered`, reason: "no_route"},
		{name: "broadcast without content", setup: []string{reg}, frames: []string{`{"type":"broadcast"}`}, message: "broadcast needs content", reason: "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg, 0)
			h.register("V", "victim")
			for _, r := range tc.setup {
				h.send("X", r)
				if m := h.reply("X"); m["type"] == TypeError {
					t.Fatalf("setup %s: %v", r, m)
				}
			}
			before := h.st.snapshot()
			frames := make([][]byte, len(tc.frames))
			for i, f := range tc.frames {
				frames[i] = []byte(f)
			}
			h.st.handlePeer([]byte("X"), "", frames)
			m := h.replyType("X", TypeError)
			msg, _ := m["message"].(string)
			if want, ok := strings.CutSuffix(tc.message, "…"); ok && !strings.HasPrefix(msg, want) || !ok && msg != want {
				t.Errorf("message %q, want %q", msg, tc.message)
			}
			after := h.st.snapshot()
			if after.Errors != before.Errors+1 {
				t.Errorf("errors %d → %d, want one more", before.Errors, after.Errors)
			}
			if got := after.ErrorsByReason[tc.reason] - before.ErrorsByReason[tc.reason]; got != 1 {
				t.Errorf("errors by reason %v, want one more %s", after.ErrorsByReason, tc.reason)
			}
			if after.Received != before.Received+1 || after.SentByType[TypeError] != before.SentByType[TypeError]+1 {
				t.Errorf("received %d → %d, errors sent %d → %d", before.Received, after.Received,
					before.SentByType[TypeError], after.SentByType[TypeError])
			}
			if got := h.sink.take("V"); got != nil {
				t.Errorf("victim got %q", got)
			}
		})
	}
}

// An error reply that cannot be queued is dropped, not counted twice.
func TestBadRequestReplyDropped(t *testing.T) {
	h := newHarness(t, Config{}, 0)
	h.sink.full["X"] = true
	h.send("X", "garbage")
	st := h.st.snapshot()
	if st.Errors != 1 || st.Dropped != 1 || st.DroppedByType[TypeError] != 1 || st.ErrorsByReason["invalid_json"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A connection cut for a message over the hard cap is logged and counted.
func TestCutCounted(t *testing.T) {
	h := newHarness(t, Config{}, 0)
	id := "\x00\x01\x02\x03\x04"
	h.register(id, "big")
	h.st.cut([]byte(id), nil)
	st := h.st.snapshot()
	if st.Errors != 1 || st.Cut != 1 || st.ErrorsByReason["too_large_cut"] != 1 || st.Clients != 0 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(h.logs.String(), "connection cut") {
		t.Fatalf("not logged: %s", h.logs)
	}
}

// FuzzMultipart feeds the handler whole multipart messages (frames
// separated by 0x1f in the input) from one client. Whatever they hold, the
// client gets exactly one reply (two for a direct message to itself), an
// error reply is counted exactly once, and nothing else is counted as an
// error.
//
//	go test -run '^$' -fuzz FuzzMultipart -fuzztime 60s ./broker
func FuzzMultipart(f *testing.F) {
	for _, seed := range []string{
		"", "\x1f", "\x1f\x1f", "a\x1fb", `{"type":"register","name":"x"}`,
		"\x1f" + `{"type":"register","name":"x"}`,
		"extra\x1f" + `{"type":"register","name":"x"}`,
		`{"type":"ping"}`, `{"type":"list_clients"}`, "garbage", `{"type":1}`,
		`{"type":"direct_message","target":"alice","content":"hi"}`,
		strings.Repeat("x", 5000),
		`{"type":"register","name":"` + strings.Repeat("n", 200) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg, _ := Config{Name: "fuzz", MaxMsgSize: 4096, Rate: -1, Logger: slog.New(slog.DiscardHandler)}.withDefaults()
		sink := newFakeSink(0)
		s := newState(&cfg, sink, 0)
		s.now = func() time.Time { return time.Unix(1700000000, 0) }
		s.handlePeer([]byte("VA"), "", [][]byte{[]byte(`{"type":"register","name":"alice"}`)})
		sink.take("VA")
		// X registers first in every other run, so both paths are tried.
		if len(in)%2 == 0 {
			s.handlePeer([]byte("X"), "", [][]byte{[]byte(`{"type":"register","name":"xx"}`)})
			sink.take("X")
		}
		before := s.snapshot()
		s.handlePeer([]byte("X"), "", bytes.Split(in, []byte{0x1f}))
		after := s.snapshot()
		if p := s.peers["X"]; p != nil && p.kind == kindBroker {
			return // a downstream broker's announcement gets no reply
		}
		replies := sink.take("X")
		errs := 0
		for _, m := range replies {
			if bytes.Contains(m, []byte(`"type":"error"`)) && bytes.HasSuffix(m, []byte(`"type":"error"}`)) {
				errs++
			}
		}
		if len(replies) != 1 && !(len(replies) == 2 && errs == 0) {
			t.Fatalf("%d replies: %q", len(replies), replies)
		}
		if after.Errors != before.Errors+uint64(errs) {
			t.Fatalf("errors %d → %d with %d error replies", before.Errors, after.Errors, errs)
		}
		var byReason uint64
		for _, n := range after.ErrorsByReason {
			byReason += n
		}
		if byReason != after.Errors {
			t.Fatalf("errors %d, by reason %v", after.Errors, after.ErrorsByReason)
		}
		if s.names["alice"] == nil {
			t.Fatal("alice lost her name")
		}
	})
}

// The bad requests of issue 15, as a new user sends them: a pyzmq DEALER
// against a running broker with the default limits. Each gets its error,
// counted once under its reason; past the hard cap the connection is cut
// and counted.
func TestBadRequestsPyzmq(t *testing.T) {
	needTxZMQ(t)
	b := startBroker(t, Config{Rate: -1})
	cases := []struct {
		spec, message, reason string
	}{
		{"", "empty message", "empty_message"},
		{`extra|{"type":"ping"}`, "invalid message: expected one frame, got 2", "frame_count"},
		{"300000*x", "message too large: 300000 bytes, at most 262144", "too_large"},
		{"2000000*x", "message too large: 2000000 bytes, at most 262144", "too_large"},
		{"garbage", "invalid message: not a JSON object", "invalid_json"},
	}
	args := []string{"testdata/pyzmq_bad.py", b.Addr()}
	for _, c := range cases {
		args = append(args, c.spec)
	}
	args = append(args, "cut:5000000*x") // over 16 × 256 KiB
	out, err := exec.Command(python, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases)+1 || lines[len(cases)] != "cut" {
		t.Fatalf("output: %s", out)
	}
	want := map[string]uint64{"too_large_cut": 1}
	for i, c := range cases {
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil || m["type"] != TypeError || m["message"] != c.message {
			t.Errorf("%.20q: got %s, want error %q", c.spec, lines[i], c.message)
		}
		want[c.reason]++
	}
	ctx := testCtx(t)
	if err := b.waitState(ctx, func(s *state) bool { return s.stats.Cut == 1 }); err != nil {
		t.Fatal(err) // the cut is an event of its own, maybe handled after the pong
	}
	st := b.Stats()
	if !maps.Equal(st.ErrorsByReason, want) || st.Errors != uint64(len(cases)+1) || st.Cut != 1 {
		t.Fatalf("errors %d by reason %v, want %v", st.Errors, st.ErrorsByReason, want)
	}
	t.Logf("errors by reason: %v", st.ErrorsByReason)
}

// A request over the limit is read off the wire without being kept
// (zmq.WithTruncateOver) and answered, behind the delimiter for a REQ.
func TestTooLargeTruncated(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{Rate: -1, MaxMsgSize: 4096})
	for _, typ := range []zmq.Type{zmq.Req, zmq.Dealer} {
		s, err := zmq.NewSocket(typ, zmq.WithLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Connect(b.Addr())
		if err := s.Send(ctx, zmq.NewMsg(make([]byte, 50000))); err != nil {
			t.Fatal(err)
		}
		m, err := s.Recv(ctx)
		if err != nil || len(m.Frames) != 1 || !strings.Contains(m.String(), "message too large: 50000 bytes, at most 4096") {
			t.Fatalf("%v: %q, %v", typ, m.Frames, err)
		}
	}
	if st := b.Stats(); st.ErrorsByReason["too_large"] != 2 || st.Errors != 2 {
		t.Fatalf("stats %+v", st)
	}
}
