package zmq_test

// Interop tests against real libzmq 4.3, through pyzmq. Each case puts a
// zmqgo socket on one side of a pattern and testdata/pyzmq_peer.py (a pyzmq
// socket driven over stdin/stdout) on the other, in both bind directions.
//
//	go test -race -run 'TestInteropPyzmq$' -v .
//
// TestInteropPyzmqControl runs the same scenarios with pyzmq on both sides:
// when it fails, the harness is wrong, not the engine.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	zmq "github.com/zmqgo/zmq"
)

const (
	// Debian's python3-zmq only loads under the system interpreter.
	pythonPath = "/usr/bin/python3"
	peerScript = "testdata/pyzmq_peer.py"
	// opTimeout bounds every Send and Recv on either side.
	opTimeout = 10 * time.Second
	// peerAnswerTimeout is how long we wait for the peer to answer a command;
	// longer than opTimeout so the peer reports its own timeout first.
	peerAnswerTimeout = opTimeout + 5*time.Second
	// topicPrefix is the only subscription; the sync hello matches it too,
	// so a received hello proves the subscription the data needs is active.
	topicPrefix = "data/"
)

// ---------------------------------------------------------------------------
// The matrix.

// side describes one socket of a case.
type side struct {
	typ       zmq.Type
	id        string // explicit routing id; "" lets the ROUTER generate one
	mandatory bool   // ROUTER_MANDATORY
}

// role is one way round of a pattern: the side zmqgo plays, the pyzmq peers
// on the other side, and the scenario. Where zmqgo is the side that fans in
// (PULL, REP, ROUTER) there are two peers, so replies must find the right
// requester and per-peer order is checked under fair queueing.
type role struct {
	local  side
	remote []side
	run    func(t *testing.T, local end, remote []end, localBinds bool)
}

var interopPatterns = []struct {
	name  string
	roles []role
}{
	{"PAIR-PAIR", []role{
		{side{typ: zmq.Pair}, []side{{typ: zmq.Pair}},
			func(t *testing.T, l end, r []end, _ bool) { pairScenario(t, l, r[0]) }},
	}},
	{"PUB-SUB", []role{
		{side{typ: zmq.Pub}, []side{{typ: zmq.Sub}},
			func(t *testing.T, l end, r []end, _ bool) { pubSub(t, l, r[0]) }},
		{side{typ: zmq.Sub}, []side{{typ: zmq.Pub}},
			func(t *testing.T, l end, r []end, _ bool) { pubSub(t, r[0], l) }},
	}},
	{"PUSH-PULL", []role{
		{side{typ: zmq.Push}, []side{{typ: zmq.Pull}},
			func(t *testing.T, l end, r []end, _ bool) { pushPull(t, []end{l}, r[0]) }},
		{side{typ: zmq.Pull}, []side{{typ: zmq.Push}, {typ: zmq.Push}},
			func(t *testing.T, l end, r []end, _ bool) { pushPull(t, r, l) }},
	}},
	{"REQ-REP", []role{
		{side{typ: zmq.Req, id: "go-req"}, []side{{typ: zmq.Rep}},
			func(t *testing.T, l end, r []end, _ bool) { reqRep(t, []end{l}, r[0]) }},
		{side{typ: zmq.Rep}, []side{{typ: zmq.Req}, {typ: zmq.Req}},
			func(t *testing.T, l end, r []end, _ bool) { reqRep(t, r, l) }},
	}},
	{"REQ-ROUTER", []role{
		{side{typ: zmq.Req, id: "go-req"}, []side{{typ: zmq.Router}},
			func(t *testing.T, l end, r []end, _ bool) { reqRouter(t, []end{l}, r[0]) }},
		// One requester with an explicit id, one with a ROUTER-generated id.
		{side{typ: zmq.Router}, []side{{typ: zmq.Req, id: "py-req-0"}, {typ: zmq.Req}},
			func(t *testing.T, l end, r []end, _ bool) { reqRouter(t, r, l) }},
	}},
	{"DEALER-REP", []role{
		{side{typ: zmq.Dealer}, []side{{typ: zmq.Rep}},
			func(t *testing.T, l end, r []end, _ bool) { dealerRep(t, []end{l}, r[0]) }},
		{side{typ: zmq.Rep}, []side{{typ: zmq.Dealer}, {typ: zmq.Dealer}},
			func(t *testing.T, l end, r []end, _ bool) { dealerRep(t, r, l) }},
	}},
	{"DEALER-ROUTER", []role{
		// No id on our DEALER: libzmq's ROUTER generates one from our empty Identity.
		{side{typ: zmq.Dealer}, []side{{typ: zmq.Router}},
			func(t *testing.T, l end, r []end, _ bool) { dealerRouter(t, []end{l}, r[0]) }},
		{side{typ: zmq.Router}, []side{{typ: zmq.Dealer, id: "py-dealer-0"}, {typ: zmq.Dealer}},
			func(t *testing.T, l end, r []end, _ bool) { dealerRouter(t, r, l) }},
	}},
	{"ROUTER-ROUTER", []role{
		// The connecting ROUTER speaks first: it must wait (ROUTER_MANDATORY
		// retry) until the handshake has told it the binder's id.
		{side{typ: zmq.Router, id: "go-router", mandatory: true},
			[]side{{typ: zmq.Router, id: "py-router", mandatory: true}},
			func(t *testing.T, l end, r []end, localBinds bool) {
				if localBinds {
					routerRouter(t, r[0], l)
				} else {
					routerRouter(t, l, r[0])
				}
			}},
	}},
}

func TestInteropPyzmq(t *testing.T) {
	requirePyzmq(t)
	runMatrix(t, "zmqgo", newGoEnd)
}

// TestInteropPyzmqControl plays every case with pyzmq standing in for zmqgo.
func TestInteropPyzmqControl(t *testing.T) {
	if testing.Short() {
		t.Skip("harness self-check; skipped with -short")
	}
	requirePyzmq(t)
	runMatrix(t, "local", newPyLocal)
}

// newLocalFunc makes the side under test; it binds when bind is non-empty,
// else connects to every endpoint in connect.
type newLocalFunc func(t *testing.T, s side, bind string, connect []string) end

func runMatrix(t *testing.T, who string, newLocal newLocalFunc) {
	for _, p := range interopPatterns {
		t.Run(p.name, func(t *testing.T) {
			for _, r := range p.roles {
				t.Run(who+"="+r.local.typ.String(), func(t *testing.T) {
					for _, localBinds := range []bool{true, false} {
						name := who + "-binds"
						if !localBinds {
							name = "pyzmq-binds"
						}
						t.Run(name, func(t *testing.T) {
							local, remote := setup(t, r, localBinds, newLocal)
							r.run(t, local, remote, localBinds)
						})
					}
				})
			}
		})
	}
}

// setup creates and links the sockets of a role. Connects need no wait: the
// sockets queue until the handshake is done (ROUTER-ROUTER aside, see there).
func setup(t *testing.T, r role, localBinds bool, newLocal newLocalFunc) (end, []end) {
	t.Helper()
	var remote []end
	if localBinds {
		local := newLocal(t, r.local, "tcp://127.0.0.1:0", nil)
		for k, s := range r.remote {
			remote = append(remote, startPeer(t, s, k, "--connect", local.endpoint()))
		}
		return local, remote
	}
	var eps []string
	for k, s := range r.remote {
		p := startPeer(t, s, k, "--bind", "tcp://127.0.0.1:*")
		remote = append(remote, p)
		eps = append(eps, p.endpoint())
	}
	return newLocal(t, r.local, "", eps), remote
}

// ---------------------------------------------------------------------------
// Messages.

// bodyShapes are the frame sizes of the messages every sender sends, in order.
var bodyShapes = [][]int{
	{5},                     // one small frame
	{0},                     // only empty frames (see bodies)
	{254, 255, 256},         // around the short/long size boundary
	{255},                   // largest short-form frame
	{256},                   // smallest long-form frame
	{70000},                 // large: long form, above 64 KiB
	{3, 0, 5, 0, 0},         // empty frames inside and at the end
	{70000, 0, 256, 255, 1}, // large and small mixed
	// many frames
	{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
}

// bodies returns the messages sender k sends. The bytes depend on k so that
// two senders' streams differ and a cross-delivered message is caught; the
// all-empty message has k+1 frames for the same reason.
func bodies(k int) [][][]byte {
	msgs := make([][][]byte, len(bodyShapes))
	for i, shape := range bodyShapes {
		if len(shape) == 1 && shape[0] == 0 {
			for range k + 1 {
				msgs[i] = append(msgs[i], []byte{})
			}
			continue
		}
		for j, n := range shape {
			f := make([]byte, n)
			for b := range f {
				f[b] = byte(k*101 + i*31 + j*7 + b) // runs through every byte value
			}
			msgs[i] = append(msgs[i], f)
		}
	}
	return msgs
}

func bodiesFor(n int) [][][][]byte {
	all := make([][][][]byte, n)
	for k := range all {
		all[k] = bodies(k)
	}
	return all
}

// reply is what every replier sends back: the whole request, behind a marker.
func reply(body [][]byte) [][]byte { return join([][]byte{[]byte("reply")}, body) }

func join(parts ...[][]byte) [][]byte {
	var out [][]byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func strFrames(s ...string) [][]byte { return zmq.NewMsgString(s...).Frames }

// ---------------------------------------------------------------------------
// Scenarios, written once against end so either side can be zmqgo.

// pairScenario sends every body each way over one PAIR connection.
func pairScenario(t *testing.T, a, b end) {
	for _, dir := range []struct {
		from, to end
		k        int
	}{{a, b, 0}, {b, a, 1}} {
		for _, m := range bodies(dir.k) {
			dir.from.send(t, m)
		}
		for _, m := range bodies(dir.k) {
			expect(t, dir.to, m)
		}
	}
}

// pubSub: the subscriber wants topicPrefix only. The publisher repeats a
// hello (which matches it) until the subscriber gets one: only then is the
// subscription known to the publisher (slow joiner). Each data message
// follows an unsubscribed one that must be filtered out.
func pubSub(t *testing.T, pub, sub end) {
	hello := strFrames(topicPrefix + "hello")
	deadline := time.Now().Add(opTimeout)
	for synced := false; !synced; {
		if time.Now().After(deadline) {
			t.Fatalf("%s got no hello from %s within %v: subscription not propagated?", sub, pub, opTimeout)
		}
		pub.send(t, hello)
		if got, ok := sub.tryRecv(t, 50*time.Millisecond); ok {
			checkFrames(t, sub.String()+" (sync)", got, hello)
			synced = true
		}
	}
	var want [][][]byte
	for i, b := range bodies(0) {
		pub.send(t, join(strFrames(fmt.Sprintf("skip/%d", i)), b))
		m := join(strFrames(fmt.Sprintf("%s%d", topicPrefix, i)), b)
		pub.send(t, m)
		want = append(want, m)
	}
	for i, w := range want {
		got := sub.recv(t)
		for i == 0 && framesEqual(got, hello) { // hellos sent before the first one arrived
			got = sub.recv(t)
		}
		checkFrames(t, fmt.Sprintf("%s message %d", sub, i), got, w)
	}
}

// pushPull: every pusher sends all its bodies; the puller gets them all, each
// pusher's in order.
func pushPull(t *testing.T, pushers []end, puller end) {
	want := bodiesFor(len(pushers))
	for k, p := range pushers {
		for _, m := range want[k] {
			p.send(t, m)
		}
	}
	f := newFanIn(pushers, want)
	for n := f.total(); n > 0; n-- {
		f.take(t, puller, puller.recv(t))
	}
}

// reqRep: lock-step rounds; in each, every requester sends, the REP answers
// each request, and every requester must get the reply to its own request.
func reqRep(t *testing.T, reqs []end, rep end) {
	want := bodiesFor(len(reqs))
	f := newFanIn(reqs, want)
	for i := range bodyShapes {
		for k, c := range reqs {
			c.send(t, want[k][i])
		}
		for range reqs {
			m := rep.recv(t)
			f.take(t, rep, m)
			rep.send(t, reply(m))
		}
		for k, c := range reqs {
			expect(t, c, reply(want[k][i]))
		}
	}
}

// reqRouter: as reqRep, but the ROUTER sees [id, "", body] and must send the
// envelope back itself.
func reqRouter(t *testing.T, reqs []end, router end) {
	want := bodiesFor(len(reqs))
	ids := newPeerIDs(reqs)
	for i := range bodyShapes {
		for k, c := range reqs {
			c.send(t, want[k][i])
		}
		for range reqs {
			m := router.recv(t)
			k := ids.sender(t, router, m)
			checkFrames(t, fmt.Sprintf("%s request %d from %s", router, i, reqs[k]),
				m[1:], join([][]byte{{}}, want[k][i]))
			router.send(t, join([][]byte{m[0], {}}, reply(m[2:])))
		}
		for k, c := range reqs {
			expect(t, c, reply(want[k][i]))
		}
	}
}

// dealerRep: dealers pipeline all their requests behind a two-hop envelope;
// REP must hide the envelope and restore it on each reply.
func dealerRep(t *testing.T, dealers []end, rep end) {
	want := bodiesFor(len(dealers))
	envelope := func(k, i int) [][]byte {
		return strFrames(fmt.Sprintf("hop-%d", k), fmt.Sprintf("req-%d", i), "")
	}
	for k, d := range dealers {
		for i, b := range want[k] {
			d.send(t, join(envelope(k, i), b))
		}
	}
	f := newFanIn(dealers, want)
	for n := f.total(); n > 0; n-- {
		m := rep.recv(t)
		f.take(t, rep, m)
		rep.send(t, reply(m))
	}
	for k, d := range dealers {
		for i, b := range want[k] {
			expect(t, d, join(envelope(k, i), reply(b)))
		}
	}
}

// dealerRouter: dealers pipeline all their messages; the ROUTER sees
// [id, body], each dealer's in order, and replies to each id.
func dealerRouter(t *testing.T, dealers []end, router end) {
	want := bodiesFor(len(dealers))
	for k, d := range dealers {
		for _, b := range want[k] {
			d.send(t, b)
		}
	}
	ids := newPeerIDs(dealers)
	next := make([]int, len(dealers))
	for n := len(dealers) * len(bodyShapes); n > 0; n-- {
		m := router.recv(t)
		k := ids.sender(t, router, m)
		if next[k] == len(want[k]) {
			t.Fatalf("%s: extra message from %s: %s", router, dealers[k], summary(m))
		}
		checkFrames(t, fmt.Sprintf("%s message %d from %s", router, next[k], dealers[k]), m[1:], want[k][next[k]])
		next[k]++
		router.send(t, join(m[:1], reply(m[1:])))
	}
	for k, d := range dealers {
		for _, b := range want[k] {
			expect(t, d, reply(b))
		}
	}
}

// routerRouter: both sides have explicit ids. The initiator (the connecting
// side) addresses the responder by id; its first send retries on
// EHOSTUNREACH until the handshake is done.
func routerRouter(t *testing.T, initiator, responder end) {
	want := bodies(0)
	for _, b := range want {
		initiator.send(t, join([][]byte{responder.id()}, b))
	}
	for i, b := range want {
		m := responder.recv(t)
		checkFrames(t, fmt.Sprintf("%s message %d", responder, i), m, join([][]byte{initiator.id()}, b))
		responder.send(t, join([][]byte{initiator.id()}, reply(b)))
	}
	for _, b := range want {
		expect(t, initiator, join([][]byte{responder.id()}, reply(b)))
	}
}

// fanIn checks a stream merged from several senders by fair queueing: each
// sender's order must hold, the interleaving is free.
type fanIn struct {
	senders []end
	next    [][][][]byte // per sender, the messages still expected
}

func newFanIn(senders []end, want [][][][]byte) *fanIn {
	f := &fanIn{senders: senders, next: make([][][][]byte, len(want))}
	copy(f.next, want)
	return f
}

func (f *fanIn) total() int {
	n := 0
	for _, q := range f.next {
		n += len(q)
	}
	return n
}

func (f *fanIn) take(t *testing.T, receiver end, got [][]byte) {
	t.Helper()
	var heads []string
	for k, q := range f.next {
		if len(q) > 0 && framesEqual(got, q[0]) {
			f.next[k] = q[1:]
			return
		}
		if len(q) > 0 {
			heads = append(heads, fmt.Sprintf("\n  next from %s: %s (%s)", f.senders[k], summary(q[0]), diff(got, q[0])))
		}
	}
	t.Fatalf("%s received %s, which is no sender's next message:%s", receiver, summary(got), strings.Join(heads, ""))
}

// peerIDs maps the routing id a ROUTER reports to the sender it stands for.
// A sender without an explicit id gets one the ROUTER generates: libzmq's
// form, 5 bytes with a zero first byte. At most one such sender per case.
type peerIDs struct {
	senders   []end
	generated map[string]int
}

func newPeerIDs(senders []end) *peerIDs {
	return &peerIDs{senders: senders, generated: map[string]int{}}
}

func (p *peerIDs) sender(t *testing.T, router end, m [][]byte) int {
	t.Helper()
	if len(m) < 2 {
		t.Fatalf("%s received %s: want at least [routing id, body...]", router, summary(m))
	}
	id := m[0]
	for k, s := range p.senders {
		if s.id() != nil && bytes.Equal(s.id(), id) {
			return k
		}
	}
	if k, ok := p.generated[string(id)]; ok {
		return k
	}
	if len(id) != 5 || id[0] != 0 {
		t.Fatalf("%s received routing id %x, neither a peer's explicit id nor a generated one (5 bytes, 0x00 first); message %s",
			router, id, summary(m))
	}
	for k, s := range p.senders {
		if s.id() == nil && !p.bound(k) {
			p.generated[string(id)] = k
			return k
		}
	}
	t.Fatalf("%s received unknown generated routing id %x; message %s", router, id, summary(m))
	return -1
}

func (p *peerIDs) bound(k int) bool {
	for _, v := range p.generated {
		if v == k {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Ends.

// end is one socket in a scenario: zmqgo's or a pyzmq peer's.
type end interface {
	fmt.Stringer
	id() []byte       // explicit routing id, nil if none
	endpoint() string // where it bound ("" if it connected)
	send(t *testing.T, frames [][]byte)
	recv(t *testing.T) [][]byte
	tryRecv(t *testing.T, d time.Duration) ([][]byte, bool)
}

func expect(t *testing.T, e end, want [][]byte) {
	t.Helper()
	checkFrames(t, e.String(), e.recv(t), want)
}

// goEnd is a zmqgo socket.
type goEnd struct {
	s     *zmq.Socket
	label string
	rid   []byte
	ep    string
}

func newGoEnd(t *testing.T, sd side, bind string, connect []string) end {
	t.Helper()
	// Linger 0: nothing may be left queued once a scenario has passed.
	opts := []zmq.Option{zmq.WithLinger(0)}
	g := &goEnd{label: "zmqgo " + sd.typ.String()}
	if sd.id != "" {
		g.rid = []byte(sd.id)
		opts = append(opts, zmq.WithRoutingID(g.rid))
	}
	if sd.mandatory {
		opts = append(opts, zmq.WithRouterMandatory(true))
	}
	s, err := zmq.NewSocket(sd.typ, opts...)
	if err != nil {
		t.Fatalf("NewSocket(%v): %v", sd.typ, err)
	}
	g.s = s
	t.Cleanup(func() {
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Errorf("%s: Close: %v", g, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: Close took %v with linger 0", g, d)
		}
	})
	if sd.typ == zmq.Sub {
		if err := s.Subscribe([]byte(topicPrefix)); err != nil {
			t.Fatalf("%s: Subscribe: %v", g, err)
		}
	}
	if bind != "" {
		if err := s.Bind(bind); err != nil {
			t.Fatalf("%s: Bind(%q): %v", g, bind, err)
		}
		g.ep = s.LastEndpoint()
		if !strings.HasPrefix(g.ep, "tcp://127.0.0.1:") || strings.HasSuffix(g.ep, ":0") {
			t.Fatalf("%s: LastEndpoint() = %q after Bind(%q), want the bound port", g, g.ep, bind)
		}
	}
	for _, ep := range connect {
		if err := s.Connect(ep); err != nil {
			t.Fatalf("%s: Connect(%q): %v", g, ep, err)
		}
	}
	return g
}

func (g *goEnd) String() string   { return g.label }
func (g *goEnd) id() []byte       { return g.rid }
func (g *goEnd) endpoint() string { return g.ep }

func (g *goEnd) send(t *testing.T, frames [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	backoff := time.Millisecond
	for {
		// Clone: Send owns the frames until they are on the wire.
		err := g.s.Send(ctx, zmq.NewMsg(frames...).Clone())
		if err == nil {
			return
		}
		if errors.Is(err, zmq.ErrHostUnreachable) && ctx.Err() == nil {
			// ROUTER_MANDATORY: the peer's id is known only after the
			// handshake. Retry with a short backoff until the deadline.
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, 50*time.Millisecond)
			continue
		}
		t.Fatalf("%s: Send(%s): %v", g, summary(frames), err)
	}
}

func (g *goEnd) recv(t *testing.T) [][]byte {
	t.Helper()
	m, ok := g.tryRecv(t, opTimeout)
	if !ok {
		t.Fatalf("%s: Recv: no message within %v", g, opTimeout)
	}
	return m
}

func (g *goEnd) tryRecv(t *testing.T, d time.Duration) ([][]byte, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := g.s.Recv(ctx)
	switch {
	case err == nil:
		return m.Frames, true
	case ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ctx.Err())):
		return nil, false
	}
	t.Fatalf("%s: Recv: %v", g, err)
	return nil, false
}

// ---------------------------------------------------------------------------
// The pyzmq peer process.

// pyPeer drives one testdata/pyzmq_peer.py process: one JSON command per
// line on its stdin, one answer line on its stdout.
type pyPeer struct {
	label   string
	rid     []byte
	ep      string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *lineBuf
	stderr  *lineBuf
	exited  chan struct{} // closed once Wait has returned
	waitErr error
}

// startPeer starts peer number k of a case; mode is "--bind" or "--connect",
// given once per endpoint.
func startPeer(t *testing.T, sd side, k int, mode string, endpoints ...string) *pyPeer {
	t.Helper()
	return startSidePeer(t, sd, k, mode, sideArgs(peerScript, sd, "20", mode, endpoints))
}

// sideArgs is the command line of a pyzmq peer script for one side of a
// case: its type, endpoints, routing id, ROUTER mandatory and subscription.
func sideArgs(script string, sd side, timeout, mode string, endpoints []string) []string {
	args := []string{script, "--type", sd.typ.String(), "--timeout", timeout}
	for _, ep := range endpoints {
		args = append(args, mode, ep)
	}
	if sd.id != "" {
		args = append(args, "--routing-id", hex.EncodeToString([]byte(sd.id)))
	}
	if sd.mandatory {
		args = append(args, "--router-mandatory")
	}
	if sd.typ == zmq.Sub {
		args = append(args, "--subscribe", hex.EncodeToString([]byte(topicPrefix)))
	}
	return args
}

// startSidePeer launches a peer script for side sd with args and, when it
// binds, records the endpoint its READY line names.
func startSidePeer(t *testing.T, sd side, k int, mode string, args []string) *pyPeer {
	t.Helper()
	p, ready := launchPy(t, fmt.Sprintf("pyzmq %v#%d", sd.typ, k), args)
	if sd.id != "" {
		p.rid = []byte(sd.id)
	}
	if mode == "--bind" {
		p.ep = ready
	}
	return p
}

// launchPy starts /usr/bin/python3 with args (the script first), one JSON
// command per line on its stdin, and waits for its "READY ..." line; it
// returns the driver and the rest of that line. The process is stopped
// (stdin closed, then killed if need be) when the test ends.
func launchPy(t *testing.T, label string, args []string) (*pyPeer, string) {
	t.Helper()
	p := &pyPeer{label: label, out: newLineBuf(), stderr: newLineBuf(), exited: make(chan struct{})}
	p.cmd = exec.Command(pythonPath, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.stderr
	p.cmd.WaitDelay = 2 * time.Second
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", p, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	line := p.line(t)
	rest, ok := strings.CutPrefix(line, "READY ")
	if !ok {
		t.Fatalf("%s: first line %q, want READY ...", p, line)
	}
	return p, rest
}

// stop closes the peer's stdin (it then closes its socket and exits 0) and
// kills it if it does not exit promptly.
func (p *pyPeer) stop(t *testing.T) {
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		// Ask for a Python traceback (faulthandler), then kill.
		p.cmd.Process.Signal(syscall.SIGUSR1)
		select {
		case <-p.exited:
		case <-time.After(500 * time.Millisecond):
		}
		p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s did not exit within 10s after stdin closed; killed; stderr:\n%s", p, p.stderr.all())
		return
	}
	if p.waitErr != nil && !t.Failed() {
		t.Errorf("%s exited: %v; stderr:\n%s", p, p.waitErr, p.stderr.all())
	}
	if t.Failed() {
		if s := p.stderr.all(); s != "" {
			t.Logf("%s stderr:\n%s", p, s)
		}
	}
}

func (p *pyPeer) String() string   { return p.label }
func (p *pyPeer) id() []byte       { return p.rid }
func (p *pyPeer) endpoint() string { return p.ep }

// line returns the peer's next stdout line, failing if it exits or is silent.
func (p *pyPeer) line(t *testing.T) string {
	t.Helper()
	timer := time.NewTimer(peerAnswerTimeout)
	defer timer.Stop()
	for {
		if l, ok := p.out.pop(); ok {
			if strings.HasPrefix(l, "ERROR ") {
				t.Fatalf("%s: %s", p, l)
			}
			return l
		}
		select {
		case <-p.out.notify:
		case <-p.exited:
			if l, ok := p.out.pop(); ok {
				return l
			}
			t.Fatalf("%s exited (%v) without answering; stderr:\n%s", p, p.waitErr, p.stderr.all())
		case <-timer.C:
			t.Fatalf("%s: no answer within %v; stderr:\n%s", p, peerAnswerTimeout, p.stderr.all())
		}
	}
}

func (p *pyPeer) do(t *testing.T, cmd map[string]any) string {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		select { // it died: wait a little so its stderr explains why
		case <-p.exited:
		case <-time.After(time.Second):
		}
		t.Fatalf("%s: write command: %v; stderr:\n%s", p, err, p.stderr.all())
	}
	return p.line(t)
}

func (p *pyPeer) send(t *testing.T, frames [][]byte) {
	t.Helper()
	hx := make([]string, len(frames))
	for i, f := range frames {
		hx[i] = hex.EncodeToString(f)
	}
	if l := p.do(t, map[string]any{"op": "send", "frames": hx}); l != "SENT" {
		t.Fatalf("%s: send answered %q", p, l)
	}
}

func (p *pyPeer) recv(t *testing.T) [][]byte {
	t.Helper()
	m, ok := p.tryRecv(t, opTimeout)
	if !ok {
		t.Fatalf("%s: recv: no message within %v", p, opTimeout)
	}
	return m
}

func (p *pyPeer) tryRecv(t *testing.T, d time.Duration) ([][]byte, bool) {
	t.Helper()
	l := p.do(t, map[string]any{"op": "recv", "timeout_ms": d.Milliseconds()})
	if l == "TIMEOUT" {
		return nil, false
	}
	js, ok := strings.CutPrefix(l, "MSG ")
	var hx []string
	if !ok || json.Unmarshal([]byte(js), &hx) != nil {
		t.Fatalf("%s: recv answered %.200q", p, l)
	}
	frames := make([][]byte, len(hx))
	for i, h := range hx {
		f, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("%s: bad hex in answer: %v", p, err)
		}
		frames[i] = f
	}
	return frames, true
}

// newPyLocal makes a pyzmq peer play the side under test (control run).
func newPyLocal(t *testing.T, sd side, bind string, connect []string) end {
	t.Helper()
	var p *pyPeer
	if bind != "" {
		p = startPeer(t, sd, 0, "--bind", "tcp://127.0.0.1:*")
	} else {
		p = startPeer(t, sd, 0, "--connect", connect...)
	}
	p.label = "pyzmq(local) " + sd.typ.String()
	return p
}

// lineBuf collects a process's output as lines; Write never blocks, so the
// process can never stall on a full pipe while the test waits elsewhere.
type lineBuf struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	text    strings.Builder // everything, for stderr reports
	notify  chan struct{}   // signalled after each Write
}

func newLineBuf() *lineBuf { return &lineBuf{notify: make(chan struct{}, 1)} }

func (b *lineBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.text.Write(p)
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.lines = append(b.lines, string(b.partial[:i]))
		b.partial = append([]byte(nil), b.partial[i+1:]...)
	}
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *lineBuf) pop() (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) == 0 {
		return "", false
	}
	l := b.lines[0]
	b.lines = b.lines[1:]
	return l, true
}

func (b *lineBuf) all() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.text.String()
}

// ---------------------------------------------------------------------------
// Peer availability.

var pyzmqVersion = sync.OnceValues(func() (string, error) {
	out, err := exec.Command(pythonPath, "-c",
		"import zmq; print('libzmq', zmq.zmq_version(), 'pyzmq', zmq.pyzmq_version())").CombinedOutput()
	if err != nil {
		if o := bytes.TrimSpace(out); len(o) > 0 {
			err = fmt.Errorf("%w: %s", err, o)
		}
		return "", fmt.Errorf("%s -c 'import zmq': %w", pythonPath, err)
	}
	if _, err := os.Stat(peerScript); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
})

// requirePyzmq skips the test when the pyzmq peer cannot run, or fails it
// under CI=true, where a missing peer must not pass silently.
func requirePyzmq(t *testing.T) {
	t.Helper()
	v, err := pyzmqVersion()
	if err != nil {
		msg := fmt.Sprintf("pyzmq interop peer unavailable (install python3-zmq): %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Logf("interop peer: %s", v)
}

// ---------------------------------------------------------------------------
// Comparing frames.

func framesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func checkFrames(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if !framesEqual(got, want) {
		t.Fatalf("%s: received %s\n  want %s\n  %s", what, summary(got), summary(want), diff(got, want))
	}
}

// summary shows each frame's size and first bytes.
func summary(frames [][]byte) string {
	parts := make([]string, len(frames))
	for i, f := range frames {
		if len(f) <= 12 {
			parts[i] = fmt.Sprintf("%q", f)
		} else {
			parts[i] = fmt.Sprintf("%dB(%x…)", len(f), f[:8])
		}
	}
	return fmt.Sprintf("%d frames [%s]", len(frames), strings.Join(parts, " "))
}

// diff names the first difference.
func diff(got, want [][]byte) string {
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if bytes.Equal(g, w) {
			continue
		}
		for j := range min(len(g), len(w)) {
			if g[j] != w[j] {
				return fmt.Sprintf("frame %d differs at byte %d: %#02x, want %#02x", i, j, g[j], w[j])
			}
		}
		return fmt.Sprintf("frame %d is %d bytes, want %d", i, len(g), len(w))
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d frames, want %d", len(got), len(want))
	}
	return "equal"
}
