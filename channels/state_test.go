package channels

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a sink that keeps what the server sends.
type recorder struct {
	sent []sentMsg
	full map[string]bool // peers whose queue is full
	gone map[string]bool
}

type sentMsg struct {
	sig    bool
	peer   string
	frames [][]byte
}

func (r *recorder) send(sig bool, msg [][]byte) error {
	env, frames, err := splitEnvelope(msg)
	if err != nil {
		panic(err)
	}
	p := string(env[0])
	if r.gone[p] {
		return errPeerGone
	}
	if r.full[p] {
		return errPeerFull
	}
	r.sent = append(r.sent, sentMsg{sig, p, frames})
	return nil
}

// cmdOf is a sent message's command (frame 1 on data, 1 on signalling).
func (m sentMsg) cmd() string { return string(m.frames[1]) }

func (r *recorder) count(cmd, peer string) int {
	n := 0
	for _, m := range r.sent {
		if m.cmd() == cmd && (peer == "" || m.peer == peer) {
			n++
		}
	}
	return n
}

func (r *recorder) take() []sentMsg { s := r.sent; r.sent = nil; return s }

func dataFrames(t testing.TB, ch, cmd string, p Props, body []byte) [][]byte {
	t.Helper()
	enc, err := AppendProps(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	return DataMessage{Channel: []byte(ch), Command: cmd, ID: newID(), Body: body}.frames(enc)
}

func sigFrames(t testing.TB, cmd string, p Props) [][]byte {
	t.Helper()
	enc, err := AppendProps(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{newID(), []byte(cmd), enc}
}

type harness struct {
	t   *testing.T
	st  *state
	rec *recorder
	now time.Time
}

func newHarness(t *testing.T, cfg Config) *harness {
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, rec: &recorder{full: map[string]bool{}, gone: map[string]bool{}}, now: time.Unix(1700000000, 0)}
	h.st = newState(&cfg, h.rec)
	h.st.now = func() time.Time { return h.now }
	h.st.started, h.st.lastRate = h.now, h.now
	return h
}

func env(peer string) [][]byte { return [][]byte{[]byte(peer)} }

func (h *harness) sub(peer, ch, name string) {
	h.st.onData(env(peer), dataFrames(h.t, ch, CmdSubscribe, Props{{"subscriber_name", []byte(name)}}, nil))
}

func (h *harness) send(peer, ch string, p Props, body string) {
	h.st.onData(env(peer), dataFrames(h.t, ch, CmdSend, p, []byte(body)))
}

func (h *harness) sig(peer, cmd string, p Props) {
	h.st.onSignal(env(peer), sigFrames(h.t, cmd, p))
}

func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.st.sweep(h.now)
}

// deliveries returns the bodies delivered to peer, by subscriber name.
func (h *harness) deliveries(peer string) []string {
	var out []string
	for _, m := range h.rec.sent {
		if !m.sig && m.peer == peer && m.cmd() == CmdDelivery {
			out = append(out, string(m.frames[0])+":"+string(m.frames[5]))
		}
	}
	return out
}

func (h *harness) lastReply() sentMsg {
	h.t.Helper()
	if len(h.rec.sent) == 0 {
		h.t.Fatal("no reply")
	}
	return h.rec.sent[len(h.rec.sent)-1]
}

func exceptionOf(t *testing.T, m sentMsg) string {
	t.Helper()
	var pf []byte
	if m.sig {
		pf = m.frames[2]
	} else {
		pf = m.frames[4]
	}
	p, err := DecodeProps(pf)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := p.Get("exception")
	s, _ := v.(string)
	return s
}

func TestQueueFIFOAndRoundRobin(t *testing.T) {
	h := newHarness(t, Config{})
	for i := range 4 {
		h.send("s", "work", nil, fmt.Sprint(i))
	}
	if len(h.rec.sent) != 0 {
		t.Fatal("delivered without subscribers")
	}
	h.sub("a", "work", "work")
	if got := h.deliveries("a"); strings.Join(got, ",") != "work:0,work:1,work:2,work:3" {
		t.Fatalf("FIFO: %v", got)
	}
	h.rec.take()
	h.sub("b", "work", "work")
	h.sub("c", "work", "alias")
	for i := range 6 {
		h.send("s", "work", nil, fmt.Sprint(i))
	}
	a, b, c := h.deliveries("a"), h.deliveries("b"), h.deliveries("c")
	if len(a) != 2 || len(b) != 2 || len(c) != 2 || !strings.HasPrefix(c[0], "alias:") {
		t.Fatalf("round robin: a %v b %v c %v", a, b, c)
	}
}

func TestDeliveryFrames(t *testing.T) {
	h := newHarness(t, Config{})
	h.sub("a", "chat", "chat")
	fr := dataFrames(t, "chat", CmdSend, Props{{"ttl", 0.5}, {"ack", false}}, []byte{0x81, 0xa1, 0x61, 0x01})
	h.st.onData(env("s"), fr)
	d := h.lastReply()
	if d.peer != "a" || string(d.frames[0]) != "chat" || d.cmd() != CmdDelivery || !bytes.Equal(d.frames[2], fr[2]) ||
		!bytes.Equal(d.frames[3], []byte{0}) || !bytes.Equal(d.frames[5], fr[5]) {
		t.Fatalf("%q", d.frames)
	}
	p, _ := DecodeProps(d.frames[4])
	exp, _ := p.Get("expiry")
	if len(p) != 3 || p[0].Key != "ttl" || p[1].Key != "ack" || !exp.(time.Time).Equal(h.now.Add(500*time.Millisecond)) {
		t.Fatalf("props %v", p)
	}
	// No ack asked: nothing went to the sender.
	if h.rec.count(CmdComplete, "s") != 0 {
		t.Fatal("unasked COMPLETE")
	}
}

func TestAckReplies(t *testing.T) {
	h := newHarness(t, Config{})
	fr := dataFrames(t, "chat", CmdSend, Props{{"ack", true}}, nil)
	h.st.onData(env("s"), fr)
	r := h.lastReply()
	if r.cmd() != CmdComplete || string(r.frames[0]) != "chat" || !bytes.Equal(r.frames[2], fr[2]) || !bytes.Equal(r.frames[4], []byte{0x80}) || string(r.frames[5]) != "{}" {
		t.Fatalf("%q", r.frames)
	}
	h.st.onData(env("s"), dataFrames(t, "chat", "BOGUSCMD", Props{{"ack", true}}, nil))
	if r := h.lastReply(); r.cmd() != CmdException || !strings.HasPrefix(exceptionOf(t, r), "MessageCommandUnknown(") {
		t.Fatalf("%q", r.frames)
	}
	// Empty command: DMB forgot to raise; we answer.
	h.st.onData(env("s"), dataFrames(t, "chat", "", Props{{"ack", true}}, nil))
	if r := h.lastReply(); r.cmd() != CmdException {
		t.Fatalf("%q", r.frames)
	}
	n := len(h.rec.sent)
	h.st.onData(env("s"), dataFrames(t, "chat", "BOGUSCMD", Props{}, nil))
	if len(h.rec.sent) != n {
		t.Fatal("answered without ack")
	}
	// Heartbeat always answered, on both ports.
	h.st.onData(env("s"), dataFrames(t, "", CmdHeartbeat, Props{}, nil))
	if r := h.lastReply(); r.cmd() != CmdHeartbeat || r.sig {
		t.Fatal(r)
	}
	h.sig("s", CmdHeartbeat, Props{})
	if r := h.lastReply(); !r.sig || r.cmd() != CmdHeartbeat {
		t.Fatal(r)
	}
}

func TestSignallingRepliesDefect2(t *testing.T) {
	h := newHarness(t, Config{})
	fr := sigFrames(t, CmdGroupAdd, Props{{"group_name", []byte("g")}, {"channel_name", []byte("c")}, {"ack", true}})
	h.st.onSignal(env("s"), fr)
	r := h.lastReply()
	if !r.sig || !bytes.Equal(r.frames[0], fr[0]) || r.cmd() != CmdComplete || !bytes.Equal(r.frames[2], fr[2]) {
		t.Fatalf("%q", r.frames)
	}
	// A failing request gets EXCEPTON with its id (DMB echoed GROUPADD).
	fr = sigFrames(t, CmdGroupAdd, Props{{"group_name", []byte("bad name")}, {"channel_name", []byte("c")}, {"ack", true}})
	h.st.onSignal(env("s"), fr)
	r = h.lastReply()
	if r.cmd() != CmdException || !bytes.Equal(r.frames[0], fr[0]) || !strings.HasPrefix(exceptionOf(t, r), "TypeError(") {
		t.Fatalf("%q", r.frames)
	}
	h.sig("s", "NOSUCHXX", Props{{"ack", true}})
	if r := h.lastReply(); r.cmd() != CmdException {
		t.Fatal(r)
	}
	// Undecodable properties: answered by id anyway.
	h.st.onSignal(env("s"), [][]byte{[]byte("id"), []byte(CmdGroupAdd), {0xc1}})
	if r := h.lastReply(); r.cmd() != CmdException || string(r.frames[0]) != "id" {
		t.Fatal(r)
	}
}

func TestProcessChannel(t *testing.T) {
	h := newHarness(t, Config{})
	h.sub("a", "x.y!z", "x.y!z")
	h.sub("a", "x.y!z", "x.y!z") // refresh
	h.st.onData(env("b"), dataFrames(t, "x.y!z", CmdSubscribe, Props{{"subscriber_name", []byte("x.y!z")}, {"ack", true}}, nil))
	if r := h.lastReply(); r.cmd() != CmdException || !strings.HasPrefix(exceptionOf(t, r), "SubscriptionError(") {
		t.Fatal(r)
	}
	h.send("s", "x.y!z", nil, "m")
	if len(h.deliveries("a")) != 1 || len(h.deliveries("b")) != 0 {
		t.Fatal(h.rec.sent)
	}
	// Its holder gone, another may take it.
	h.st.gone(false, "a")
	h.sub("b", "x.y!z", "x.y!z")
	h.send("s", "x.y!z", nil, "m2")
	if len(h.deliveries("b")) != 1 {
		t.Fatal("no delivery to the new holder")
	}
}

func TestCapacity(t *testing.T) {
	h := newHarness(t, Config{Capacity: 2, ChannelCapacity: []CapacityRule{{"big.*", 3}}})
	for range 2 {
		h.send("s", "small", Props{{"ack", true}}, "m")
	}
	h.send("s", "small", Props{{"ack", true}}, "m")
	if r := h.lastReply(); r.cmd() != CmdException || !strings.HasPrefix(exceptionOf(t, r), "ChannelFull(") {
		t.Fatalf("%v", exceptionOf(t, r))
	}
	n := len(h.rec.sent)
	h.send("s", "small", nil, "m") // dropped and counted, unanswered
	if len(h.rec.sent) != n || h.st.stats().DroppedFull != 2 {
		t.Fatal(h.st.stats())
	}
	for range 3 {
		h.send("s", "big.one", Props{{"ack", true}}, "m")
	}
	if h.lastReply().cmd() != CmdComplete {
		t.Fatal("capacity rule not applied")
	}
	h.send("s", "big.one", Props{{"ack", true}}, "m")
	if h.lastReply().cmd() != CmdException {
		t.Fatal("over rule capacity")
	}
	// Group sends skip full channels and count them.
	h.sig("s", CmdGroupAdd, Props{{"group_name", []byte("g")}, {"channel_name", []byte("small")}})
	h.sig("s", CmdGroupAdd, Props{{"group_name", []byte("g")}, {"channel_name", []byte("other")}})
	h.st.onData(env("s"), dataFrames(t, "g", CmdGroupSend, Props{{"ack", true}}, []byte("gm")))
	if h.lastReply().cmd() != CmdComplete || h.st.stats().DroppedFull != 4 || h.st.queues["other"].len() != 1 {
		t.Fatal(h.st.stats())
	}
}

func TestTTLFractionsDefect7(t *testing.T) {
	h := newHarness(t, Config{Expiry: 10 * time.Second})
	h.send("s", "c", Props{{"ttl", 0.3}}, "short")
	h.send("s", "c", nil, "default")
	h.advance(299 * time.Millisecond)
	if h.st.queues["c"].len() != 2 {
		t.Fatal("expired early")
	}
	h.advance(time.Millisecond)
	if h.st.queues["c"].len() != 1 {
		t.Fatal("0.3 s message kept")
	}
	h.advance(10 * time.Second)
	if _, ok := h.st.queues["c"]; ok || h.st.stats().Expired != 2 {
		t.Fatal("empty queue kept or not counted", h.st.stats())
	}
	// Bad ttl refused.
	for _, v := range []any{nil, "x", int64(-1), 0.0} {
		h.send("s", "c", Props{{"ttl", v}, {"ack", true}}, "m")
		if r := h.lastReply(); r.cmd() != CmdException {
			t.Fatalf("ttl %v accepted", v)
		}
	}
	// An expired message is not delivered to a late subscriber.
	h.send("s", "d", Props{{"ttl", 1}}, "old")
	h.now = h.now.Add(2 * time.Second)
	h.sub("a", "d", "d")
	if len(h.deliveries("a")) != 0 {
		t.Fatal("delivered expired")
	}
}

func TestGroups(t *testing.T) {
	h := newHarness(t, Config{GroupExpiry: time.Minute})
	for _, c := range []string{"c1", "c2", "c3"} {
		h.sub("a", c, c)
		h.sig("s", CmdGroupAdd, Props{{"group_name", []byte("g")}, {"channel_name", c}})
	}
	h.sig("s", CmdGroupAdd, Props{{"group_name", "g"}, {"channel_name", "c3"}, {"ttl", 1.5}})
	h.sig("s", CmdGroupDiscard, Props{{"group_name", "g"}, {"channel_name", "c1"}})
	h.st.onData(env("s"), dataFrames(t, "g", CmdGroupSend, Props{}, []byte("x")))
	if got := strings.Join(h.deliveries("a"), ","); got != "c2:x,c3:x" && got != "c3:x,c2:x" {
		t.Fatal(got)
	}
	if m := h.st.members("g"); strings.Join(m, ",") != "c2,c3" {
		t.Fatal(m)
	}
	h.advance(2 * time.Second) // c3's own ttl
	if m := h.st.members("g"); strings.Join(m, ",") != "c2" {
		t.Fatal(m)
	}
	h.advance(time.Minute) // group expiry
	if _, ok := h.st.groups["g"]; ok {
		t.Fatal("empty group kept")
	}
	h.rec.take()
	h.st.onData(env("s"), dataFrames(t, "g", CmdGroupSend, Props{{"ack", true}}, []byte("x")))
	if len(h.deliveries("a")) != 0 || h.lastReply().cmd() != CmdComplete {
		t.Fatal("sent to expired members")
	}
	// Listing and presence, ours.
	h.sig("s", CmdGroupAdd, Props{{"group_name", "h"}, {"channel_name", "c2"}})
	h.sig("s", CmdGroupList, Props{{"group_name", "h"}})
	p, _ := DecodeProps(h.lastReply().frames[2])
	if v, _ := p.Get("channels"); fmt.Sprint(v) != "[c2]" {
		t.Fatal(p)
	}
	h.sig("s", CmdChannelInfo, Props{{"channel_name", "c2"}})
	p, _ = DecodeProps(h.lastReply().frames[2])
	if fmt.Sprint(p) != "[{channel_name c2} {subscribers 1} {queued 0} {capacity 100} {groups [h]}]" {
		t.Fatal(p)
	}
}

func TestUnsubscribeDefect4(t *testing.T) {
	h := newHarness(t, Config{})
	h.sub("a", "c", "c")
	h.st.onData(env("a"), dataFrames(t, "c", CmdUnsubscribe, Props{{"subscriber_name", []byte("c")}, {"ack", true}}, nil))
	if h.lastReply().cmd() != CmdComplete {
		t.Fatal("unsubscribe failed")
	}
	h.send("s", "c", nil, "m")
	if len(h.deliveries("a")) != 0 {
		t.Fatal("delivered after unsubscribe")
	}
	h.st.onData(env("a"), dataFrames(t, "c", CmdUnsubscribe, Props{{"subscriber_name", []byte("c")}, {"ack", true}}, nil))
	if h.lastReply().cmd() != CmdException {
		t.Fatal("unknown subscription accepted")
	}
}

func TestDeadSubscribersDefect5(t *testing.T) {
	h := newHarness(t, Config{SubscriberExpiry: time.Hour})
	h.sub("a", "c", "c")
	h.sub("b", "c", "c")
	// a's connection closes: b gets everything.
	h.st.gone(false, "a")
	for range 3 {
		h.send("s", "c", nil, "m")
	}
	if len(h.deliveries("a")) != 0 || len(h.deliveries("b")) != 3 {
		t.Fatal(h.rec.sent)
	}
	// A peer found gone while delivering: the message goes to the next one.
	h.sub("z", "c", "c")
	h.rec.gone["z"] = true
	h.rec.take()
	for range 4 {
		h.send("s", "c", nil, "m")
	}
	if len(h.deliveries("b")) != 4 || h.st.stats().GonePeers != 2 {
		t.Fatal(h.rec.sent, h.st.stats())
	}
	// A full peer is skipped; when all are full messages wait.
	h.sub("f", "c", "c")
	h.rec.full["f"], h.rec.full["b"] = true, true
	h.send("s", "c", nil, "w")
	if h.st.queues["c"].len() != 1 || len(h.st.block) != 1 {
		t.Fatal("not waiting")
	}
	h.rec.full["f"] = false
	h.st.retryBlocked()
	if h.st.queues["c"].len() != 0 || len(h.deliveries("f")) != 1 {
		t.Fatal("not retried")
	}
	// Subscriptions expire after SubscriberExpiry without a refresh.
	h.advance(time.Hour)
	if h.st.stats().Subscribers != 0 {
		t.Fatal(h.st.stats())
	}
}

func TestFlushDefect6(t *testing.T) {
	h := newHarness(t, Config{})
	h.sub("a", "c", "c")
	h.sig("other", CmdHeartbeat, Props{})
	h.send("s", "q", nil, "m")
	h.sig("s", CmdGroupAdd, Props{{"group_name", "g"}, {"channel_name", "c"}})
	h.rec.take()
	h.sig("s", CmdFlush, Props{{"ack", true}})
	st := h.st.stats()
	if st.Channels != 0 || st.Groups != 0 || st.Subscribers != 0 {
		t.Fatal(st)
	}
	if h.lastReply().cmd() != CmdComplete || h.rec.count(CmdFlushClient, "other") != 1 || h.rec.count(CmdFlushClient, "s") != 1 {
		t.Fatal(h.rec.sent)
	}
	h.send("s", "c", nil, "m")
	if len(h.deliveries("a")) != 0 {
		t.Fatal("subscription survived flush")
	}
}

func TestPerformanceReport(t *testing.T) {
	h := newHarness(t, Config{})
	h.sub("a", "c", "c")
	h.send("s", "c", nil, "m")
	h.send("s", "d", nil, "m")
	h.advance(time.Second)
	h.sig("s", CmdPerformance, Props{})
	r := h.lastReply()
	if r.cmd() != CmdPerfReport {
		t.Fatal(r)
	}
	p, _ := DecodeProps(r.frames[2])
	get := func(k string) any { v, _ := p.Get(k); return v }
	if get("messages_in") != int64(2) || get("messages_out") != int64(1) || get("queued") != int64(1) ||
		get("subscribers") != int64(1) || get("in_per_sec") != 2.0 {
		t.Fatal(p)
	}
}

func TestNamesValidated(t *testing.T) {
	h := newHarness(t, Config{})
	h.send("s", "bad name", Props{{"ack", true}}, "m")
	if r := h.lastReply(); r.cmd() != CmdException || !strings.HasPrefix(exceptionOf(t, r), "TypeError(") {
		t.Fatal(r)
	}
	h.st.onData(env("s"), dataFrames(t, "g!x", CmdGroupSend, Props{{"ack", true}}, nil))
	if r := h.lastReply(); r.cmd() != CmdException {
		t.Fatal(r)
	}
	h.send("s", "c", Props{{"ack", true}}, string(make([]byte, MaxBodySize+1)))
	if r := h.lastReply(); !strings.HasPrefix(exceptionOf(t, r), "MessageTooLarge(") {
		t.Fatal(r)
	}
	if errors.Is(nil, ErrFormat) {
		t.Fatal()
	}
}

func TestGarbageData(t *testing.T) {
	h := newHarness(t, Config{})
	h.st.onData(env("s"), [][]byte{[]byte("x")})
	h.st.onData(env("s"), [][]byte{[]byte("c"), []byte(CmdSend), []byte("id"), {0xc1}, {0x80}, nil})
	if r := h.lastReply(); r.cmd() != CmdException || string(r.frames[2]) != "id" {
		t.Fatal(r)
	}
	if st := h.st.stats(); st.Errors != 2 || st.BadFrames != 1 {
		t.Fatal(st)
	}
}
