// Command protocol is a versioned custom protocol over ROUTER/DEALER (see
// protocol.go): HELLO, DATA, PING and BYE from the client; WELCOME,
// DATA_ACK, PONG, BYE_ACK and ERROR from the server; a JSON header frame
// and a payload frame; payloads over 1 KiB zlib-compressed.
//
// With no arguments it runs a server and a client in one process and
// prints their exchange. As separate programs:
//
//	protocol -role server -bind tcp://127.0.0.1:5570
//	protocol -role client -connect tcp://127.0.0.1:5570 < file
//
// The client sends each line of its input as DATA, then PING and BYE.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zmqgo/zmq/reactor"
)

func main() {
	if err := run(context.Background(), os.Stdin, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "protocol:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, in io.Reader, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("protocol", flag.ContinueOnError)
	role := fs.String("role", "demo", "demo, server or client")
	bind := fs.String("bind", "tcp://127.0.0.1:5570", "server: endpoint to bind")
	connect := fs.String("connect", "tcp://127.0.0.1:5570", "client: server to connect to")
	name := fs.String("name", "cli", "client: name sent in HELLO")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "demo":
		return demo(ctx, w)
	case "server":
		f := reactor.NewFactory()
		f.RegisterForShutdown()
		defer f.Shutdown()
		addr, err := serve(f, *bind)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "server listening on %s\n", addr)
		select {
		case <-f.Done():
		case <-ctx.Done():
		}
		return nil
	case "client":
		return clientRole(ctx, in, w, *connect, *name)
	}
	return fmt.Errorf("unknown role %q", *role)
}

// serve starts a server on a ROUTER bound to bind and returns its address.
func serve(f *reactor.Factory, bind string) (string, error) {
	srv := NewServer("zmqgo-protocol-demo")
	var router *reactor.RouterConnection
	router, err := reactor.NewRouterConnection(f, func(sender []byte, parts [][]byte) {
		router.SendMultipart(sender, srv.Handle(sender, parts))
	})
	if err != nil {
		return "", err
	}
	if err := router.AddEndpoints(reactor.Bind(bind)); err != nil {
		return "", err
	}
	return router.Addr(), nil
}

// Client talks to the server one request at a time.
type Client struct {
	conn    *reactor.DealerConnection
	replies chan [][]byte
	seq     int
	Version int
}

// NewClient connects a client to addr.
func NewClient(f *reactor.Factory, addr string) (*Client, error) {
	c := &Client{replies: make(chan [][]byte, 16), Version: CurrentVersion}
	conn, err := reactor.NewDealerConnection(f, func(parts [][]byte) { c.replies <- parts }, reactor.Connect(addr))
	if err != nil {
		return nil, err
	}
	c.conn = conn
	return c, nil
}

// Request sends one message and returns the reply.
func (c *Client) Request(ctx context.Context, h Header, payload []byte) (Header, []byte, error) {
	c.seq++
	h.Seq = c.seq
	if h.Version == 0 {
		h.Version = c.Version
	}
	frames, err := Encode(h, payload)
	if err != nil {
		return Header{}, nil, err
	}
	return c.RequestRaw(ctx, frames)
}

// RequestRaw sends frames as they are and returns the reply.
func (c *Client) RequestRaw(ctx context.Context, frames [][]byte) (Header, []byte, error) {
	if err := c.conn.SendMultipart(frames); err != nil {
		return Header{}, nil, err
	}
	select {
	case r := <-c.replies:
		return Decode(r)
	case <-ctx.Done():
		return Header{}, nil, ctx.Err()
	}
}

// Describe renders a reply as one line.
func Describe(h Header, payload []byte) string {
	switch h.Type {
	case "WELCOME":
		return fmt.Sprintf("WELCOME (seq %d): session %s on %s, version %d", h.InReplyTo, h.Session, h.Server, h.Version)
	case "DATA_ACK":
		return fmt.Sprintf("DATA_ACK (seq %d): %d bytes, crc32 %s", h.InReplyTo, h.Received, h.CRC32)
	case "PONG":
		return fmt.Sprintf("PONG (seq %d): %q", h.InReplyTo, payload)
	case "BYE_ACK":
		return fmt.Sprintf("BYE_ACK (seq %d)", h.InReplyTo)
	case "ERROR":
		return fmt.Sprintf("ERROR (seq %d): %s: %s", h.InReplyTo, h.Code, h.Message)
	}
	return fmt.Sprintf("%+v", h)
}

// describeRequest renders what the client sends.
func describeRequest(h Header, payload []byte) string {
	frames, _ := Encode(h, payload)
	s := fmt.Sprintf("%s v%d", h.Type, h.Version)
	if len(payload) > 0 {
		s += fmt.Sprintf(", %d bytes", len(payload))
		if len(frames[1]) != len(payload) {
			s += " (zlib-compressed on the wire)"
		}
	}
	return s
}

func demo(ctx context.Context, w io.Writer) error {
	f := reactor.NewFactory()
	defer f.Shutdown()
	addr, err := serve(f, "tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	c, err := NewClient(f, addr)
	if err != nil {
		return err
	}
	big := []byte(strings.Repeat("all work and no play makes jack a dull boy\n", 240)) // 10,320 bytes
	steps := []struct {
		h       Header
		payload []byte
	}{
		{Header{Type: "HELLO", Client: "demo-client"}, nil},
		{Header{Type: "DATA"}, []byte(strings.Repeat("x", 100))},
		{Header{Type: "DATA"}, big},
		{Header{Type: "DATA", Version: 1}, big},
		{Header{Type: "PING"}, []byte("are you there?")},
		{Header{Type: "DATA", Version: 3}, []byte("from the future")},
		{Header{Type: "FROB"}, nil},
		{Header{Type: "BYE"}, nil},
		{Header{Type: "DATA"}, []byte("after BYE")},
	}
	for _, s := range steps {
		if s.h.Version == 0 {
			s.h.Version = c.Version
		}
		fmt.Fprintf(w, "-> %s\n", describeRequest(s.h, s.payload))
		h, p, err := c.Request(ctx, s.h, s.payload)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "<- %s\n", Describe(h, p))
	}
	// A corrupt payload and a malformed header are answered too.
	for _, frames := range [][][]byte{
		{[]byte(`{"version":2,"type":"DATA","seq":99,"compression":"zlib","length":5}`), []byte("not zlib")},
		{[]byte("not json"), {}},
	} {
		fmt.Fprintf(w, "-> %q\n", frames[0])
		h, p, err := c.RequestRaw(ctx, frames)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "<- %s\n", Describe(h, p))
	}
	return nil
}

// clientRole: HELLO, each input line as DATA, PING, BYE.
func clientRole(ctx context.Context, in io.Reader, w io.Writer, addr, name string) error {
	f := reactor.NewFactory()
	f.RegisterForShutdown()
	defer f.Shutdown()
	c, err := NewClient(f, addr)
	if err != nil {
		return err
	}
	do := func(h Header, payload []byte) error {
		h, p, err := c.Request(ctx, h, payload)
		if err == nil {
			fmt.Fprintf(w, "<- %s\n", Describe(h, p))
		}
		return err
	}
	if err := do(Header{Type: "HELLO", Client: name}, nil); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if err := do(Header{Type: "DATA"}, append(sc.Bytes(), '\n')); err != nil {
			return err
		}
	}
	if err := do(Header{Type: "PING"}, nil); err != nil {
		return err
	}
	return do(Header{Type: "BYE"}, nil)
}
