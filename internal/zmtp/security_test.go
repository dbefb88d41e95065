package zmtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/zmqgo/zmq/z85"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/salsa20/salsa"
)

// libzmq's test-suite key pairs (tests/testutil_security), checked with
// pyzmq's zmq.curve_public.
const (
	testServerPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	testServerSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	testClientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	testClientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
)

func key(tb testing.TB, s string) [32]byte {
	tb.Helper()
	b, err := z85.Decode(s)
	if err != nil || len(b) != 32 {
		tb.Fatalf("z85.Decode(%q) = %d bytes, %v", s, len(b), err)
	}
	return [32]byte(b)
}

// detRand is a deterministic randomness source, so handshakes (and fuzz
// seeds) are reproducible.
func detRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func TestCurvePublicKey(t *testing.T) {
	for _, p := range [][2]string{{testServerSecret, testServerPublic}, {testClientSecret, testClientPublic}} {
		sec := key(t, p[0])
		if got := CurvePublicKey(&sec); got != key(t, p[1]) {
			t.Errorf("CurvePublicKey(%s) = %x, want %s", p[0], got, p[1])
		}
	}
}

var (
	clientMD = Metadata{{PropSocketType, []byte("DEALER")}, {PropIdentity, nil}}
	serverMD = Metadata{{PropSocketType, []byte("ROUTER")}, {PropIdentity, nil}}
)

func newCurvePair(tb testing.TB, seed byte) (*CurveClient, *CurveServer) {
	c := &CurveClient{
		ServerKey: key(tb, testServerPublic),
		PublicKey: key(tb, testClientPublic),
		SecretKey: key(tb, testClientSecret),
		Local:     clientMD,
		Rand:      detRand(seed),
	}
	s := &CurveServer{SecretKey: key(tb, testServerSecret), Local: serverMD, Rand: detRand(seed + 1)}
	return c, s
}

// body returns the body of the single frame in b, checking it is a command.
func oneCommand(tb testing.TB, b []byte) []byte {
	tb.Helper()
	flags, body, n, err := ParseFrame(b, 0)
	if err != nil || n != len(b) {
		tb.Fatalf("ParseFrame(%d bytes) = %v, n %d", len(b), err, n)
	}
	if flags&FlagCommand == 0 {
		tb.Fatalf("flags %#x, want a command", flags)
	}
	return body
}

// curveTranscript is one handshake's command bodies.
type curveTranscript struct {
	hello, welcome, initiate, ready []byte
}

// curveHandshake runs a whole handshake between c and s, approving the
// client with status, and returns the commands.
func curveHandshake(tb testing.TB, c *CurveClient, s *CurveServer, status string) (curveTranscript, error) {
	tb.Helper()
	var tr curveTranscript
	if _, err := s.Start(nil); err != nil {
		tb.Fatal(err)
	}
	out, err := c.Start(nil)
	if err != nil {
		tb.Fatal(err)
	}
	tr.hello = oneCommand(tb, out)
	out, done, err := s.Next(nil, tr.hello)
	if err != nil || done {
		return tr, err
	}
	tr.welcome = oneCommand(tb, out)
	out, done, err = c.Next(nil, tr.welcome)
	if err != nil || done {
		tb.Fatalf("client on WELCOME: done %v, %v", done, err)
	}
	tr.initiate = oneCommand(tb, out)
	out, done, err = s.Next(nil, tr.initiate)
	if err != nil || done || len(out) != 0 {
		tb.Fatalf("server on INITIATE: %d bytes out, done %v, %v", len(out), done, err)
	}
	mech, cred, ok := s.AuthPending()
	if !ok || mech != MechCurve || len(cred) != 1 || !bytes.Equal(cred[0], c.PublicKey[:]) {
		tb.Fatalf("AuthPending = %q, %x, %v; want CURVE and the client key", mech, cred, ok)
	}
	out, done, err = s.Authenticated(nil, status, "")
	if err != nil {
		if len(out) > 0 {
			_, cerr := cNext(tb, c, out)
			return tr, errors.Join(err, cerr)
		}
		return tr, err
	}
	if !done {
		tb.Fatal("server not done after READY")
	}
	tr.ready = oneCommand(tb, out)
	out, done, err = c.Next(nil, tr.ready)
	if err != nil || !done || len(out) != 0 {
		tb.Fatalf("client on READY: %d bytes out, done %v, %v", len(out), done, err)
	}
	return tr, nil
}

func cNext(tb testing.TB, m Mechanism, frame []byte) ([]byte, error) {
	out, _, err := m.Next(nil, oneCommand(tb, frame))
	return out, err
}

func TestCurveHandshakeSizes(t *testing.T) {
	c, s := newCurvePair(t, 1)
	tr, err := curveHandshake(t, c, s, StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	md := MetadataSize(clientMD) // 35, as in the capture
	for _, x := range []struct {
		name string
		body []byte
		want int
	}{
		{"HELLO", tr.hello, 200},
		{"WELCOME", tr.welcome, 168},
		{"INITIATE", tr.initiate, 257 + md},
		{"READY", tr.ready, 30 + MetadataSize(serverMD)},
	} {
		if len(x.body) != x.want {
			t.Errorf("%s: %d bytes, want %d", x.name, len(x.body), x.want)
		}
	}
	// Short nonces: HELLO 1, INITIATE 2, READY 1.
	if n := binary.BigEndian.Uint64(tr.hello[112:]); n != 1 {
		t.Errorf("HELLO nonce %d", n)
	}
	if n := binary.BigEndian.Uint64(tr.initiate[105:]); n != 2 {
		t.Errorf("INITIATE nonce %d", n)
	}
	if n := binary.BigEndian.Uint64(tr.ready[6:]); n != 1 {
		t.Errorf("READY nonce %d", n)
	}
	if !bytes.Equal(tr.hello[8:80], make([]byte, 72)) || tr.hello[6] != 1 || tr.hello[7] != 0 {
		t.Errorf("HELLO version/padding wrong: %x", tr.hello[:80])
	}
	if !metadataEqual(c.PeerMetadata(), serverMD) || !metadataEqual(s.PeerMetadata(), clientMD) {
		t.Errorf("metadata: client got %s, server got %s", fmtMetadata(c.PeerMetadata()), fmtMetadata(s.PeerMetadata()))
	}
	if s.ClientKey() != c.PublicKey {
		t.Errorf("ClientKey = %x", s.ClientKey())
	}
	// Matches the capture's framing: HELLO short form 04 c8, INITIATE long.
	cap := loadCapture(t, "wire-curve.txt")
	cf := cap.clientFrames(t)
	if len(cf[0].body) != len(tr.hello) || len(cf[1].body) != len(tr.initiate) {
		t.Errorf("sizes differ from libzmq's: HELLO %d/%d, INITIATE %d/%d", len(tr.hello), len(cf[0].body), len(tr.initiate), len(cf[1].body))
	}
	sf := cap.serverFrames(t)
	if len(sf[0].body) != len(tr.welcome) {
		t.Errorf("WELCOME %d bytes, libzmq's %d", len(tr.welcome), len(sf[0].body))
	}
	if len(sf[1].body) != 30+md {
		t.Errorf("libzmq READY %d", len(sf[1].body))
	}
}

// frames decodes a stream of frames.
func frames(tb testing.TB, b []byte) (flags []byte, bodies [][]byte) {
	tb.Helper()
	for len(b) > 0 {
		f, body, n, err := ParseFrame(b, 0)
		if err != nil {
			tb.Fatal(err)
		}
		flags, bodies = append(flags, f), append(bodies, body)
		b = b[n:]
	}
	return
}

func TestCurveMessages(t *testing.T) {
	c, s := newCurvePair(t, 2)
	if _, err := curveHandshake(t, c, s, StatusOK); err != nil {
		t.Fatal(err)
	}
	type fr struct {
		flags byte
		body  []byte
	}
	msgs := []fr{
		{FlagMore, []byte("A")},
		{0, []byte("hello")},
		{FlagCommand, append([]byte{9}, "SUBSCRIBE topic"...)},
		{0, nil},
		{0, bytes.Repeat([]byte{0xab}, 70000)},
	}
	for _, dir := range []struct {
		name     string
		enc, dec MessageCodec
		first    uint64
	}{{"client->server", c, s, 3}, {"server->client", s, c, 2}} {
		var wire []byte
		for _, m := range msgs {
			var err error
			if wire, err = dir.enc.AppendMessage(wire, m.flags, m.body); err != nil {
				t.Fatal(err)
			}
		}
		flags, bodies := frames(t, wire)
		for i, body := range bodies {
			if flags[i]&^FlagLong != 0 {
				t.Errorf("%s %d: outer flags %#x, want a plain data frame", dir.name, i, flags[i])
			}
			if len(body) != len(msgs[i].body)+CurveMessageOverhead || len(body) != len(msgs[i].body)+dir.enc.Overhead() {
				t.Errorf("%s %d: %d bytes for %d", dir.name, i, len(body), len(msgs[i].body))
			}
			if n := binary.BigEndian.Uint64(body[8:]); n != dir.first+uint64(i) {
				t.Errorf("%s %d: nonce %d, want %d", dir.name, i, n, dir.first+uint64(i))
			}
			f, plain, err := dir.dec.OpenMessage(body)
			if err != nil || f != msgs[i].flags || !bytes.Equal(plain, msgs[i].body) {
				t.Fatalf("%s %d: OpenMessage = %#x %.20q %v; want %#x %.20q", dir.name, i, f, plain, err, msgs[i].flags, msgs[i].body)
			}
		}
	}
}

func TestCurveMessageAttacks(t *testing.T) {
	c, s := newCurvePair(t, 3)
	if _, err := curveHandshake(t, c, s, StatusOK); err != nil {
		t.Fatal(err)
	}
	seal := func(n int) [][]byte {
		var out [][]byte
		for i := range n {
			w, err := c.AppendMessage(nil, 0, []byte{byte(i), 1, 2, 3})
			if err != nil {
				t.Fatal(err)
			}
			_, b := frames(t, w)
			out = append(out, b[0])
		}
		return out
	}
	m := seal(4)
	// Every single-bit flip in the nonce, MAC or ciphertext is refused.
	for i := 8; i < len(m[0])*8; i++ {
		b := bytes.Clone(m[0])
		b[i/8] ^= 1 << (i % 8)
		if _, _, err := s.OpenMessage(b); err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		} else if !errors.Is(err, ErrCryptographic) && !errors.Is(err, ErrNonce) && !errors.Is(err, ErrMalformedCommand) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	if _, _, err := s.OpenMessage(bytes.Clone(m[1])); err != nil {
		t.Fatal(err)
	}
	// Replays and reordering.
	if _, _, err := s.OpenMessage(bytes.Clone(m[1])); !errors.Is(err, ErrNonce) {
		t.Errorf("replay: %v, want ErrNonce", err)
	}
	if _, _, err := s.OpenMessage(bytes.Clone(m[0])); !errors.Is(err, ErrNonce) {
		t.Errorf("older nonce: %v, want ErrNonce", err)
	}
	// Skipping ahead is fine (strictly increasing, not consecutive).
	if _, _, err := s.OpenMessage(bytes.Clone(m[3])); err != nil {
		t.Errorf("skip ahead: %v", err)
	}
	if _, _, err := s.OpenMessage(bytes.Clone(m[2])); !errors.Is(err, ErrNonce) {
		t.Errorf("after skip: %v, want ErrNonce", err)
	}
	// A message sealed in the server's direction is not accepted back.
	w, _ := s.AppendMessage(nil, 0, []byte("x"))
	_, b := frames(t, w)
	if _, _, err := s.OpenMessage(b[0]); err == nil {
		t.Error("reflected message accepted")
	}
	// Truncated at every length.
	m = seal(1)
	for n := 0; n < len(m[0]); n++ {
		if _, _, err := s.OpenMessage(bytes.Clone(m[0][:n])); err == nil {
			t.Errorf("truncated to %d: accepted", n)
		}
	}
	// Not a MESSAGE.
	if _, _, err := s.OpenMessage(append([]byte{5}, "READY"...)); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("READY in data phase: %v", err)
	}
	// MORE and COMMAND together are refused.
	var raw []byte
	raw = append(raw, messageName...)
	raw = binary.BigEndian.AppendUint64(raw, 100)
	raw = forgeSeal(raw, []byte{innerMore | innerCommand, 'x'}, c, 100)
	if _, _, err := s.OpenMessage(raw); !errors.Is(err, ErrCommandMore) {
		t.Errorf("MORE|COMMAND: %v", err)
	}
}

func TestCurveHandshakeFailures(t *testing.T) {
	t.Run("wrong server key", func(t *testing.T) {
		c, s := newCurvePair(t, 4)
		c.ServerKey = key(t, testClientPublic)
		_, err := curveHandshake(t, c, s, StatusOK)
		if !errors.Is(err, ErrCryptographic) {
			t.Fatalf("%v, want ErrCryptographic", err)
		}
	})
	t.Run("client pair mismatch", func(t *testing.T) {
		c, s := newCurvePair(t, 5)
		c.PublicKey = key(t, testServerPublic) // not the public half of SecretKey
		s.Start(nil)
		out, _ := c.Start(nil)
		out, _, err := s.Next(nil, oneCommand(t, out))
		if err != nil {
			t.Fatal(err)
		}
		out, err = cNext(t, c, out)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Next(nil, oneCommand(t, out)); !errors.Is(err, ErrCryptographic) {
			t.Fatalf("%v, want ErrCryptographic (vouch)", err)
		}
	})
	for _, st := range []string{StatusDenied, StatusInternal} {
		t.Run("status "+st, func(t *testing.T) {
			c, s := newCurvePair(t, 6)
			_, err := curveHandshake(t, c, s, st)
			var rej *AuthRejectedError
			var pe *PeerError
			if !errors.As(err, &rej) || rej.Status != st || !errors.As(err, &pe) || pe.Reason != st {
				t.Fatalf("%v: want rejection %s and a client PeerError %q", err, st, st)
			}
			if !errors.Is(err, ErrPeerError) || !errors.Is(err, ErrAuthRejected) {
				t.Fatalf("%v: sentinels", err)
			}
		})
	}
	t.Run("status 300", func(t *testing.T) {
		c, s := newCurvePair(t, 7)
		_, err := curveHandshake(t, c, s, StatusTemporary)
		var rej *AuthRejectedError
		if !errors.As(err, &rej) || rej.Status != "300" || errors.Is(err, ErrPeerError) {
			t.Fatalf("%v: want a quiet rejection", err)
		}
	})
	t.Run("invalid status", func(t *testing.T) {
		c, s := newCurvePair(t, 8)
		if _, err := curveHandshake(t, c, s, "201"); err == nil || errors.Is(err, ErrAuthRejected) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("no auth", func(t *testing.T) {
		c, s := newCurvePair(t, 9)
		s.NoAuth = true
		s.Start(nil)
		out, _ := c.Start(nil)
		out, _, _ = s.Next(nil, oneCommand(t, out))
		out, _ = cNext(t, c, out)
		out, done, err := s.Next(nil, oneCommand(t, out))
		if err != nil || !done {
			t.Fatalf("done %v, %v", done, err)
		}
		if _, _, ok := s.AuthPending(); ok {
			t.Fatal("auth pending with NoAuth")
		}
		if _, done, err := c.Next(nil, oneCommand(t, out)); err != nil || !done {
			t.Fatalf("client: done %v, %v", done, err)
		}
	})
	t.Run("replayed INITIATE nonce", func(t *testing.T) {
		c, s := newCurvePair(t, 10)
		s.Start(nil)
		c.Start(nil)
		c.sendNonce = 1 // INITIATE will reuse HELLO's nonce
		hello, _ := c2hello(t, c)
		out, _, err := s.Next(nil, hello)
		if err != nil {
			t.Fatal(err)
		}
		c.sendNonce = 1
		out, err = cNext(t, c, out)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Next(nil, oneCommand(t, out)); !errors.Is(err, ErrNonce) {
			t.Fatalf("%v, want ErrNonce", err)
		}
	})
	t.Run("cookie from another connection", func(t *testing.T) {
		c1, s1 := newCurvePair(t, 11)
		s1.Start(nil)
		out, _ := c1.Start(nil)
		out, _, _ = s1.Next(nil, oneCommand(t, out))
		init1, _ := cNext(t, c1, out)
		_, s2 := newCurvePair(t, 12)
		s2.Start(nil)
		c2, _ := newCurvePair(t, 13)
		out, _ = c2.Start(nil)
		s2.Next(nil, oneCommand(t, out))
		if _, _, err := s2.Next(nil, oneCommand(t, init1)); !errors.Is(err, ErrCryptographic) {
			t.Fatalf("%v, want ErrCryptographic", err)
		}
	})
}

// c2hello restarts c's HELLO after the test changed its nonce counter.
func c2hello(tb testing.TB, c *CurveClient) ([]byte, error) {
	c.state = curveStart
	out, err := c.Start(nil)
	return oneCommand(tb, out), err
}

// Every handshake command cut short at every length, or with junk
// appended, is refused without a panic.
func TestCurveTruncatedCommands(t *testing.T) {
	c, s := newCurvePair(t, 14)
	tr, err := curveHandshake(t, c, s, StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		body []byte
		run  func(b []byte) error
	}{
		{"HELLO", tr.hello, func(b []byte) error {
			_, s := newCurvePair(t, 14)
			s.Start(nil)
			_, _, err := s.Next(nil, b)
			return err
		}},
		{"WELCOME", tr.welcome, func(b []byte) error {
			c, _ := newCurvePair(t, 14)
			c.Start(nil)
			_, _, err := c.Next(nil, b)
			return err
		}},
		{"INITIATE", tr.initiate, func(b []byte) error {
			c, s := newCurvePair(t, 14)
			s.Start(nil)
			out, _ := c.Start(nil)
			s.Next(nil, oneCommand(t, out))
			_, _, err := s.Next(nil, b)
			return err
		}},
		{"READY", tr.ready, func(b []byte) error {
			c, s := newCurvePair(t, 14)
			s.Start(nil)
			out, _ := c.Start(nil)
			out, _, _ = s.Next(nil, oneCommand(t, out))
			cNext(t, c, out)
			_, _, err := c.Next(nil, b)
			return err
		}},
	}
	for _, st := range steps {
		if err := st.run(bytes.Clone(st.body)); err != nil {
			t.Fatalf("%s intact: %v", st.name, err)
		}
		for n := 0; n < len(st.body); n++ {
			if err := st.run(bytes.Clone(st.body[:n])); err == nil {
				t.Errorf("%s cut to %d bytes: accepted", st.name, n)
			}
		}
		if st.name != "INITIATE" && st.name != "READY" { // these carry metadata of any length
			if err := st.run(append(bytes.Clone(st.body), 0)); err == nil {
				t.Errorf("%s with a byte appended: accepted", st.name)
			}
		}
	}
}

// libzmq's own commands from the capture (made with keys we do not have)
// are refused as undecryptable, not as malformed, and do not panic.
func TestCurveCaptureCommands(t *testing.T) {
	cp := loadCapture(t, "wire-curve.txt")
	cf, sf := cp.clientFrames(t), cp.serverFrames(t)
	_, s := newCurvePair(t, 17)
	s.Start(nil)
	if _, _, err := s.Next(nil, cf[0].body); !errors.Is(err, ErrCryptographic) {
		t.Errorf("capture HELLO: %v, want ErrCryptographic", err)
	}
	c, _ := newCurvePair(t, 18)
	c.Start(nil)
	if _, _, err := c.Next(nil, sf[0].body); !errors.Is(err, ErrCryptographic) {
		t.Errorf("capture WELCOME: %v, want ErrCryptographic", err)
	}
	c2, s2 := newCurvePair(t, 19)
	if _, err := curveHandshake(t, c2, s2, StatusOK); err != nil {
		t.Fatal(err)
	}
	for _, f := range cf[2:] {
		if _, _, err := s2.OpenMessage(bytes.Clone(f.body)); !errors.Is(err, ErrCryptographic) {
			t.Errorf("capture MESSAGE: %v, want ErrCryptographic", err)
		}
	}
}

func TestCurveUnexpectedCommands(t *testing.T) {
	c, s := newCurvePair(t, 20)
	s.Start(nil)
	c.Start(nil)
	ready := frameBodyOf(AppendReady(nil, nil))
	if _, _, err := s.Next(nil, ready); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("server got READY first: %v", err)
	}
	if _, _, err := c.Next(nil, frameBodyOf(AppendCommandFrame(nil, CmdInitiate, nil))); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("client got INITIATE: %v", err)
	}
	if _, _, err := c.Next(nil, frameBodyOf(AppendError(nil, "400"))); !errors.Is(err, ErrPeerError) {
		t.Errorf("client got ERROR: %v", err)
	}
	if _, _, err := s.Next(nil, nil); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("empty command: %v", err)
	}
	if _, _, err := s.Authenticated(nil, StatusOK, ""); err == nil {
		t.Error("Authenticated with nothing pending: no error")
	}
}

func plainPair() (*PlainClient, *PlainServer) {
	return &PlainClient{Username: "admin", Password: "secret", Local: clientMD}, &PlainServer{Local: serverMD}
}

func TestPlainHandshake(t *testing.T) {
	c, s := plainPair()
	s.Start(nil)
	out, err := c.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{4, 19, 5}, "HELLO\x05admin\x06secret"...)
	if !bytes.Equal(out, want) {
		t.Fatalf("HELLO = %q, want %q", out, want)
	}
	out, done, err := s.Next(nil, oneCommand(t, out))
	if err != nil || done || len(out) != 0 {
		t.Fatalf("server on HELLO: %q %v %v", out, done, err)
	}
	mech, cred, ok := s.AuthPending()
	if !ok || mech != MechPlain || len(cred) != 2 || string(cred[0]) != "admin" || string(cred[1]) != "secret" {
		t.Fatalf("AuthPending = %q %q %v", mech, cred, ok)
	}
	out, done, err = s.Authenticated(nil, StatusOK, "")
	if err != nil || done || !bytes.Equal(out, []byte("\x04\x08\x07WELCOME")) {
		t.Fatalf("WELCOME = %q %v %v", out, done, err)
	}
	out, err = cNext(t, c, out)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := ParseCommand(oneCommand(t, out)); string(n) != CmdInitiate {
		t.Fatalf("client sent %q, want INITIATE", n)
	}
	out, done, err = s.Next(nil, oneCommand(t, out))
	if err != nil || !done {
		t.Fatalf("server on INITIATE: %v %v", done, err)
	}
	if _, done, err = c.Next(nil, oneCommand(t, out)); err != nil || !done {
		t.Fatalf("client on READY: %v %v", done, err)
	}
	if !metadataEqual(c.PeerMetadata(), serverMD) || !metadataEqual(s.PeerMetadata(), clientMD) {
		t.Errorf("metadata: %s / %s", fmtMetadata(c.PeerMetadata()), fmtMetadata(s.PeerMetadata()))
	}
}

func TestPlainRejections(t *testing.T) {
	for _, st := range []string{StatusTemporary, StatusDenied, StatusInternal, "999"} {
		c, s := plainPair()
		s.Start(nil)
		out, _ := c.Start(nil)
		s.Next(nil, oneCommand(t, out))
		out, done, err := s.Authenticated(nil, st, "")
		if err == nil || done {
			t.Fatalf("%s: %v %v", st, done, err)
		}
		switch st {
		case StatusTemporary, "999":
			if len(out) != 0 {
				t.Errorf("%s: sent %q, want nothing", st, out)
			}
		default:
			if want := append([]byte{4, 9, 0x5e}, "RROR\x03"+st...); !bytes.Equal(out, want) {
				t.Errorf("%s: sent %q, want libzmq's %q", st, out, want)
			}
			_, err := cNext(t, c, out)
			var pe *PeerError
			if !errors.As(err, &pe) || pe.Reason != st {
				t.Errorf("%s: client: %v", st, err)
			}
		}
		if _, _, err := s.Next(nil, frameBodyOf(AppendCommandFrame(nil, CmdInitiate, nil))); err == nil {
			t.Errorf("%s: INITIATE after rejection accepted", st)
		}
	}
}

func TestPlainMalformed(t *testing.T) {
	for _, data := range []string{"", "\x05admin", "\x05admin\x06secre", "\x05admin\x06secret!", "\x06admin\x06secret", "\xff"} {
		_, s := plainPair()
		s.Start(nil)
		body := frameBodyOf(AppendCommandFrame(nil, CmdHello, []byte(data)))
		if _, _, err := s.Next(nil, body); !errors.Is(err, ErrMalformedCommand) {
			t.Errorf("HELLO data %q: %v", data, err)
		}
	}
	// Empty user and password are well-formed (the handler decides).
	_, s := plainPair()
	s.Start(nil)
	if _, _, err := s.Next(nil, frameBodyOf(AppendPlainHello(nil, "", ""))); err != nil {
		t.Errorf("empty credentials: %v", err)
	}
	c, _ := plainPair()
	c.Start(nil)
	if _, _, err := c.Next(nil, frameBodyOf(AppendCommandFrame(nil, CmdWelcome, []byte("x")))); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("WELCOME with data: %v", err)
	}
	if _, _, err := c.Next(nil, frameBodyOf(AppendReady(nil, nil))); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("READY before WELCOME: %v", err)
	}
	c = &PlainClient{Username: string(make([]byte, 256))}
	if _, err := c.Start(nil); err == nil {
		t.Error("256-byte user name accepted")
	}
}

func BenchmarkCurveSeal16(b *testing.B)  { benchSeal(b, 16) }
func BenchmarkCurveSeal64K(b *testing.B) { benchSeal(b, 64<<10) }
func BenchmarkCurveOpen16(b *testing.B)  { benchOpen(b, 16) }
func BenchmarkCurveOpen64K(b *testing.B) { benchOpen(b, 64<<10) }

func benchSeal(b *testing.B, size int) {
	c, s := newCurvePair(b, 30)
	if _, err := curveHandshake(b, c, s, StatusOK); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	buf := make([]byte, 0, size+64)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = c.AppendMessage(buf[:0], 0, msg)
	}
}

func benchOpen(b *testing.B, size int) {
	c, s := newCurvePair(b, 31)
	if _, err := curveHandshake(b, c, s, StatusOK); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	w, _ := c.AppendMessage(nil, 0, msg)
	_, bodies := frames(b, w)
	orig := bodies[0]
	buf := make([]byte, len(orig))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, orig)
		s.recvNonce = 0
		if _, _, err := s.OpenMessage(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// forgeSeal seals plain as the client would with short nonce n, bypassing
// AppendMessage's flag mapping (to forge inner flags).
func forgeSeal(dst, plain []byte, c *CurveClient, n uint64) []byte {
	return box.SealAfterPrecomputation(dst, plain, shortNonce(prefixMsgC, n), &c.key)
}

// The PLAIN ERROR that libzmq 4.3.4 sent for a wrong password (captured
// from Debian's libzmq5 with a raw socket), and the standard form: a PLAIN
// client understands both.
func TestPlainErrorForms(t *testing.T) {
	libzmq := mustHex("04095e52524f5203343030")
	for _, f := range [][]byte{libzmq, AppendError(nil, "400")} {
		for _, state := range []int{0, 1} {
			c, _ := plainPair()
			c.Start(nil)
			if state == 1 {
				c.Next(nil, frameBodyOf(AppendCommandFrame(nil, CmdWelcome, nil)))
			}
			_, _, err := c.Next(nil, oneCommand(t, f))
			var pe *PeerError
			if !errors.As(err, &pe) || pe.Reason != "400" {
				t.Errorf("%x in state %d: %v", f, state, err)
			}
		}
	}
	if got := AppendPlainError(nil, "400"); !bytes.Equal(got, libzmq) {
		t.Errorf("AppendPlainError = %x, want libzmq's %x", got, libzmq)
	}
	// Truncated forms are errors, not panics.
	for n := 2; n < len(libzmq); n++ {
		c, _ := plainPair()
		c.Start(nil)
		if _, _, err := c.Next(nil, libzmq[2:n]); err == nil {
			t.Errorf("truncated to %d: no error", n)
		}
	}
}

// The data phase's secretbox (curvebox.go) must produce exactly what
// nacl/secretbox produces, for every length around the block boundaries
// and for large messages, and open exactly what it seals.
func TestBoxMatchesSecretbox(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var shared [32]byte
	for i := range shared {
		shared[i] = byte(r.Uint32())
	}
	sizes := []int{}
	for n := 0; n <= 300; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 511, 512, 513, 4095, 4096, 65535, 65536, 70001)
	for _, prefix := range []string{prefixMsgC, prefixMsgS} {
		k := newBoxKey(prefix, &shared)
		for _, size := range sizes {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte(r.Uint32())
			}
			head := byte(r.Uint32())
			n := r.Uint64()
			want := secretbox.Seal(nil, append([]byte{head}, body...), shortNonce(prefix, n), &shared)
			got := boxSeal([]byte("pre"), head, body, n, &k)
			if string(got[:3]) != "pre" || !bytes.Equal(got[3:], want) {
				t.Fatalf("%s size %d: boxSeal differs from secretbox.Seal", prefix, size)
			}
			plain, ok := boxOpen(got[3:], n, &k)
			if !ok || plain[0] != head || !bytes.Equal(plain[1:], body) {
				t.Fatalf("%s size %d: boxOpen failed", prefix, size)
			}
			if &plain[0] != &got[3+16] {
				t.Fatalf("size %d: boxOpen did not work in place", size)
			}
			// What secretbox seals, boxOpen opens; a wrong nonce does not.
			if _, ok := boxOpen(bytes.Clone(want), n+1, &k); ok {
				t.Fatalf("size %d: opened with the wrong nonce", size)
			}
			if _, ok := boxOpen(bytes.Clone(want), n, &k); !ok {
				t.Fatalf("size %d: cannot open secretbox's box", size)
			}
		}
	}
	if _, ok := boxOpen(make([]byte, 15), 1, &boxKey{}); ok {
		t.Fatal("opened 15 bytes")
	}
}

// salsaBlock against the x/crypto stream, at several counters.
func TestSalsaBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 200 {
		var key boxKey
		var in [16]byte
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		for i := range in {
			in[i] = byte(r.Uint32())
		}
		var got, want [64]byte
		salsaBlock(&got, &in, &key)
		ctr := in
		salsa.XORKeyStream(want[:], want[:], &ctr, (*[32]byte)(&key))
		if got != want {
			t.Fatalf("salsaBlock(%x) differs from salsa.XORKeyStream", in)
		}
	}
}

func FuzzBoxOpen(f *testing.F) {
	var shared [32]byte
	k := newBoxKey(prefixMsgC, &shared)
	f.Add(boxSeal(nil, 1, []byte("hello"), 3, &k), uint64(3))
	f.Add(boxSeal(nil, 0, make([]byte, 100), 4, &k), uint64(4))
	f.Fuzz(func(t *testing.T, sealed []byte, n uint64) {
		want, ok2 := secretbox.Open(nil, sealed, shortNonce(prefixMsgC, n), &shared)
		got, ok := boxOpen(bytes.Clone(sealed), n, &k)
		if ok != ok2 || ok && !bytes.Equal(got, want) {
			t.Fatalf("boxOpen = %v, secretbox.Open = %v", ok, ok2)
		}
	})
}
