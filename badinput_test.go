package zmq_test

// Bad input: raw tcp peers write malformed, hostile or merely odd bytes at a
// bound socket while a healthy zmqgo peer keeps sending to it. Each time the
// bad connection must be closed by the socket, the healthy traffic must go
// on, a Warn log line must say why, nothing may panic, and no goroutine may
// be left behind.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/internal/ztest"
)

const (
	// badHandshakeIvl is the victims' handshake bound: only silent peers
	// should need it to be dropped.
	badHandshakeIvl = 3 * time.Second
	// prompt is how soon a peer that sent bad bytes must be dropped.
	prompt = 2 * time.Second
)

type victimSpec struct {
	name     string
	typ      zmq.Type
	healthy  zmq.Type // a zmqgo peer type that may talk to it
	peerType string   // what a well-behaved raw peer announces
}

var victimSpecs = []victimSpec{
	{"PULL", zmq.Pull, zmq.Push, zmtp.TypePush},
	{"ROUTER", zmq.Router, zmq.Dealer, zmtp.TypeDealer},
}

// victim is a bound socket with a healthy peer sending "h", seq forever.
type victim struct {
	spec victimSpec
	s    *zmq.Socket
	ep   string
	logs *ztest.LogRecorder
	next int // next sequence number expected from the healthy peer
}

func newVictim(t *testing.T, spec victimSpec, opts ...zmq.Option) *victim {
	t.Helper()
	v := &victim{spec: spec, logs: ztest.NewLogRecorder()}
	opts = append([]zmq.Option{zmq.WithLogger(v.logs.Logger()), zmq.WithHandshakeInterval(badHandshakeIvl)}, opts...)
	v.s = newSock(t, spec.typ, opts...)
	v.ep = bindTCP(t, v.s)
	h := newSock(t, spec.healthy)
	connectTo(t, h, v.ep)
	background(t, func(ctx context.Context) {
		for k := 0; ; k++ {
			if err := h.Send(ctx, zmq.NewMsgString("h", fmt.Sprint(k))); err != nil {
				return
			}
		}
	})
	v.healthy(t, 10)
	return v
}

// healthy receives n messages and checks they are the healthy peer's, in
// sequence: nothing lost, nothing from a bad peer slipped in.
func (v *victim) healthy(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		m := mustRecv(t, v.s)
		if v.spec.typ == zmq.Router {
			m.Frames = m.Frames[1:]
		}
		if len(m.Frames) != 2 || string(m.Frames[0]) != "h" {
			t.Fatalf("message %q did not come from the healthy peer", frames(m))
		}
		if got := string(m.Frames[1]); got != fmt.Sprint(v.next) {
			t.Fatalf("healthy peer: got #%s, want #%d", got, v.next)
		}
		v.next++
	}
}

// badCase is one kind of bad peer.
type badCase struct {
	name string
	// handshake: complete a valid NULL handshake first (as the victim's
	// usual peer type), then write bytes.
	handshake bool
	bytes     []byte
	// halfClose: shut our write side after writing (the peer "stops").
	halfClose bool
	// slow: only the handshake timeout can drop this peer.
	slow bool
	// reason: substrings of the Warn line the victim must log (none: no
	// Warn required).
	reason []string
	// memory: check the victim did not allocate much for it.
	memory bool
}

func greetingWith(b ...[]byte) []byte {
	return append(ztest.Greeting(zmtp.MechNull), bytes.Join(b, nil)...)
}

func cmdFrame(body []byte) []byte { return ztest.Frame(zmtp.FlagCommand, body) }

func longHeader(flags byte, size uint64) []byte {
	b := []byte{flags | zmtp.FlagLong, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(b[1:], size)
	return b
}

func readyBody(props []byte) []byte {
	return append([]byte{5, 'R', 'E', 'A', 'D', 'Y'}, props...)
}

var zmtpSig = func() []byte { s := zmtp.Signature(); return s[:] }()

func badCases(spec victimSpec) []badCase {
	wrongType := zmtp.TypePub
	return []badCase{
		// Greeting.
		{name: "garbage-greeting", bytes: bytes.Repeat([]byte("G"), 64), reason: []string{"not a ZMTP peer"}},
		{name: "garbage-after-signature", bytes: append(append(append([]byte{}, zmtpSig...), 3), bytes.Repeat([]byte{0xAA}, 53)...), reason: []string{"mechanism"}},
		{name: "mechanism-not-padded", bytes: func() []byte {
			g := ztest.Greeting("NULL")
			g[12+4] = 'X' // "NULLX" is fine, but "NULL\0X" is not a name
			g[12+5] = 0
			g[12+6] = 'Y'
			return g
		}(), reason: []string{"mechanism"}},
		{name: "zmtp1.0", bytes: []byte{0x01, 0x00}, reason: []string{"version"}},
		{name: "zmtp1.0-identity", bytes: []byte{0x06, 0x00, 'h', 'e', 'l', 'l', 'o'}, reason: []string{"version"}},
		{name: "zmtp1.0-long-length", bytes: append([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00}, make([]byte, 256)...), reason: []string{"version"}},
		{name: "zmtp2.0", bytes: append(append([]byte{}, zmtpSig...), 0x01, 0x08, 0x00, 0x00), reason: []string{"version"}},
		{name: "zmtp2.0-major0", bytes: append(append([]byte{}, zmtpSig...), 0x00, 0x08, 0x00, 0x00), reason: []string{"version"}},
		{name: "mechanism-PLAIN", bytes: ztest.Greeting("PLAIN"), reason: []string{"mechanism"}},
		{name: "mechanism-CURVE", bytes: ztest.Greeting("CURVE"), reason: []string{"mechanism"}},
		// NULL handshake.
		{name: "incompatible-" + wrongType, bytes: greetingWith(ztest.Ready(wrongType, nil)), reason: []string{"incompatible"}},
		{name: "incompatible-lowercase", bytes: greetingWith(ztest.Ready(string(bytes.ToLower([]byte(spec.peerType))), nil)), reason: []string{"incompatible"}},
		{name: "no-socket-type", bytes: greetingWith(cmdFrame(readyBody(nil))), reason: []string{"incompatible"}},
		{name: "metadata-truncated-value", bytes: greetingWith(cmdFrame(readyBody([]byte("\x0bSocket-Type\x00\x00\x00\x10PU")))), reason: []string{"metadata"}},
		{name: "metadata-truncated-name", bytes: greetingWith(cmdFrame(readyBody([]byte("\x20Socket")))), reason: []string{"metadata"}},
		{name: "metadata-bad-name", bytes: greetingWith(cmdFrame(readyBody([]byte("\x0bSocket Type\x00\x00\x00\x04PUSH")))), reason: []string{"metadata"}},
		{name: "metadata-huge-value-length", bytes: greetingWith(cmdFrame(readyBody([]byte("\x0bSocket-Type\xff\xff\xff\xffPUSH")))), reason: []string{"metadata"}},
		{name: "data-frame-in-handshake", bytes: greetingWith(ztest.Frame(0, []byte("hello"))), reason: []string{"data frame"}},
		{name: "ping-in-handshake", bytes: greetingWith(zmtp.AppendPing(nil, 0, nil)), reason: []string{"PING"}},
		{name: "error-in-handshake", bytes: greetingWith(zmtp.AppendError(nil, "go away")), reason: []string{"go away"}},
		{name: "huge-handshake-command", bytes: greetingWith(longHeader(zmtp.FlagCommand, 1<<40)), reason: []string{"exceeds"}, memory: true},
		// After the handshake.
		{name: "command-bad-name-length", handshake: true, bytes: cmdFrame([]byte{10, 'A'}), reason: []string{"malformed command"}},
		{name: "command-empty", handshake: true, bytes: cmdFrame(nil), reason: []string{"malformed command"}},
		{name: "command-zero-name-length", handshake: true, bytes: cmdFrame([]byte{0, 'A'}), reason: []string{"malformed command"}},
		{name: "ping-context-too-long", handshake: true, bytes: zmtp.AppendCommandFrame(nil, zmtp.CmdPing, make([]byte, 2+17)), reason: []string{"malformed command"}},
		{name: "ping-too-short", handshake: true, bytes: zmtp.AppendCommandFrame(nil, zmtp.CmdPing, []byte{0}), reason: []string{"malformed command"}},
		{name: "command-with-more", handshake: true, bytes: []byte{zmtp.FlagCommand | zmtp.FlagMore, 5, 4, 'P', 'I', 'N', 'G'}, reason: []string{"MORE"}},
		{name: "command-inside-multipart", handshake: true, bytes: append(ztest.Frame(zmtp.FlagMore, []byte("part")), zmtp.AppendPing(nil, 0, nil)...), reason: []string{"command inside"}},
		{name: "peer-error", handshake: true, bytes: zmtp.AppendError(nil, "bye now"), reason: []string{"bye now"}},
		{name: "eof-mid-frame", handshake: true, bytes: append([]byte{0, 100}, make([]byte, 10)...), halfClose: true, reason: []string{"unexpected EOF"}},
		{name: "eof-mid-long-header", handshake: true, bytes: []byte{zmtp.FlagLong, 0, 0, 0}, halfClose: true, reason: []string{"unexpected EOF"}},
		{name: "eof-mid-multipart", handshake: true, bytes: ztest.Frame(zmtp.FlagMore, []byte("first-of-two")), halfClose: true},
		{name: "eof-mid-handshake-frame", bytes: append(ztest.Greeting(zmtp.MechNull), 0x04, 30, 5, 'R', 'E'), halfClose: true},
		{name: "announce-2^62", handshake: true, bytes: append(longHeader(0, 1<<62), []byte("just a few bytes")...), halfClose: true, reason: []string{"unexpected EOF"}, memory: true},
		{name: "announce-2^62-more", handshake: true, bytes: append(longHeader(zmtp.FlagMore, 1<<62), []byte("just a few bytes")...), halfClose: true, memory: true},
		{name: "announce-2^63", handshake: true, bytes: longHeader(0, 1<<63), reason: []string{"exceeds"}, memory: true},
		{name: "announce-2^64-1", handshake: true, bytes: longHeader(0, 1<<64-1), reason: []string{"exceeds"}, memory: true},
		// Silence.
		{name: "sends-nothing", slow: true},
		{name: "partial-signature", bytes: []byte{0xFF, 0, 0}, slow: true},
		{name: "greeting-only", bytes: ztest.Greeting(zmtp.MechNull), slow: true},
		{name: "greeting-and-partial-ready", bytes: append(ztest.Greeting(zmtp.MechNull), 0x04, 30, 5, 'R', 'E'), slow: true},
	}
}

// inject runs one bad peer against v and checks the outcome; the caller
// checks the healthy peer (inject may run concurrently with itself).
func (v *victim) inject(t *testing.T, c badCase) {
	t.Helper()
	from := v.logs.Len()
	var before runtime.MemStats
	if c.memory {
		runtime.GC()
		runtime.ReadMemStats(&before)
	}
	p, err := ztest.Dial(v.ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	start := time.Now()
	if c.handshake {
		if err := p.Handshake(v.spec.peerType, nil); err != nil {
			t.Fatalf("valid handshake failed: %v", err)
		}
	}
	if len(c.bytes) > 0 {
		// The victim may hang up before reading everything: ignore errors.
		p.Write(c.bytes)
	}
	if c.halfClose {
		p.Conn.(*net.TCPConn).CloseWrite()
	}
	limit := prompt
	if c.slow {
		limit = badHandshakeIvl + 5*time.Second
	}
	if err := p.ExpectClosed(limit); err != nil {
		t.Fatalf("bad peer not dropped within %v: %v", limit, err)
	}
	took := time.Since(start)
	if c.slow && took < badHandshakeIvl*2/3 {
		t.Errorf("silent peer dropped after %v, before the %v handshake interval", took, badHandshakeIvl)
	}
	if c.memory {
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("victim allocated %d MiB for a frame that never came", grew>>20)
		}
	}
	if len(c.reason) > 0 {
		if _, ok := v.logs.WaitFor(from, slog.LevelWarn, long, c.reason...); !ok {
			t.Errorf("no Warn log line containing %q; got:", c.reason)
			for _, r := range v.logs.Records()[from:] {
				t.Logf("  %v %s", r.Level, r.Text)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, spec := range victimSpecs {
		t.Run(spec.name, func(t *testing.T) {
			// Registered first, so it runs after every socket is closed.
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			v := newVictim(t, spec)
			var slow []badCase
			for _, c := range badCases(spec) {
				if c.slow {
					slow = append(slow, c)
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					v.inject(t, c)
					v.healthy(t, 20)
				})
			}
			// The silent ones take a handshake interval each: run them together.
			t.Run("silent", func(t *testing.T) {
				var wg sync.WaitGroup
				for _, c := range slow {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t.Run(c.name, func(t *testing.T) { v.inject(t, c) })
					}()
				}
				wg.Wait()
				v.healthy(t, 20)
			})
			// A real zmqgo socket of an incompatible type (it keeps retrying).
			t.Run("zmqgo-PUB-connects", func(t *testing.T) {
				from := v.logs.Len()
				pub := newSock(t, zmq.Pub, zmq.WithReconnectInterval(20*time.Millisecond))
				connectTo(t, pub, v.ep)
				if _, ok := v.logs.WaitFor(from, slog.LevelWarn, long, "incompatible", "PUB"); !ok {
					t.Errorf("no Warn about the incompatible PUB")
				}
				v.healthy(t, 20)
			})
			// After all that, the victim still takes new well-behaved peers.
			t.Run("new-peer-after", func(t *testing.T) {
				p, err := ztest.Dial(v.ep)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				if err := p.Handshake(spec.peerType, []byte("late")); err != nil {
					t.Fatal(err)
				}
				if err := p.SendMsg([]byte("h2"), []byte("ok")); err != nil {
					t.Fatal(err)
				}
				for {
					m := mustRecv(t, v.s)
					if spec.typ == zmq.Router {
						if string(m.Frames[0]) != "late" {
							continue // the healthy peer
						}
						m.Frames = m.Frames[1:]
					}
					if string(m.Frames[0]) == "h2" {
						wantFrames(t, m, "h2", "ok")
						break
					}
				}
			})
		})
	}
}

// TestBadInputMaxMsgSize: with WithMaxMsgSize, a peer sending more is
// dropped before we allocate for it.
func TestBadInputMaxMsgSize(t *testing.T) {
	const max = 4096
	for _, spec := range victimSpecs {
		t.Run(spec.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			v := newVictim(t, spec, zmq.WithMaxMsgSize(max))
			big := make([]byte, max/2+1)
			for _, c := range []badCase{
				{name: "one-frame-over", handshake: true, bytes: ztest.Frame(0, make([]byte, max+1)), reason: []string{"exceeds"}},
				{name: "header-over", handshake: true, bytes: longHeader(0, max+1), reason: []string{"exceeds"}},
				{name: "multipart-over", handshake: true, bytes: ztest.Msg(big, big, big), reason: []string{"exceeds"}},
				{name: "announce-2^62", handshake: true, bytes: append(longHeader(0, 1<<62), "a few bytes"...), reason: []string{"exceeds"}, memory: true},
				{name: "handshake-command-over", bytes: greetingWith(longHeader(zmtp.FlagCommand, 1<<20)), reason: []string{"exceeds"}},
			} {
				t.Run(c.name, func(t *testing.T) {
					v.inject(t, c)
					v.healthy(t, 20)
				})
			}
			// Exactly max is fine.
			t.Run("at-max", func(t *testing.T) {
				p, err := ztest.Dial(v.ep)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				if err := p.Handshake(spec.peerType, []byte("edge")); err != nil {
					t.Fatal(err)
				}
				if err := p.SendMsg([]byte("h3"), make([]byte, max-2)); err != nil {
					t.Fatal(err)
				}
				for {
					m := mustRecv(t, v.s)
					if spec.typ == zmq.Router {
						m.Frames = m.Frames[1:]
					}
					if string(m.Frames[0]) == "h3" {
						if len(m.Frames) != 2 || len(m.Frames[1]) != max-2 {
							t.Fatalf("got %s", describe(m))
						}
						break
					}
				}
				if err := p.ExpectClosed(100 * time.Millisecond); err != ztest.ErrStillOpen {
					t.Fatalf("peer at exactly max size was dropped: %v", err)
				}
			})
			// Send refuses what the peer would refuse.
			s := newSock(t, spec.healthy, zmq.WithMaxMsgSize(max))
			if err := s.Send(timeout(t, long), zmq.NewMsg(make([]byte, max+1))); err != zmq.ErrMsgTooLarge {
				t.Errorf("Send over max = %v, want ErrMsgTooLarge", err)
			}
		})
	}
}

// A PING gets a PONG with the same context, even with heartbeats off;
// unknown commands are ignored.
func TestPingPong(t *testing.T) {
	for _, spec := range victimSpecs {
		t.Run(spec.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			v := newVictim(t, spec)
			p, err := ztest.Dial(v.ep)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Handshake(spec.peerType, nil); err != nil {
				t.Fatal(err)
			}
			for _, ctx := range [][]byte{[]byte("ctx-1234"), nil, bytes.Repeat([]byte{0xAB}, zmtp.MaxPingContext)} {
				if err := p.Write(zmtp.AppendPing(nil, 300, ctx)); err != nil {
					t.Fatal(err)
				}
				got, err := p.ReadCommand(zmtp.CmdPong, long)
				if err != nil {
					t.Fatalf("no PONG: %v", err)
				}
				if !bytes.Equal(got, ctx) {
					t.Fatalf("PONG context %q, want %q", got, ctx)
				}
			}
			// Unknown commands (RFC 37) and a PONG nobody asked for are ignored.
			p.Write(zmtp.AppendCommandFrame(nil, "X-FUTURE", []byte("whatever")))
			p.Write(zmtp.AppendPong(nil, []byte("unsolicited")))
			// SUBSCRIBE/CANCEL mean nothing to this type but are harmless.
			p.Write(zmtp.AppendSubscribe(nil, []byte("t")))
			p.Write(zmtp.AppendCancel(nil, []byte("t")))
			p.Write(zmtp.AppendPing(nil, 0, []byte("still-there")))
			got, err := p.ReadCommand(zmtp.CmdPong, long)
			if err != nil || string(got) != "still-there" {
				t.Fatalf("after unknown commands: PONG %q, %v", got, err)
			}
			v.healthy(t, 20)
		})
	}
}

// A ZMTP 3.0 peer (minor version 0) and a peer from the future (3.2, or
// major 4) are accepted.
func TestBadInputVersionsAccepted(t *testing.T) {
	for _, spec := range victimSpecs {
		t.Run(spec.name, func(t *testing.T) {
			v := newVictim(t, spec)
			for _, ver := range [][2]byte{{3, 0}, {3, 2}, {4, 0}} {
				t.Run(fmt.Sprintf("%d.%d", ver[0], ver[1]), func(t *testing.T) {
					p, err := ztest.Dial(v.ep)
					if err != nil {
						t.Fatal(err)
					}
					defer p.Close()
					g := ztest.Greeting(zmtp.MechNull)
					g[10], g[11] = ver[0], ver[1]
					id := []byte(fmt.Sprintf("v%d%d", ver[0], ver[1]))
					if err := p.Write(append(g, ztest.Ready(spec.peerType, id)...)); err != nil {
						t.Fatal(err)
					}
					if _, err := p.ReadGreeting(long); err != nil {
						t.Fatal(err)
					}
					if err := p.SendMsg([]byte("hv"), id); err != nil {
						t.Fatal(err)
					}
					for {
						m := mustRecv(t, v.s)
						if spec.typ == zmq.Router {
							m.Frames = m.Frames[1:]
						}
						if string(m.Frames[0]) == "hv" {
							wantFrames(t, m, "hv", string(id))
							break
						}
					}
				})
			}
		})
	}
}
