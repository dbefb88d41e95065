package zmtp

import (
	"bytes"
	"errors"
	"testing"
)

// Fuzz targets for the PLAIN and CURVE command decoders. Seeds: the
// commands of libzmq's CURVE capture, a complete deterministic handshake of
// our own (so mutations start from commands that decrypt), libzmq's PLAIN
// ERROR and hand-made PLAIN commands. Every input must give a result or an
// error of a known kind, never a panic.
//
//	go test -run=XXX -fuzz=FuzzCurveServer -fuzztime=60s ./internal/zmtp/

// securityErrors are the error kinds a decoder may return.
var securityErrors = []error{ErrMalformedCommand, ErrMalformedMetadata, ErrPeerError, ErrCommandMore, ErrAuthRejected}

func checkSecurityErr(t *testing.T, what string, err error) {
	t.Helper()
	checkErr(t, what, err, securityErrors...)
}

// curveSeeds returns a deterministic handshake's commands (seed 40) and the
// capture's frames.
func curveSeeds(f *testing.F) (curveTranscript, *capture) {
	c, s := newCurvePair(f, 40)
	tr, err := curveHandshake(f, c, s, StatusOK)
	if err != nil {
		f.Fatal(err)
	}
	return tr, loadCapture(f, "wire-curve.txt")
}

// FuzzCurveServer feeds a CURVE server a HELLO, then an INITIATE, then (once
// approved) a MESSAGE.
func FuzzCurveServer(f *testing.F) {
	tr, cp := curveSeeds(f)
	c, _ := newCurvePair(f, 40)
	_, s := newCurvePair(f, 40)
	curveHandshake(f, c, s, StatusOK)
	w, _ := c.AppendMessage(nil, FlagMore, []byte("A"))
	_, msg := frames(f, w)
	f.Add(tr.hello, tr.initiate, msg[0])
	cf := cp.clientFrames(f)
	f.Add(cf[0].body, cf[1].body, cf[2].body)
	f.Add(tr.hello, cf[1].body, cf[3].body)
	f.Add(tr.hello[:100], []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, hello, initiate, message []byte) {
		_, s := newCurvePair(t, 40)
		if _, err := s.Start(nil); err != nil {
			t.Fatal(err)
		}
		out, done, err := s.Next(nil, hello)
		if err != nil {
			checkSecurityErr(t, "HELLO", err)
			return
		}
		if done || len(out) == 0 {
			t.Fatalf("HELLO accepted: done %v, %d bytes out", done, len(out))
		}
		out, done, err = s.Next(nil, initiate)
		if err != nil {
			checkSecurityErr(t, "INITIATE", err)
			return
		}
		if done || len(out) != 0 {
			t.Fatalf("INITIATE accepted: done %v, %d bytes out", done, len(out))
		}
		if _, _, ok := s.AuthPending(); !ok {
			t.Fatal("INITIATE accepted without a pending verdict")
		}
		if _, done, err = s.Authenticated(nil, StatusOK, ""); err != nil || !done {
			t.Fatalf("Authenticated: done %v, %v", done, err)
		}
		_, plain, err := s.OpenMessage(bytes.Clone(message))
		if err != nil {
			checkSecurityErr(t, "MESSAGE", err)
			return
		}
		if len(plain) != len(message)-CurveMessageOverhead {
			t.Fatalf("MESSAGE of %d bytes opened to %d", len(message), len(plain))
		}
	})
}

// FuzzCurveClient feeds a CURVE client a WELCOME, then a READY, then a
// MESSAGE.
func FuzzCurveClient(f *testing.F) {
	tr, cp := curveSeeds(f)
	c, s := newCurvePair(f, 40)
	curveHandshake(f, c, s, StatusOK)
	w, _ := s.AppendMessage(nil, 0, []byte("hello"))
	_, msg := frames(f, w)
	f.Add(tr.welcome, tr.ready, msg[0])
	sf := cp.serverFrames(f)
	f.Add(sf[0].body, sf[1].body, cp.clientFrames(f)[2].body)
	f.Add(tr.welcome, frameBodyOf(AppendError(nil, "400")), []byte{})
	f.Add(frameBodyOf(AppendError(nil, "400")), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, welcome, ready, message []byte) {
		c, _ := newCurvePair(t, 40)
		if _, err := c.Start(nil); err != nil {
			t.Fatal(err)
		}
		out, done, err := c.Next(nil, welcome)
		if err != nil {
			checkSecurityErr(t, "WELCOME", err)
			return
		}
		if done || len(out) == 0 {
			t.Fatalf("WELCOME accepted: done %v, %d bytes out", done, len(out))
		}
		_, done, err = c.Next(nil, ready)
		if err != nil {
			checkSecurityErr(t, "READY", err)
			return
		}
		if !done {
			t.Fatal("READY accepted but not done")
		}
		if _, _, err := c.OpenMessage(bytes.Clone(message)); err != nil {
			checkSecurityErr(t, "MESSAGE", err)
		}
	})
}

// FuzzPlain feeds a PLAIN server a HELLO and an INITIATE (approving any
// user), and a PLAIN client a WELCOME and a READY or ERROR.
func FuzzPlain(f *testing.F) {
	hello := frameBodyOf(AppendPlainHello(nil, "admin", "secret"))
	initiate := frameBodyOf(AppendCommandFrame(nil, CmdInitiate, AppendMetadata(nil, clientMD)))
	welcome := frameBodyOf(AppendCommandFrame(nil, CmdWelcome, nil))
	ready := frameBodyOf(AppendReady(nil, serverMD))
	f.Add(hello, initiate, welcome, ready)
	f.Add(hello, initiate, frameBodyOf(AppendPlainError(nil, "400")), ready)
	f.Add(hello, initiate, welcome, frameBodyOf(AppendError(nil, "400")))
	f.Add(frameBodyOf(AppendPlainHello(nil, "", "")), frameBodyOf(AppendCommandFrame(nil, CmdInitiate, nil)), welcome, frameBodyOf(AppendReady(nil, nil)))
	f.Fuzz(func(t *testing.T, hello, initiate, welcome, ready []byte) {
		s := &PlainServer{Local: serverMD}
		s.Start(nil)
		if _, done, err := s.Next(nil, hello); err != nil {
			checkSecurityErr(t, "HELLO", err)
		} else if done {
			t.Fatal("done after HELLO")
		} else {
			_, cred, ok := s.AuthPending()
			if !ok || len(cred) != 2 {
				t.Fatal("HELLO accepted without a pending verdict")
			}
			if _, _, err := s.Authenticated(nil, StatusOK, ""); err != nil {
				t.Fatal(err)
			}
			if _, done, err := s.Next(nil, initiate); err != nil {
				checkSecurityErr(t, "INITIATE", err)
			} else if !done {
				t.Fatal("INITIATE accepted but not done")
			}
		}

		c := &PlainClient{Username: "u", Password: "p", Local: clientMD}
		c.Start(nil)
		if _, done, err := c.Next(nil, welcome); err != nil {
			checkSecurityErr(t, "WELCOME", err)
			return
		} else if done {
			t.Fatal("done after WELCOME")
		}
		if _, done, err := c.Next(nil, ready); err != nil {
			checkSecurityErr(t, "READY", err)
			var pe *PeerError
			if errors.Is(err, ErrPeerError) && !errors.As(err, &pe) {
				t.Fatalf("ErrPeerError without a PeerError: %v", err)
			}
		} else if !done {
			t.Fatal("READY accepted but not done")
		}
	})
}
