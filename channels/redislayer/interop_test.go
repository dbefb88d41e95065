package redislayer

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// A message with every type channels_redis messages carry.
var richMsg = map[string]any{
	"type":  "chat.message",
	"text":  "héllo ✓",
	"bytes": []byte{0, 0xff, 'x'},
	"n":     int64(-70000),
	"big":   int64(1 << 40),
	"f":     2.5,
	"ok":    true,
	"none":  nil,
	"list":  []any{int64(1), "two", []any{}},
	"map":   map[string]any{"k": "v"},
}

var richTypes = map[string]string{
	"type": "str", "text": "str", "bytes": "bytes", "n": "int", "big": "int", "f": "float",
	"ok": "bool", "none": "NoneType", "list": "list", "map": "dict",
}

func checkRich(t *testing.T, got map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(got, richMsg) {
		t.Fatalf("got %#v\nwant %#v", got, richMsg)
	}
}

// Our encoder writes the bytes Python's msgpack writes for the same
// (key-sorted) message, and Python's channels_redis reads ours.
func TestInteropEncodingBytes(t *testing.T) {
	srv, _ := newRedis(t)
	py := startPy(t, srv.URL(), nil)
	want := py.Str(map[string]any{"op": "pack", "msg": jsonMsg(richMsg)})
	b, err := encode(richMsg)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b[randomPrefixLen:]); got != want {
		t.Fatalf("encode:\n got %s\nwant %s", got, want)
	}
	var d struct {
		Types map[string]string `json:"types"`
	}
	json.Unmarshal(py.Must(map[string]any{"op": "unpack", "data": hex.EncodeToString(b)}), &d)
	if !reflect.DeepEqual(d.Types, richTypes) {
		t.Fatalf("python types %v, want %v", d.Types, richTypes)
	}
	if k := py.Str(map[string]any{"op": "group_key", "group": "test_group"}); k != (&Layer{prefix: "asgi"}).GroupKey("test_group") {
		t.Fatalf("group key: python %q", k)
	}
}

func TestInteropConsistentHash(t *testing.T) {
	srv, _ := newRedis(t)
	py := startPy(t, srv.URL(), nil)
	for _, ring := range []int{1, 2, 3, 10, 17} {
		for i := range 20 {
			v := fmt.Sprintf("specific.%032x!", i*7919)
			var want int
			json.Unmarshal(py.Must(map[string]any{"op": "hash", "value": v, "ring": ring}), &want)
			if got := consistentHash(v, ring); got != want {
				t.Fatalf("consistentHash(%q, %d) = %d, python %d", v, ring, got, want)
			}
		}
	}
}

func TestInteropChannel(t *testing.T) {
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), nil)
	l := newLayer(t, rdb, Config{})

	// Go -> Python, in order.
	for i := range 3 {
		m := map[string]any{"type": fmt.Sprintf("m.%d", i)}
		if i == 1 {
			m = richMsg
		}
		if err := l.Send(ctxT(t, 5*time.Second), "test-channel", m); err != nil {
			t.Fatal(err)
		}
	}
	if got := py.mustReceive("test-channel"); typ(got.Msg) != "m.0" {
		t.Fatalf("python got %v", got.Msg)
	}
	got := py.mustReceive("test-channel")
	checkRich(t, got.Msg)
	if !reflect.DeepEqual(got.Types, richTypes) {
		t.Fatalf("python types %v", got.Types)
	}
	if got := py.mustReceive("test-channel"); typ(got.Msg) != "m.2" {
		t.Fatalf("python got %v", got.Msg)
	}

	// Python -> Go, in order.
	py.Must(map[string]any{"op": "send", "channel": "test-channel", "msg": map[string]any{"type": "p.0"}})
	py.Must(map[string]any{"op": "send", "channel": "test-channel", "msg": jsonMsg(richMsg)})
	if m := mustReceive(t, l, "test-channel"); typ(m) != "p.0" {
		t.Fatalf("go got %v", m)
	}
	checkRich(t, mustReceive(t, l, "test-channel"))
}

func TestInteropProcessChannel(t *testing.T) {
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), nil)
	l := newLayer(t, rdb, Config{})

	// Go -> a Python process channel.
	pc := py.Str(map[string]any{"op": "new_channel"})
	if err := l.Send(ctxT(t, 5*time.Second), pc, richMsg); err != nil {
		t.Fatal(err)
	}
	got := py.mustReceive(pc)
	checkRich(t, got.Msg) // __asgi_channel__ taken out by Python

	// Python -> Go process channels: two channels of one layer share a key;
	// each gets only its own messages, whichever Receive pops them.
	a, b := l.NewChannel(""), l.NewChannel("")
	if l.ChannelKey(a) != l.ChannelKey(b) || l.ChannelKey(a) != "asgispecific."+l.client+"!" {
		t.Fatalf("keys %q %q", l.ChannelKey(a), l.ChannelKey(b))
	}
	py.Must(map[string]any{"op": "send", "channel": b, "msg": map[string]any{"type": "for.b"}})
	py.Must(map[string]any{"op": "send", "channel": a, "msg": jsonMsg(richMsg)})
	checkRich(t, mustReceive(t, l, a)) // pops b's message first and buffers it
	if m := mustReceive(t, l, b); typ(m) != "for.b" {
		t.Fatalf("b got %v", m)
	}

	// Python refuses to receive on ours, we refuse to receive on Python's.
	if _, e := py.receive(a, time.Second); e == "" {
		t.Fatal("python received on a Go process channel")
	}
	if _, err := l.Receive(ctxT(t, time.Second), pc); !errors.Is(err, ErrNotMine) {
		t.Fatalf("receive on python's channel: %v", err)
	}
}

func TestInteropGroups(t *testing.T) {
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), nil)
	l := newLayer(t, rdb, Config{})
	ctx := ctxT(t, 20*time.Second)

	pyA := py.Str(map[string]any{"op": "new_channel", "prefix": "gr"})
	pyB := py.Str(map[string]any{"op": "new_channel", "prefix": "gr"})
	goA, goB := l.NewChannel("gr"), l.NewChannel("gr")
	for _, c := range []string{pyA, pyB, goA, goB, "plain-go"} {
		if err := l.GroupAdd(ctx, "room", c); err != nil {
			t.Fatal(err)
		}
	}
	py.Must(map[string]any{"op": "group_add", "group": "room", "channel": "plain-py"})
	py.Must(map[string]any{"op": "group_discard", "group": "room", "channel": pyB})
	if err := l.GroupDiscard(ctx, "room", goB); err != nil {
		t.Fatal(err)
	}

	// Python group_send reaches Go and Python members, not discarded ones.
	py.Must(map[string]any{"op": "group_send", "group": "room", "msg": jsonMsg(richMsg)})
	checkRich(t, mustReceive(t, l, goA))
	checkRich(t, mustReceive(t, l, "plain-go"))
	checkRich(t, py.mustReceive(pyA).Msg)
	checkRich(t, py.mustReceive("plain-py").Msg)
	expectNothing(t, l, goB, 300*time.Millisecond)
	if _, e := py.receive(pyB, 300*time.Millisecond); e != "TimeoutError" {
		t.Fatalf("discarded python channel: %q", e)
	}

	// Go GroupSend reaches them too.
	if err := l.GroupSend(ctx, "room", map[string]any{"type": "from.go"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{goA, "plain-go"} {
		if m := mustReceive(t, l, c); typ(m) != "from.go" {
			t.Fatalf("%s got %v", c, m)
		}
	}
	for _, c := range []string{pyA, "plain-py"} {
		if m := py.mustReceive(c); typ(m.Msg) != "from.go" {
			t.Fatalf("%s got %v", c, m.Msg)
		}
	}
	expectNothing(t, l, goB, 300*time.Millisecond)
}

// group_send to many: one stored message per key, listing its channels.
func TestInteropGroupSendMany(t *testing.T) {
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), nil)
	l := newLayer(t, rdb, Config{})
	ctx := ctxT(t, 60*time.Second)

	var goChans, pyChans []string
	for i := range 100 {
		c := l.NewChannel("many")
		goChans = append(goChans, c)
		if err := l.GroupAdd(ctx, "many", c); err != nil {
			t.Fatal(err)
		}
		if i < 30 {
			pc := py.Str(map[string]any{"op": "new_channel", "prefix": "many"})
			pyChans = append(pyChans, pc)
			py.Must(map[string]any{"op": "group_add", "group": "many", "channel": pc})
		}
	}
	py.Must(map[string]any{"op": "group_send", "group": "many", "msg": map[string]any{"type": "from.py"}})
	if err := l.GroupSend(ctx, "many", map[string]any{"type": "from.go"}); err != nil {
		t.Fatal(err)
	}
	// Two keys (one per layer), two messages each.
	if n, _ := rdb.ZCard(ctx, l.ChannelKey(goChans[0])).Result(); n != 2 {
		t.Fatalf("go key holds %d messages, want 2", n)
	}
	for _, c := range goChans {
		for _, want := range []string{"from.py", "from.go"} {
			if m := mustReceive(t, l, c); typ(m) != want {
				t.Fatalf("%s got %v, want %s", c, m, want)
			}
		}
	}
	for _, c := range pyChans {
		for _, want := range []string{"from.py", "from.go"} {
			if m := py.mustReceive(c); typ(m.Msg) != want {
				t.Fatalf("%s got %v, want %s", c, m.Msg, want)
			}
		}
	}
}

// Both layers count the same capacity on the same channel.
func TestInteropCapacity(t *testing.T) {
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), map[string]any{"capacity": 3, "channel_capacity": map[string]int{"tiny*": 1}})
	l := newLayer(t, rdb, Config{Capacity: 3, ChannelCapacity: []ChannelCapacity{{"tiny*", 1}}})
	ctx := ctxT(t, 10*time.Second)

	py.Must(map[string]any{"op": "send", "channel": "cap", "msg": map[string]any{"type": "1"}})
	if err := l.Send(ctx, "cap", map[string]any{"type": "2"}); err != nil {
		t.Fatal(err)
	}
	py.Must(map[string]any{"op": "send", "channel": "cap", "msg": map[string]any{"type": "3"}})
	if err := l.Send(ctx, "cap", map[string]any{"type": "4"}); !errors.Is(err, ErrChannelFull) {
		t.Fatalf("go send over capacity: %v", err)
	}
	if _, e := py.Call(map[string]any{"op": "send", "channel": "cap", "msg": map[string]any{"type": "4"}}); e != "ChannelFull" {
		t.Fatalf("python send over capacity: %q", e)
	}
	if err := l.Send(ctx, "tiny-1", map[string]any{"type": "1"}); err != nil {
		t.Fatal(err)
	}
	if _, e := py.Call(map[string]any{"op": "send", "channel": "tiny-1", "msg": map[string]any{"type": "2"}}); e != "ChannelFull" {
		t.Fatalf("python send to full tiny: %q", e)
	}
	// Group sends skip the full channel on both sides.
	l.GroupAdd(ctx, "g", "cap")
	l.GroupAdd(ctx, "g", "roomy")
	py.Must(map[string]any{"op": "group_send", "group": "g", "msg": map[string]any{"type": "g.py"}})
	if err := l.GroupSend(ctx, "g", map[string]any{"type": "g.go"}); err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.GroupFull != 1 || s.Full != 1 {
		t.Fatalf("stats %+v", s)
	}
	for _, want := range []string{"1", "2", "3"} {
		if m := mustReceive(t, l, "cap"); typ(m) != want {
			t.Fatalf("cap: got %v want %s", m, want)
		}
	}
	for _, want := range []string{"g.py", "g.go"} {
		if m := py.mustReceive("roomy"); typ(m.Msg) != want {
			t.Fatalf("roomy: got %v want %s", m.Msg, want)
		}
	}
}

// Expired messages and memberships are dropped the same way by both. Age
// is simulated by rewriting scores, so no test sleeps.
func TestInteropExpiry(t *testing.T) {
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), map[string]any{"expiry": 10, "group_expiry": 100})
	l := newLayer(t, rdb, Config{Expiry: 10 * time.Second, GroupExpiry: 100 * time.Second})
	ctx := ctxT(t, 10*time.Second)
	age := func(key string, by float64) {
		t.Helper()
		zs, err := rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range zs {
			rdb.ZAddXX(ctx, key, redisZ(z.Score-by, z.Member))
		}
	}

	if err := l.Send(ctx, "exp", map[string]any{"type": "old"}); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, "asgiexp").Val(); ttl <= 9*time.Second || ttl > 10*time.Second {
		t.Fatalf("channel TTL %v, want 10s", ttl)
	}
	age("asgiexp", 12)
	py.Must(map[string]any{"op": "send", "channel": "exp", "msg": map[string]any{"type": "new"}})
	if m := mustReceive(t, l, "exp"); typ(m) != "new" {
		t.Fatalf("got %v, want the old message expired", m)
	}

	py.Must(map[string]any{"op": "send", "channel": "exp2", "msg": map[string]any{"type": "old"}})
	age("asgiexp2", 12)
	if err := l.Send(ctx, "exp2", map[string]any{"type": "new"}); err != nil {
		t.Fatal(err)
	}
	if m := py.mustReceive("exp2"); typ(m.Msg) != "new" {
		t.Fatalf("python got %v, want the old message expired", m.Msg)
	}

	// Group membership expiry.
	if err := l.GroupAdd(ctx, "ge", "member-old"); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, "asgi:group:ge").Val(); ttl <= 99*time.Second || ttl > 100*time.Second {
		t.Fatalf("group TTL %v, want 100s", ttl)
	}
	age("asgi:group:ge", 101)
	py.Must(map[string]any{"op": "group_add", "group": "ge", "channel": "member-new"})
	py.Must(map[string]any{"op": "group_send", "group": "ge", "msg": map[string]any{"type": "x"}})
	if n := rdb.Exists(ctx, "asgimember-old").Val(); n != 0 {
		t.Fatal("python sent to an expired member")
	}
	l.GroupAdd(ctx, "ge", "member-old2")
	age("asgi:group:ge", 101) // ages member-new too
	l.GroupAdd(ctx, "ge", "member-new2")
	if err := l.GroupSend(ctx, "ge", map[string]any{"type": "y"}); err != nil {
		t.Fatal(err)
	}
	if got := rdb.ZRange(ctx, "asgi:group:ge", 0, -1).Val(); !reflect.DeepEqual(got, []string{"member-new2"}) {
		t.Fatalf("members after expiry: %v", got)
	}
	if n := rdb.Exists(ctx, "asgimember-old2").Val(); n != 0 {
		t.Fatal("go sent to an expired member")
	}
	if m := mustReceive(t, l, "member-new2"); typ(m) != "y" {
		t.Fatalf("got %v", m)
	}
}

// Pop serves DMB-style process channels, whose non-local part is the same
// for every client: a server pops the shared key and routes by name.
func TestInteropPopSharedProcessKey(t *testing.T) {
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), nil)
	l := newLayer(t, rdb, Config{})
	ctx := ctxT(t, 10*time.Second)
	a, b := "specific.zmq_id_00!aaa", "specific.zmq_id_00!bbb"
	py.Must(map[string]any{"op": "send", "channel": a, "msg": map[string]any{"type": "to.a"}})
	py.Must(map[string]any{"op": "group_add", "group": "g", "channel": a})
	py.Must(map[string]any{"op": "group_add", "group": "g", "channel": b})
	py.Must(map[string]any{"op": "group_send", "group": "g", "msg": map[string]any{"type": "to.g"}})
	chans, m, err := l.Pop(ctx, "specific.zmq_id_00!")
	if err != nil || !reflect.DeepEqual(chans, []string{a}) || typ(m) != "to.a" || len(m) != 1 {
		t.Fatalf("pop: %v %v %v", chans, m, err)
	}
	chans, m, err = l.Pop(ctx, "specific.zmq_id_00!")
	if err != nil || !reflect.DeepEqual(chans, []string{a, b}) && !reflect.DeepEqual(chans, []string{b, a}) || typ(m) != "to.g" {
		t.Fatalf("pop group message: %v %v %v", chans, m, err)
	}
	py.Must(map[string]any{"op": "send", "channel": "plain", "msg": map[string]any{"type": "p"}})
	if chans, m, err := l.Pop(ctx, "plain"); err != nil || !reflect.DeepEqual(chans, []string{"plain"}) || typ(m) != "p" {
		t.Fatalf("pop plain: %v %v %v", chans, m, err)
	}
	if _, _, err := l.Pop(ctx, "specific.zmq_id_00!aaa"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("pop of a full process name: %v", err)
	}
}

// Bodies sent as msgpack (as a DMB server would pass them on) reach
// channels_redis unchanged, on normal and process channels and groups.
func TestInteropSendMsgpack(t *testing.T) {
	srv, rdb := newRedis(t)
	py := startPy(t, srv.URL(), nil)
	l := newLayer(t, rdb, Config{})
	ctx := ctxT(t, 10*time.Second)
	body, err := appendMap(nil, richMsg, 0)
	if err != nil {
		t.Fatal(err)
	}
	pc := py.Str(map[string]any{"op": "new_channel"})
	for _, c := range []string{"raw", pc} {
		if err := l.SendMsgpack(ctx, c, body); err != nil {
			t.Fatal(err)
		}
		got := py.mustReceive(c)
		checkRich(t, got.Msg)
		if !reflect.DeepEqual(got.Types, richTypes) {
			t.Fatalf("python types %v", got.Types)
		}
	}
	py.Must(map[string]any{"op": "group_add", "group": "rawg", "channel": pc})
	py.Must(map[string]any{"op": "group_add", "group": "rawg", "channel": "raw"})
	if err := l.GroupSendMsgpack(ctx, "rawg", body); err != nil {
		t.Fatal(err)
	}
	checkRich(t, py.mustReceive(pc).Msg)
	checkRich(t, py.mustReceive("raw").Msg)
}
