package zmtp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var _ Mechanism = (*Null)(nil)

// frameBody decodes a single command frame, as the engine would before
// handing the body to a Mechanism.
func frameBody(t *testing.T, f []byte) []byte {
	t.Helper()
	flags, body, n, err := ParseFrame(f, 0)
	if err != nil || n != len(f) || flags&FlagCommand == 0 {
		t.Fatalf("not one command frame: %x (%v)", f, err)
	}
	return body
}

// Two NULL mechanisms talking to each other, each sending READY at once.
func TestNullHandshake(t *testing.T) {
	a := &Null{Local: Metadata{{PropSocketType, []byte(TypeDealer)}, {PropIdentity, nil}}}
	b := &Null{Local: Metadata{{PropSocketType, []byte(TypeRouter)}, {PropIdentity, []byte("r1")}}}
	if a.Name() != MechNull || a.Name() != "NULL" {
		t.Fatalf("Name = %q", a.Name())
	}
	aOut, err := a.Start([]byte("x"))
	if err != nil || aOut[0] != 'x' {
		t.Fatal(err)
	}
	bOut, err := b.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.PeerMetadata() != nil {
		t.Fatal("peer metadata before handshake")
	}
	out, done, err := a.Next(nil, frameBody(t, bOut))
	if err != nil || !done || len(out) != 0 {
		t.Fatalf("a.Next = %x %v %v", out, done, err)
	}
	out, done, err = b.Next([]byte("keep"), frameBody(t, aOut[1:]))
	if err != nil || !done || string(out) != "keep" {
		t.Fatalf("b.Next = %q %v %v", out, done, err)
	}
	if !metadataEqual(a.PeerMetadata(), b.Local) || !metadataEqual(b.PeerMetadata(), a.Local) {
		t.Fatalf("peer metadata %s / %s", fmtMetadata(a.PeerMetadata()), fmtMetadata(b.PeerMetadata()))
	}
	st, _ := a.PeerMetadata().Get(PropSocketType)
	if !Compatible(TypeDealer, string(st)) {
		t.Fatalf("DEALER vs %q", st)
	}
}

func TestNullErrors(t *testing.T) {
	body := func(f []byte) []byte { return frameBody(t, f) }
	for _, tc := range []struct {
		name string
		body []byte
		err  error
		msg  string
	}{
		{"ERROR", body(AppendError(nil, "Socket type mismatch")), ErrPeerError, "Socket type mismatch"},
		{"ERROR empty", body(AppendError(nil, "")), ErrPeerError, ""},
		{"ERROR truncated", []byte("\x05ERROR\x05ab"), ErrMalformedCommand, ""},
		{"ERROR no reason", []byte("\x05ERROR"), ErrMalformedCommand, ""},
		{"PING", body(AppendPing(nil, 1, nil)), ErrMalformedCommand, "PING"},
		{"SUBSCRIBE", body(AppendSubscribe(nil, nil)), ErrMalformedCommand, "SUBSCRIBE"},
		{"HELLO", []byte("\x05HELLO"), ErrMalformedCommand, "HELLO"},
		{"lowercase ready", []byte("\x05ready"), ErrMalformedCommand, "ready"},
		{"READY bad metadata", []byte("\x05READY\x03ab"), ErrMalformedMetadata, ""},
		{"READY bad name", []byte("\x05READY\x03a b\x00\x00\x00\x00"), ErrMalformedMetadata, ""},
		{"empty", nil, ErrMalformedCommand, ""},
		{"bad name length", []byte{9, 'R'}, ErrMalformedCommand, ""},
	} {
		n := &Null{}
		out, done, err := n.Next([]byte("dst"), tc.body)
		if !errors.Is(err, tc.err) || done || string(out) != "dst" {
			t.Errorf("%s: Next = %q, %v, %v; want error %v", tc.name, out, done, err, tc.err)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.msg)
		}
		if n.PeerMetadata() != nil {
			t.Errorf("%s: peer metadata set after error", tc.name)
		}
	}
	// A READY with no properties at all completes the handshake.
	n := &Null{}
	if _, done, err := n.Next(nil, []byte("\x05READY")); err != nil || !done || len(n.PeerMetadata()) != 0 {
		t.Errorf("empty READY: %v %v", done, err)
	}
	if _, ok := n.PeerMetadata().Get(PropSocketType); ok {
		t.Error("Socket-Type in empty READY")
	}
	// Start with no metadata is a bare READY.
	if out, _ := (&Null{}).Start(nil); !bytes.Equal(out, []byte("\x04\x06\x05READY")) {
		t.Errorf("bare READY = %x", out)
	}
}

func TestCompatible(t *testing.T) {
	all := []string{TypePair, TypePub, TypeSub, TypeXPub, TypeXSub, TypePush, TypePull, TypeReq, TypeRep, TypeDealer, TypeRouter}
	// The checklist's table of valid pairs.
	valid := map[[2]string]bool{}
	add := func(a string, bs ...string) {
		for _, b := range bs {
			valid[[2]string{a, b}] = true
		}
	}
	add(TypeReq, TypeRep, TypeRouter)
	add(TypeRep, TypeReq, TypeDealer)
	add(TypeDealer, TypeRep, TypeDealer, TypeRouter)
	add(TypeRouter, TypeReq, TypeDealer, TypeRouter)
	add(TypePub, TypeSub, TypeXSub)
	add(TypeXPub, TypeSub, TypeXSub)
	add(TypeSub, TypePub, TypeXPub)
	add(TypeXSub, TypePub, TypeXPub)
	add(TypePush, TypePull)
	add(TypePull, TypePush)
	add(TypePair, TypePair)
	if len(valid) != 21 {
		t.Fatalf("table has %d pairs", len(valid))
	}
	for _, a := range all {
		for _, b := range all {
			want := valid[[2]string{a, b}]
			if got := Compatible(a, b); got != want {
				t.Errorf("Compatible(%s, %s) = %v, want %v", a, b, got, want)
			}
			if Compatible(a, b) != Compatible(b, a) {
				t.Errorf("Compatible(%s, %s) is not symmetric", a, b)
			}
		}
	}
	for _, tc := range [][2]string{
		{"dealer", TypeRouter}, {TypeDealer, "router"}, {"Dealer", "Router"}, // libzmq is case-sensitive
		{"", ""}, {TypePair, ""}, {"", TypePair}, {"STREAM", TypeRouter}, {"CLIENT", "SERVER"},
		{TypeRouter, "ROUTER\x00"}, {TypeSub, " PUB"},
	} {
		if Compatible(tc[0], tc[1]) {
			t.Errorf("Compatible(%q, %q) = true", tc[0], tc[1])
		}
	}
}

func TestSendsIdentity(t *testing.T) {
	for _, ty := range []string{TypePair, TypePub, TypeSub, TypeXPub, TypeXSub, TypePush, TypePull, TypeReq, TypeRep, TypeDealer, TypeRouter, "", "req"} {
		want := ty == TypeReq || ty == TypeDealer || ty == TypeRouter
		if SendsIdentity(ty) != want {
			t.Errorf("SendsIdentity(%q) = %v", ty, !want)
		}
	}
}
