package zmtp

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/iotest"
)

// The seed corpus under testdata/fuzz/<FuzzName>/seed-* is generated from the
// captures by
//
//	go test -run=TestSeedCorpus ./internal/zmtp/ -update-corpus
//
// and TestSeedCorpus checks it is current. Other files there (hash names) are
// inputs the fuzzer found; keep them as regression tests.
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/*/seed-* from the captures")

// seeds returns, per fuzz target, named argument lists.
func seeds(tb testing.TB) map[string]map[string][]any {
	s := map[string]map[string][]any{
		"FuzzParseGreeting": {},
		"FuzzParseFrame":    {},
		"FuzzParseCommand":  {},
		"FuzzNullHandshake": {},
	}
	add := func(target, name string, args ...any) { s[target]["seed-"+name] = args }

	for _, c := range loadCaptures(tb) {
		base := strings.TrimSuffix(strings.TrimPrefix(c.name, "wire-"), ".txt")
		for _, dir := range []struct {
			name   string
			stream []byte
			frames []rawFrame
		}{
			{"c2s", c.c2s, c.clientFrames(tb)},
			{"s2c", c.s2c, c.serverFrames(tb)},
		} {
			id := base + "-" + dir.name
			add("FuzzParseGreeting", id, dir.stream[:GreetingSize])
			add("FuzzParseFrame", id, dir.stream[GreetingSize:], int64(0), uint16(0))
			add("FuzzParseFrame", id+"-buf16", dir.stream[GreetingSize:], int64(0), uint16(16))
			add("FuzzParseFrame", id+"-max64", dir.stream[GreetingSize:], int64(64), uint16(0))
			for _, f := range dir.frames {
				fid := fmt.Sprintf("%s-%d", id, f.off)
				if f.flags&FlagCommand == 0 {
					// CURVE MESSAGE frames are data frames shaped like commands.
					if f.body[0] == 7 {
						add("FuzzParseCommand", fid, f.body)
					}
					continue
				}
				add("FuzzParseCommand", fid, f.body)
				add("FuzzNullHandshake", fid, f.body)
				if name, data, err := ParseCommand(f.body); err == nil && string(name) == CmdReady && len(data) > 0 {
					if _, err := ParseMetadata(data); err == nil {
						add("FuzzParseCommand", fid+"-metadata", data)
					}
				}
			}
		}
	}

	g := AppendGreeting(nil, MechNull, false)
	v10 := append([]byte(nil), g...)
	v10[0] = 0x01
	v20 := append([]byte(nil), g...)
	v20[10] = 2
	add("FuzzParseGreeting", "zmtp10", v10)
	add("FuzzParseGreeting", "zmtp20", v20)
	add("FuzzParseGreeting", "plain-server", AppendGreeting(nil, "PLAIN", true))
	add("FuzzParseGreeting", "short", g[:SignatureSize+1])

	add("FuzzParseFrame", "long-small", longFrame(FlagMore, []byte("abc")), int64(0), uint16(0))
	add("FuzzParseFrame", "big", AppendFrame(nil, 0, pattern(300)), int64(0), uint16(64))
	lying := longFrame(0, nil)
	lying[1] = 0x40 // announces 2^62 bytes
	add("FuzzParseFrame", "lying-header", lying, int64(0), uint16(0))
	add("FuzzParseFrame", "command-more", []byte{FlagCommand | FlagMore, 0}, int64(0), uint16(0))

	add("FuzzParseCommand", "ping-context", frameBodyOf(AppendPing(nil, 100, []byte("0123456789abcdef"))))
	add("FuzzParseCommand", "error", frameBodyOf(AppendError(nil, "Socket type mismatch")))
	add("FuzzNullHandshake", "error", frameBodyOf(AppendError(nil, "Socket type mismatch")))
	return s
}

func frameBodyOf(f []byte) []byte {
	_, body, _, err := ParseFrame(f, 0)
	if err != nil {
		panic(err)
	}
	return body
}

// marshalCorpus encodes args in the "go test fuzz v1" format.
func marshalCorpus(args []any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case int64:
			fmt.Fprintf(&b, "int64(%d)\n", v)
		case uint16:
			fmt.Fprintf(&b, "uint16(%d)\n", v)
		default:
			panic(fmt.Sprintf("unsupported corpus type %T", a))
		}
	}
	return b.Bytes()
}

// addSeeds registers a target's seeds with f.Add.
func addSeeds(f *testing.F, target string) {
	names := make([]string, 0)
	s := seeds(f)[target]
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f.Add(s[n]...)
	}
}

func TestSeedCorpus(t *testing.T) {
	for target, files := range seeds(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
			for _, p := range old {
				os.Remove(p)
			}
		}
		for name, args := range files {
			p := filepath.Join(dir, name)
			want := marshalCorpus(args)
			if *updateCorpus {
				if err := os.WriteFile(p, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is missing or stale (%v); run with -update-corpus", p, err)
			}
		}
		if !*updateCorpus {
			old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
			if len(old) != len(files) {
				t.Errorf("%s: %d seed files, want %d; run with -update-corpus", dir, len(old), len(files))
			}
		}
	}
}

// checkErr fails unless err is nil or matches one of the allowed sentinels.
func checkErr(t *testing.T, what string, err error, allowed ...error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, a := range allowed {
		if errors.Is(err, a) {
			return
		}
	}
	t.Fatalf("%s: unexpected error %v (%T)", what, err, err)
}

var frameErrors = []error{io.EOF, io.ErrUnexpectedEOF, ErrFrameTooLarge, ErrCommandMore}

// sentinel maps an error to the package sentinel it wraps.
func sentinel(err error) error {
	for _, s := range []error{io.EOF, io.ErrUnexpectedEOF, ErrFrameTooLarge, ErrCommandMore,
		ErrBadSignature, ErrNotZMTP, ErrOldVersion, ErrBadMechanism, ErrMalformedCommand, ErrMalformedMetadata, ErrPeerError} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

func FuzzParseGreeting(f *testing.F) {
	addSeeds(f, "FuzzParseGreeting")
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGreeting(data)
		checkErr(t, "ParseGreeting", err, ErrBadSignature, ErrNotZMTP, ErrOldVersion, ErrBadMechanism)

		// The piecewise checks, as an engine reading the greeting in steps
		// would run them, agree with ParseGreeting.
		var perr error
		var pg Greeting
		if len(data) < GreetingSize {
			perr = ErrBadSignature
		} else if perr = CheckSignature(data[:SignatureSize]); perr != nil {
		} else if perr = CheckMajor(data[SignatureSize]); perr != nil {
		} else {
			pg, perr = ParseRest(data[SignatureSize], data[SignatureSize+1:])
		}
		if sentinel(perr) != sentinel(err) || pg != g {
			t.Fatalf("piecewise %+v %v, ParseGreeting %+v %v", pg, perr, g, err)
		}
		if err != nil {
			if g != (Greeting{}) {
				t.Fatalf("error %v with greeting %+v", err, g)
			}
			return
		}
		if g.Major < MajorVersion || g.Mechanism == "" || len(g.Mechanism) > mechanismSize {
			t.Fatalf("accepted %+v", g)
		}
		// Re-encoding gives back the mechanism and role.
		enc := AppendGreeting(nil, g.Mechanism, g.AsServer)
		g2, err := ParseGreeting(enc)
		if err != nil || g2.Mechanism != g.Mechanism || g2.AsServer != g.AsServer {
			t.Fatalf("round trip %+v -> %+v %v", g, g2, err)
		}
		// Bytes that matter (mechanism field, as-server when 0/1) survive.
		if !bytes.Equal(enc[12:32], data[12:32]) {
			t.Fatalf("mechanism field %x -> %x", data[12:32], enc[12:32])
		}
	})
}

func FuzzParseFrame(f *testing.F) {
	addSeeds(f, "FuzzParseFrame")
	f.Fuzz(func(t *testing.T, data []byte, max int64, bufSize uint16) {
		r1 := NewReader(bytes.NewReader(data), int(bufSize), nil)
		r1.Max = max
		r2 := NewReader(iotest.OneByteReader(bytes.NewReader(data)), int(bufSize%64), nil)
		r2.Max = max
		// r3 skips every body too large for its buffer: the frames around
		// them must come out the same.
		r3 := NewReader(iotest.HalfReader(bytes.NewReader(data)), int(bufSize%512), nil)
		r3.Max = max
		skipped := int64(-1)
		r3.Skip = func(_ byte, size int64) bool { skipped = size; return true }
		rest := data
		for {
			flags, body, n, err := ParseFrame(rest, max)
			checkErr(t, "ParseFrame", err, frameErrors...)
			hflags, size, hn, herr := ParseFrameHeader(rest, max)
			checkErr(t, "ParseFrameHeader", herr, frameErrors...)
			for i, r := range []*Reader{r1, r2, r3} {
				skipped = -1
				rflags, rbody, _, rerr := r.ReadFrame()
				if i == 2 && skipped >= 0 {
					if err == nil && (rbody != nil || rflags != flags || skipped != int64(len(body))) {
						t.Fatalf("skipping reader: %#x %d bytes, asked about %d, want %#x %d", rflags, len(rbody), skipped, flags, len(body))
					}
					if err == nil || rerr != nil {
						continue
					}
				}
				checkErr(t, "ReadFrame", rerr, frameErrors...)
				if sentinel(rerr) != sentinel(err) {
					t.Fatalf("reader %d: ReadFrame err %v, ParseFrame err %v (at %d)", i, rerr, err, len(data)-len(rest))
				}
				if err == nil && (rflags != flags || !bytes.Equal(rbody, body)) {
					t.Fatalf("reader %d: ReadFrame %#x %x, ParseFrame %#x %x", i, rflags, rbody, flags, body)
				}
			}
			if err != nil {
				if herr == nil && err != io.ErrUnexpectedEOF {
					t.Fatalf("header ok but ParseFrame: %v", err)
				}
				if herr != nil && sentinel(herr) != sentinel(err) {
					t.Fatalf("ParseFrameHeader %v, ParseFrame %v", herr, err)
				}
				if n != 0 || body != nil {
					t.Fatalf("error %v with n=%d", err, n)
				}
				return
			}
			if herr != nil || hflags != flags || int(size) != len(body) || hn+len(body) != n {
				t.Fatalf("ParseFrameHeader %#x %d %d %v vs ParseFrame %#x %d %d", hflags, size, hn, herr, flags, len(body), n)
			}
			if flags&FlagCommand != 0 && flags&FlagMore != 0 {
				t.Fatalf("command with MORE accepted")
			}
			if max > 0 && int64(len(body)) > max {
				t.Fatalf("body %d above max %d", len(body), max)
			}
			if !bytes.Equal(body, rest[hn:n]) {
				t.Fatal("body is not the bytes after the header")
			}
			// Round trip: our encoding parses back to the same frame, and
			// is byte-identical unless the peer used the long form for a
			// small frame.
			enc := AppendFrame(nil, flags, body)
			eflags, ebody, en, eerr := ParseFrame(enc, 0)
			if eerr != nil || en != len(enc) || eflags&^FlagLong != flags&^FlagLong || !bytes.Equal(ebody, body) {
				t.Fatalf("re-encode %#x %x -> %#x %x %v", flags, body, eflags, ebody, eerr)
			}
			if (flags&FlagLong == 0 || len(body) > MaxShortSize) && !bytes.Equal(enc, rest[:n]) {
				t.Fatalf("re-encode %x -> %x", rest[:n], enc)
			}
			rest = rest[n:]
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	addSeeds(f, "FuzzParseCommand")
	f.Fuzz(func(t *testing.T, data []byte) {
		name, cdata, err := ParseCommand(data)
		checkErr(t, "ParseCommand", err, ErrMalformedCommand)
		inputs := [][]byte{data}
		if err == nil {
			if len(name) == 0 || len(name) > 255 {
				t.Fatalf("name of %d bytes", len(name))
			}
			// Command frame round trip is byte-exact.
			f := AppendCommandFrame(nil, string(name), cdata)
			fl, body, n, ferr := ParseFrame(f, 0)
			if ferr != nil || n != len(f) || fl&^FlagLong != FlagCommand || !bytes.Equal(body, data) {
				t.Fatalf("AppendCommandFrame round trip: %#x %x %v", fl, body, ferr)
			}
			inputs = append(inputs, cdata)
		}
		for _, in := range inputs {
			fuzzMetadata(t, in)
			fuzzPing(t, in)
			fuzzError(t, in)
		}
	})
}

func fuzzMetadata(t *testing.T, in []byte) {
	md, err := ParseMetadata(in)
	checkErr(t, "ParseMetadata", err, ErrMalformedMetadata)
	if err != nil {
		if md != nil {
			t.Fatalf("metadata %v with error", md)
		}
		return
	}
	enc := AppendMetadata(nil, md)
	if !bytes.Equal(enc, in) || MetadataSize(md) != len(in) {
		t.Fatalf("AppendMetadata(ParseMetadata(%x)) = %x (size %d)", in, enc, MetadataSize(md))
	}
	md2, err := ParseMetadata(enc)
	if err != nil || !metadataEqual(md, md2) {
		t.Fatalf("re-parse: %s vs %s, %v", fmtMetadata(md), fmtMetadata(md2), err)
	}
	for _, p := range md {
		if !validPropName([]byte(p.Name)) {
			t.Fatalf("accepted property name %q", p.Name)
		}
		if _, ok := md.Get(strings.ToUpper(p.Name)); !ok {
			t.Fatalf("Get(%q) missing", strings.ToUpper(p.Name))
		}
	}
	// READY carrying it goes through the NULL mechanism.
	var n Null
	if _, done, err := n.Next(nil, frameBodyOf(AppendReady(nil, md))); err != nil || !done || !metadataEqual(n.PeerMetadata(), md) {
		t.Fatalf("Null READY round trip: %v %v", done, err)
	}
}

func fuzzPing(t *testing.T, in []byte) {
	ttl, ctx, err := ParsePing(in)
	checkErr(t, "ParsePing", err, ErrMalformedCommand)
	if err != nil {
		return
	}
	if len(ctx) > MaxPingContext {
		t.Fatalf("context of %d bytes", len(ctx))
	}
	_, data, err := ParseCommand(frameBodyOf(AppendPing(nil, ttl, ctx)))
	if err != nil || !bytes.Equal(data, in) {
		t.Fatalf("AppendPing round trip: %x -> %x %v", in, data, err)
	}
	_, data, err = ParseCommand(frameBodyOf(AppendPong(nil, ctx)))
	if err != nil || !bytes.Equal(data, ctx) {
		t.Fatalf("AppendPong round trip: %x -> %x %v", ctx, data, err)
	}
}

func fuzzError(t *testing.T, in []byte) {
	reason, err := ParseError(in)
	checkErr(t, "ParseError", err, ErrMalformedCommand)
	if err != nil {
		return
	}
	_, data, err := ParseCommand(frameBodyOf(AppendError(nil, reason)))
	if err != nil || !bytes.Equal(data, in[:1+len(reason)]) {
		t.Fatalf("AppendError round trip: %x -> %x %v", in, data, err)
	}
	r2, err := ParseError(data)
	if err != nil || r2 != reason {
		t.Fatalf("ParseError(AppendError(%q)) = %q %v", reason, r2, err)
	}
}

func FuzzNullHandshake(f *testing.F) {
	addSeeds(f, "FuzzNullHandshake")
	f.Fuzz(func(t *testing.T, body []byte) {
		n := &Null{Local: Metadata{{PropSocketType, []byte(TypeDealer)}}}
		dst := []byte("dst")
		out, done, err := n.Next(dst, body)
		checkErr(t, "Null.Next", err, ErrMalformedCommand, ErrMalformedMetadata, ErrPeerError)
		if string(out) != "dst" {
			t.Fatalf("Next wrote %q", out[3:])
		}
		if done != (err == nil) {
			t.Fatalf("done=%v err=%v", done, err)
		}
		name, data, perr := ParseCommand(body)
		switch {
		case done:
			if perr != nil || string(name) != CmdReady {
				t.Fatalf("done on %q", name)
			}
			md, _ := ParseMetadata(data)
			if !metadataEqual(n.PeerMetadata(), md) {
				t.Fatalf("peer metadata %s, want %s", fmtMetadata(n.PeerMetadata()), fmtMetadata(md))
			}
		case errors.Is(err, ErrPeerError):
			reason, rerr := ParseError(data)
			if perr != nil || string(name) != CmdError || rerr != nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", reason)) {
				t.Fatalf("ErrPeerError on %q: %v", name, err)
			}
		default:
			if n.PeerMetadata() != nil {
				t.Fatal("peer metadata after error")
			}
		}
	})
}
