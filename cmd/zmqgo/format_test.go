package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/zmqgo/zmq"
)

func TestCodec(t *testing.T) {
	text := codec{delim: "\t"}
	hexc := codec{delim: "\t", hex: true}
	router := codec{delim: "\t", routingID: true}
	routerHex := codec{delim: ",", hex: true, routingID: true}
	for _, tc := range []struct {
		c      codec
		line   string
		frames []string
		out    string // encode(decode(line)), if not line
	}{
		{text, "hello", []string{"hello"}, ""},
		{text, "a\tb\tc", []string{"a", "b", "c"}, ""},
		{text, "", []string{""}, ""},
		{text, "a\t", []string{"a", ""}, ""},
		{text, "\ta", []string{"", "a"}, ""},
		{text, "a b,c", []string{"a b,c"}, ""},
		{codec{delim: "::"}, "a::b:c", []string{"a", "b:c"}, ""},
		{hexc, "6869\t00ff", []string{"hi", "\x00\xff"}, ""},
		{hexc, "6869\tABCD", []string{"hi", "\xab\xcd"}, "6869\tabcd"},
		{hexc, "\t", []string{"", ""}, ""},
		{router, "0080000001\thello\tworld", []string{"\x00\x80\x00\x00\x01", "hello", "world"}, ""},
		{router, "616c696365\t", []string{"alice", ""}, ""},
		{routerHex, "00aa,6869", []string{"\x00\xaa", "hi"}, ""},
	} {
		m, err := tc.c.decode(tc.line)
		if err != nil {
			t.Errorf("%+v decode(%q): %v", tc.c, tc.line, err)
			continue
		}
		if got := frames(m); !slices.Equal(got, tc.frames) {
			t.Errorf("%+v decode(%q) = %q, want %q", tc.c, tc.line, got, tc.frames)
		}
		want := tc.out
		if want == "" {
			want = tc.line
		}
		if got := tc.c.encode(m); got != want {
			t.Errorf("%+v encode(decode(%q)) = %q, want %q", tc.c, tc.line, got, want)
		}
	}
}

func TestCodecErrors(t *testing.T) {
	for _, tc := range []struct {
		c    codec
		line string
		want string
	}{
		{codec{delim: "\t", hex: true}, "xyz", `frame 1: invalid hex "xyz": bad character 'x'`},
		{codec{delim: "\t", hex: true}, "00\tabc", `frame 2: invalid hex "abc": odd length`},
		{codec{delim: "\t", routingID: true}, "hello", "want ROUTING-ID<TAB>FRAME"},
		{codec{delim: "\t", routingID: true}, "\thello", "empty routing id"},
		{codec{delim: "\t", routingID: true}, "alice\thello", `routing id: invalid hex "alice"`},
		{codec{delim: ",", hex: true, routingID: true}, "00aa,zz", "frame 2: invalid hex"},
	} {
		if _, err := tc.c.decode(tc.line); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v decode(%q) error %v, want %q", tc.c, tc.line, err, tc.want)
		}
	}
}

func TestPrinter(t *testing.T) {
	var b strings.Builder
	p := newPrinter(&b, codec{delim: "|"})
	for _, m := range []zmq.Msg{zmq.NewMsgString("a", "b"), zmq.NewMsgString(""), zmq.NewMsgString("c")} {
		if err := p.print(m); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := b.String(), "a|b\n\nc\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}

func frames(m zmq.Msg) []string {
	s := make([]string, len(m.Frames))
	for i, f := range m.Frames {
		s[i] = string(f)
	}
	return s
}
