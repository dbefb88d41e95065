package zmtp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The files testdata/wire-*.txt are hex dumps of traffic between two libzmq
// 4.3.4 sockets (copied from the project's wire notes). Each line is
//
//	C>S +N hex    bytes the connecting side wrote, at offset N of its stream
//	S>C +N hex    bytes the accepting side wrote
//
// Lines of one direction are contiguous; the two directions interleave in the
// order they were seen.

// chunk is one line of a dump.
type chunk struct {
	fromClient bool
	off        int
	data       []byte
}

// capture is a parsed dump: both byte streams plus the pieces they arrived in.
type capture struct {
	name   string
	chunks []chunk
	c2s    []byte // the connecting side's stream
	s2c    []byte // the accepting side's stream
}

// parseDump parses the dump format. It insists that each direction's offsets
// are contiguous, so a mis-copied line cannot go unnoticed.
func parseDump(name string, text []byte) (*capture, error) {
	c := &capture{name: name}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Fields(s)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want 3 fields, got %d", name, line, len(f))
		}
		var ch chunk
		switch f[0] {
		case "C>S":
			ch.fromClient = true
		case "S>C":
		default:
			return nil, fmt.Errorf("%s:%d: bad direction %q", name, line, f[0])
		}
		if !strings.HasPrefix(f[1], "+") {
			return nil, fmt.Errorf("%s:%d: bad offset %q", name, line, f[1])
		}
		off, err := strconv.Atoi(f[1][1:])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: bad offset %q: %v", name, line, f[1], err)
		}
		ch.off = off
		ch.data, err = hex.DecodeString(f[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		stream := &c.s2c
		if ch.fromClient {
			stream = &c.c2s
		}
		if off != len(*stream) {
			return nil, fmt.Errorf("%s:%d: %s offset %d, but %d bytes so far", name, line, f[0], off, len(*stream))
		}
		*stream = append(*stream, ch.data...)
		c.chunks = append(c.chunks, ch)
	}
	return c, sc.Err()
}

func loadCapture(tb testing.TB, name string) *capture {
	tb.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := parseDump(name, text)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var captureNames = []string{"wire-dealer-router.txt", "wire-sub-pub.txt", "wire-curve.txt"}

func loadCaptures(tb testing.TB) []*capture {
	tb.Helper()
	var cs []*capture
	for _, n := range captureNames {
		cs = append(cs, loadCapture(tb, n))
	}
	return cs
}

// rawFrame is one frame as it appeared on the wire.
type rawFrame struct {
	off   int    // offset in the stream
	raw   []byte // header and body
	flags byte
	body  []byte
}

// splitFrames cuts a post-greeting stream into frames, failing on any error
// or trailing bytes.
func splitFrames(tb testing.TB, b []byte, base int) []rawFrame {
	tb.Helper()
	var fs []rawFrame
	off := 0
	for off < len(b) {
		flags, body, n, err := ParseFrame(b[off:], 0)
		if err != nil {
			tb.Fatalf("frame at stream offset %d: %v", base+off, err)
		}
		fs = append(fs, rawFrame{off: base + off, raw: b[off : off+n], flags: flags, body: body})
		off += n
	}
	return fs
}

func (c *capture) clientFrames(tb testing.TB) []rawFrame {
	return splitFrames(tb, c.c2s[GreetingSize:], GreetingSize)
}

func (c *capture) serverFrames(tb testing.TB) []rawFrame {
	return splitFrames(tb, c.s2c[GreetingSize:], GreetingSize)
}

// allFrames is every frame of every capture, both directions.
func allCaptureFrames(tb testing.TB) [][]byte {
	var out [][]byte
	for _, c := range loadCaptures(tb) {
		for _, f := range append(c.clientFrames(tb), c.serverFrames(tb)...) {
			out = append(out, f.raw)
		}
	}
	return out
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseDump(t *testing.T) {
	good := "# comment\nC>S +0 ff00\n\nS>C +0 01\nC>S +2 0203\n"
	c, err := parseDump("good", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.c2s, []byte{0xff, 0, 2, 3}) || !bytes.Equal(c.s2c, []byte{1}) || len(c.chunks) != 3 {
		t.Fatalf("parsed %x / %x / %d chunks", c.c2s, c.s2c, len(c.chunks))
	}
	for _, bad := range []string{
		"C>S +1 ff\n",          // gap
		"C>S +0 ff\nC>S +0 ff", // overlap
		"X>Y +0 ff\n",
		"C>S 0 ff\n",
		"C>S +0 fg\n",
		"C>S +0 f\n",
		"C>S +0\n",
	} {
		if _, err := parseDump("bad", []byte(bad)); err == nil {
			t.Errorf("parseDump(%q) succeeded", bad)
		}
	}
}

// Every frame libzmq wrote must be reproduced byte for byte by AppendFrame
// (libzmq, like us, uses the long form only above 255 bytes), and every
// command frame by AppendCommandFrame.
func TestCaptureFramesReencode(t *testing.T) {
	for _, c := range loadCaptures(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range append(c.clientFrames(t), c.serverFrames(t)...) {
				if got := AppendFrame(nil, f.flags&^FlagLong, f.body); !bytes.Equal(got, f.raw) {
					t.Errorf("frame at %d: AppendFrame = %x, want %x", f.off, got, f.raw)
				}
				if f.flags&FlagCommand == 0 {
					continue
				}
				name, data, err := ParseCommand(f.body)
				if err != nil {
					t.Fatalf("frame at %d: %v", f.off, err)
				}
				if got := AppendCommandFrame(nil, string(name), data); !bytes.Equal(got, f.raw) {
					t.Errorf("frame at %d: AppendCommandFrame = %x, want %x", f.off, got, f.raw)
				}
			}
		})
	}
}

// checkGreeting checks one side's 64 greeting bytes and the pieces libzmq
// sent them in.
func checkGreeting(t *testing.T, stream []byte, mech string) {
	t.Helper()
	g, err := ParseGreeting(stream[:GreetingSize])
	if err != nil {
		t.Fatalf("ParseGreeting: %v", err)
	}
	want := Greeting{Major: 3, Minor: 1, Mechanism: mech, AsServer: false}
	if g != want {
		t.Errorf("ParseGreeting = %+v, want %+v", g, want)
	}
	if err := CheckSignature(stream[:SignatureSize]); err != nil {
		t.Errorf("CheckSignature: %v", err)
	}
	if err := CheckMajor(stream[SignatureSize]); err != nil {
		t.Errorf("CheckMajor: %v", err)
	}
	if g2, err := ParseRest(stream[SignatureSize], stream[SignatureSize+1:GreetingSize]); err != nil || g2 != want {
		t.Errorf("ParseRest = %+v, %v", g2, err)
	}
	sig := Signature()
	if !bytes.Equal(stream[:SignatureSize], sig[:]) {
		t.Errorf("signature %x, ours %x", stream[:SignatureSize], sig)
	}
	// libzmq's padding: big-endian routing-id length + 1 = 1.
	if p := binary.BigEndian.Uint64(stream[1:9]); p != 1 {
		t.Errorf("padding = %d, want 1", p)
	}
	if got := AppendRest(nil, mech, false); !bytes.Equal(got, stream[SignatureSize+1:GreetingSize]) {
		t.Errorf("AppendRest = %x, want %x", got, stream[SignatureSize+1:GreetingSize])
	}
	if got := AppendGreeting(nil, mech, false); !bytes.Equal(got, stream[:GreetingSize]) {
		t.Errorf("AppendGreeting = %x, want %x", got, stream[:GreetingSize])
	}
}

// libzmq sends the greeting in pieces: 10-byte signature first, then (at
// least) the major version before the rest.
func checkGreetingPieces(t *testing.T, c *capture) {
	t.Helper()
	for _, client := range []bool{true, false} {
		var first []chunk
		for _, ch := range c.chunks {
			if ch.fromClient == client && ch.off < GreetingSize {
				first = append(first, ch)
			}
		}
		if len(first) < 2 || len(first[0].data) != SignatureSize {
			t.Errorf("client=%v: greeting pieces %d, first %d bytes; want the 10-byte signature alone first", client, len(first), len(first[0].data))
			continue
		}
		if first[1].off != SignatureSize || first[1].data[0] != MajorVersion {
			t.Errorf("client=%v: second piece at %d starts %x, want the major version at 10", client, first[1].off, first[1].data[0])
		}
	}
}

func checkReady(t *testing.T, f rawFrame, socketType string) {
	t.Helper()
	if f.flags != FlagCommand {
		t.Fatalf("READY frame flags %#x", f.flags)
	}
	name, data, err := ParseCommand(f.body)
	if err != nil || string(name) != CmdReady {
		t.Fatalf("ParseCommand = %q, %v; want READY", name, err)
	}
	md, err := ParseMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{{Name: PropSocketType, Value: []byte(socketType)}}
	if SendsIdentity(socketType) {
		want = append(want, Property{Name: PropIdentity, Value: nil})
	}
	if !metadataEqual(md, want) {
		t.Fatalf("metadata = %s, want %s", fmtMetadata(md), fmtMetadata(want))
	}
	if v, ok := md.Get(PropSocketType); !ok || string(v) != socketType {
		t.Errorf("Get(Socket-Type) = %q, %v", v, ok)
	}
	if v, ok := md.Get(PropIdentity); ok != SendsIdentity(socketType) || len(v) != 0 {
		t.Errorf("Get(Identity) = %q, %v", v, ok)
	}
	if got := AppendReady(nil, want); !bytes.Equal(got, f.raw) {
		t.Errorf("AppendReady = %x, want %x", got, f.raw)
	}
	var n Null
	out, done, err := n.Next(nil, f.body)
	if err != nil || !done || len(out) != 0 {
		t.Fatalf("Null.Next(READY) = %x, %v, %v", out, done, err)
	}
	if !metadataEqual(n.PeerMetadata(), want) {
		t.Errorf("Null peer metadata = %s", fmtMetadata(n.PeerMetadata()))
	}
	local := &Null{Local: want}
	if start, err := local.Start(nil); err != nil || !bytes.Equal(start, f.raw) {
		t.Errorf("Null.Start = %x, %v; want %x", start, err, f.raw)
	}
}

func metadataEqual(a, b Metadata) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func fmtMetadata(md Metadata) string {
	var sb strings.Builder
	sb.WriteString("{")
	for i, p := range md {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s=%q", p.Name, p.Value)
	}
	sb.WriteString("}")
	return sb.String()
}

func checkPing(t *testing.T, f rawFrame) {
	t.Helper()
	if !bytes.Equal(f.raw, mustHex("04 07 04 50494e47 000f")) {
		t.Fatalf("PING frame %x", f.raw)
	}
	name, data, err := ParseCommand(f.body)
	if err != nil || string(name) != CmdPing {
		t.Fatalf("ParseCommand = %q, %v", name, err)
	}
	ttl, ctx, err := ParsePing(data)
	if err != nil || ttl != 15 || len(ctx) != 0 {
		t.Fatalf("ParsePing = %d, %x, %v; want 15, empty", ttl, ctx, err)
	}
	if got := AppendPing(nil, ttl, ctx); !bytes.Equal(got, f.raw) {
		t.Errorf("AppendPing = %x, want %x", got, f.raw)
	}
}

func checkPong(t *testing.T, f rawFrame) {
	t.Helper()
	if !bytes.Equal(f.raw, mustHex("04 05 04 504f4e47")) {
		t.Fatalf("PONG frame %x", f.raw)
	}
	name, data, err := ParseCommand(f.body)
	if err != nil || string(name) != CmdPong || len(data) != 0 {
		t.Fatalf("ParseCommand = %q, %x, %v", name, data, err)
	}
	if got := AppendPong(nil, data); !bytes.Equal(got, f.raw) {
		t.Errorf("AppendPong = %x, want %x", got, f.raw)
	}
}

func TestCaptureDealerRouter(t *testing.T) {
	c := loadCapture(t, "wire-dealer-router.txt")
	checkGreeting(t, c.c2s, MechNull)
	checkGreeting(t, c.s2c, MechNull)
	checkGreetingPieces(t, c)

	cf := c.clientFrames(t)
	sf := c.serverFrames(t)
	if len(cf) != 7 || len(sf) != 5 {
		t.Fatalf("%d client frames, %d server frames; want 7, 5", len(cf), len(sf))
	}
	checkReady(t, cf[0], TypeDealer)
	checkReady(t, sf[0], TypeRouter)

	// DEALER sends "A", "hello".
	msg := mustHex("01 01 41 00 05 68656c6c6f")
	if got := c.c2s[cf[1].off : cf[2].off+len(cf[2].raw)]; !bytes.Equal(got, msg) {
		t.Fatalf("message bytes %x, want %x", got, msg)
	}
	if cf[1].flags != FlagMore || string(cf[1].body) != "A" {
		t.Errorf("frame 1 = %#x %q, want MORE \"A\"", cf[1].flags, cf[1].body)
	}
	if cf[2].flags != 0 || string(cf[2].body) != "hello" {
		t.Errorf("frame 2 = %#x %q, want 0 \"hello\"", cf[2].flags, cf[2].body)
	}
	enc := AppendFrame(AppendFrame(nil, FlagMore, []byte("A")), 0, []byte("hello"))
	if !bytes.Equal(enc, msg) {
		t.Errorf("AppendFrame = %x, want %x", enc, msg)
	}

	for _, f := range cf[3:] {
		checkPing(t, f)
	}
	for _, f := range sf[1:] {
		checkPong(t, f)
	}
	if !Compatible(TypeDealer, TypeRouter) || !Compatible(TypeRouter, TypeDealer) {
		t.Error("DEALER and ROUTER not compatible")
	}
}

func TestCaptureSubPub(t *testing.T) {
	c := loadCapture(t, "wire-sub-pub.txt")
	checkGreeting(t, c.c2s, MechNull)
	checkGreeting(t, c.s2c, MechNull)
	checkGreetingPieces(t, c)

	cf := c.clientFrames(t)
	sf := c.serverFrames(t)
	if len(cf) != 3 || len(sf) != 1 {
		t.Fatalf("%d client frames, %d server frames; want 3, 1", len(cf), len(sf))
	}
	checkReady(t, cf[0], TypeSub)
	checkReady(t, sf[0], TypeXPub)

	sub := mustHex("04 0c 09 535542534352494245 4142")
	if !bytes.Equal(cf[1].raw, sub) {
		t.Fatalf("SUBSCRIBE frame %x, want %x", cf[1].raw, sub)
	}
	if got := AppendSubscribe(nil, []byte("AB")); !bytes.Equal(got, sub) {
		t.Errorf("AppendSubscribe = %x, want %x", got, sub)
	}
	name, data, err := ParseCommand(cf[1].body)
	if err != nil || string(name) != CmdSubscribe || string(data) != "AB" {
		t.Errorf("ParseCommand(SUBSCRIBE) = %q, %q, %v", name, data, err)
	}

	cancel := mustHex("04 09 06 43414e43454c 4142")
	if !bytes.Equal(cf[2].raw, cancel) {
		t.Fatalf("CANCEL frame %x, want %x", cf[2].raw, cancel)
	}
	if got := AppendCancel(nil, []byte("AB")); !bytes.Equal(got, cancel) {
		t.Errorf("AppendCancel = %x, want %x", got, cancel)
	}
	name, data, err = ParseCommand(cf[2].body)
	if err != nil || string(name) != CmdCancel || string(data) != "AB" {
		t.Errorf("ParseCommand(CANCEL) = %q, %q, %v", name, data, err)
	}
	if !Compatible(TypeSub, TypeXPub) || !Compatible(TypeXPub, TypeSub) {
		t.Error("SUB and XPUB not compatible")
	}
}

// curveCommand checks a CURVE handshake command: a command frame, the name,
// the body size, and the short nonce (8 bytes big-endian) at nonceAt in the
// command data (-1: none).
func curveCommand(t *testing.T, f rawFrame, name string, bodySize int, nonceAt int, nonce uint64) []byte {
	t.Helper()
	if f.flags&^FlagLong != FlagCommand {
		t.Fatalf("%s: flags %#x, want a command", name, f.flags)
	}
	if len(f.body) != bodySize {
		t.Errorf("%s: body %d bytes, want %d", name, len(f.body), bodySize)
	}
	n, data, err := ParseCommand(f.body)
	if err != nil || string(n) != name {
		t.Fatalf("ParseCommand = %q, %v; want %s", n, err, name)
	}
	if nonceAt >= 0 {
		if got := binary.BigEndian.Uint64(data[nonceAt:]); got != nonce {
			t.Errorf("%s: short nonce %d, want %d", name, got, nonce)
		}
	}
	return data
}

func TestCaptureCurve(t *testing.T) {
	c := loadCapture(t, "wire-curve.txt")
	// libzmq sends as-server 0 on both sides, even for the CURVE server.
	checkGreeting(t, c.c2s, "CURVE")
	checkGreeting(t, c.s2c, "CURVE")

	cf := c.clientFrames(t)
	sf := c.serverFrames(t)
	if len(cf) != 4 || len(sf) != 2 {
		t.Fatalf("%d client frames, %d server frames; want 4, 2", len(cf), len(sf))
	}

	// HELLO: name, version 1.0, 72 zero bytes, C' (32), short nonce 1, box (80).
	hello := curveCommand(t, cf[0], CmdHello, 200, 2+72+32, 1)
	if hello[0] != 1 || hello[1] != 0 {
		t.Errorf("HELLO version %x, want 0100", hello[:2])
	}
	if !bytes.Equal(hello[2:74], make([]byte, 72)) {
		t.Errorf("HELLO padding not zero: %x", hello[2:74])
	}
	if len(hello) != 2+72+32+8+80 {
		t.Errorf("HELLO data %d bytes", len(hello))
	}
	if cf[0].raw[0] != FlagCommand || cf[0].raw[1] != 200 {
		t.Errorf("HELLO header %x, want short form 04 c8", cf[0].raw[:2])
	}

	// WELCOME: 16-byte long nonce + box of [S' + cookie] = 16 + 16+32+96.
	welcome := curveCommand(t, sf[0], CmdWelcome, 168, -1, 0)
	if len(welcome) != 16+16+32+96 {
		t.Errorf("WELCOME data %d bytes", len(welcome))
	}

	// INITIATE: 257 + metadata, cookie (96) then short nonce 2; more than
	// 255 bytes, so libzmq used the long form.
	curveCommand(t, cf[1], CmdInitiate, len(cf[1].body), 96, 2)
	if len(cf[1].body) < 257 {
		t.Errorf("INITIATE body %d bytes, want 257 + metadata", len(cf[1].body))
	}
	if cf[1].raw[0] != FlagCommand|FlagLong {
		t.Errorf("INITIATE flags %#x, want long command", cf[1].raw[0])
	}
	if got := AppendFrameHeader(nil, FlagCommand, len(cf[1].body)); !bytes.Equal(got, cf[1].raw[:9]) {
		t.Errorf("AppendFrameHeader = %x, want %x", got, cf[1].raw[:9])
	}
	metaLen := len(cf[1].body) - 257

	// READY: 30 + metadata, short nonce 1. Both peers sent the same amount
	// of metadata (Socket-Type of six letters + empty Identity = 35 bytes).
	curveCommand(t, sf[1], CmdReady, 30+metaLen, 0, 1)
	if metaLen != MetadataSize(Metadata{{PropSocketType, []byte("DEALER")}, {PropIdentity, nil}}) {
		t.Errorf("INITIATE metadata %d bytes", metaLen)
	}

	// MESSAGE: ordinary data frames, body 07 "MESSAGE" + short nonce (3, 4) +
	// box of flags byte + data ("A" and "hello").
	for i, f := range cf[2:] {
		if f.flags != 0 {
			t.Errorf("MESSAGE %d: flags %#x, want a plain data frame", i, f.flags)
		}
		if !bytes.HasPrefix(f.body, append([]byte{7}, CmdMessage...)) {
			t.Errorf("MESSAGE %d: body starts %x", i, f.body[:8])
		}
		if n := binary.BigEndian.Uint64(f.body[8:]); n != uint64(3+i) {
			t.Errorf("MESSAGE %d: nonce %d, want %d", i, n, 3+i)
		}
		payload := []int{1, 5}[i]
		if len(f.body) != 8+8+16+1+payload {
			t.Errorf("MESSAGE %d: body %d bytes, want %d", i, len(f.body), 8+8+16+1+payload)
		}
		// It is still shaped like a command body.
		name, _, err := ParseCommand(f.body)
		if err != nil || string(name) != CmdMessage {
			t.Errorf("MESSAGE %d: ParseCommand = %q, %v", i, name, err)
		}
	}
}

// The whole post-greeting stream of each side decodes through the streaming
// Reader to the same frames as ParseFrame, however the bytes arrive.
func TestCaptureStreamsThroughReader(t *testing.T) {
	for _, c := range loadCaptures(t) {
		for dir, stream := range map[string][]byte{"c2s": c.c2s, "s2c": c.s2c} {
			want := splitFrames(t, stream[GreetingSize:], GreetingSize)
			for _, mode := range readerModes {
				t.Run(c.name+"/"+dir+"/"+mode.name, func(t *testing.T) {
					r := mode.new(stream[GreetingSize:])
					for i, w := range want {
						flags, body, _, err := r.ReadFrame()
						if err != nil {
							t.Fatalf("frame %d: %v", i, err)
						}
						if flags != w.flags || !bytes.Equal(body, w.body) {
							t.Fatalf("frame %d: %#x %x, want %#x %x", i, flags, body, w.flags, w.body)
						}
					}
					if _, _, _, err := r.ReadFrame(); err != io.EOF {
						t.Fatalf("after last frame: %v, want io.EOF", err)
					}
				})
			}
		}
	}
}

// The rest of the handshake bytes may arrive together with the greeting; the
// Reader takes them as pending.
func TestCapturePendingAfterGreeting(t *testing.T) {
	c := loadCapture(t, "wire-dealer-router.txt")
	want := c.serverFrames(t)
	tail := c.s2c[GreetingSize:]
	for cut := 0; cut <= len(tail); cut++ {
		r := NewReader(bytes.NewReader(tail[cut:]), 0, tail[:cut])
		for i, w := range want {
			flags, body, _, err := r.ReadFrame()
			if err != nil || flags != w.flags || !bytes.Equal(body, w.body) {
				t.Fatalf("cut %d frame %d: %#x %x %v", cut, i, flags, body, err)
			}
		}
		if _, _, _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("cut %d: %v, want io.EOF", cut, err)
		}
	}
}
