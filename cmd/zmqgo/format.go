package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/zmqgo/zmq"
)

// codec converts between lines and messages.
//
// A line is the frames of one message separated by delim. Frames are taken
// and printed verbatim, or hex-encoded if hex is set (lower case when
// printed, either case when read). With routingID set (ROUTER), the first
// frame is the peer's routing id and always hex-encoded.
type codec struct {
	delim     string
	hex       bool
	routingID bool
}

// field decodes one field of a line (or a flag value) into frame bytes.
func (c codec) field(s string) ([]byte, error) {
	if !c.hex {
		return []byte(s), nil
	}
	return decodeHex(s)
}

func decodeHex(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		var ie hex.InvalidByteError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("invalid hex %q: bad character %q", s, byte(ie))
		}
		return nil, fmt.Errorf("invalid hex %q: odd length", s)
	}
	return b, nil
}

// decode parses a line into a message.
func (c codec) decode(line string) (zmq.Msg, error) {
	fields := strings.Split(line, c.delim)
	m := zmq.Msg{Frames: make([][]byte, len(fields))}
	for i, f := range fields {
		var err error
		if i == 0 && c.routingID {
			if len(fields) < 2 {
				return zmq.Msg{}, fmt.Errorf("want ROUTING-ID%sFRAME...: a hex routing id, the delimiter, then the message", visibleDelim(c.delim))
			}
			if f == "" {
				return zmq.Msg{}, errors.New("empty routing id")
			}
			m.Frames[i], err = decodeHex(f)
			if err != nil {
				err = fmt.Errorf("routing id: %w", err)
			}
		} else {
			m.Frames[i], err = c.field(f)
			if err != nil {
				err = fmt.Errorf("frame %d: %w", i+1, err)
			}
		}
		if err != nil {
			return zmq.Msg{}, err
		}
	}
	return m, nil
}

// encode formats a message as a line, without the newline.
func (c codec) encode(m zmq.Msg) string {
	var b strings.Builder
	for i, f := range m.Frames {
		if i > 0 {
			b.WriteString(c.delim)
		}
		if c.hex || (i == 0 && c.routingID) {
			b.WriteString(hex.EncodeToString(f))
		} else {
			b.Write(f)
		}
	}
	return b.String()
}

func visibleDelim(d string) string {
	if d == "\t" {
		return "<TAB>"
	}
	return d
}

// printer writes messages to stdout, one line each, flushed at once so
// that a pipe reader sees every message as it arrives.
type printer struct {
	w     *bufio.Writer
	codec codec
}

func newPrinter(w io.Writer, c codec) *printer {
	return &printer{w: bufio.NewWriter(w), codec: c}
}

func (p *printer) print(m zmq.Msg) error {
	p.w.WriteString(p.codec.encode(m))
	p.w.WriteByte('\n')
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("writing stdout: %w", err)
	}
	return nil
}
