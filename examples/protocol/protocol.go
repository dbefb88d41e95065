package main

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"time"
)

// The protocol: every message is two frames, a JSON header and a payload
// (empty for most types). The header always has version, type and seq.
//
// Client to server:
//
//	HELLO {client}             opens a session
//	DATA  {compression, length} + payload
//	PING                       + payload, echoed
//	BYE                        closes the session
//
// Server to client, each with in_reply_to = the request's seq:
//
//	WELCOME  {session, server}
//	DATA_ACK {received, crc32}   received: payload bytes after decompression
//	PONG     {timestamp}         + the PING's payload
//	BYE_ACK
//	ERROR    {code, message}
//
// Versions: the server speaks 1 and 2; only version 2 may compress. A
// payload over 1 KiB is sent zlib-compressed (compression "zlib", length
// the size before compression).

const (
	// CurrentVersion is what the client speaks.
	CurrentVersion = 2
	// CompressAbove is the payload size above which version 2 compresses.
	CompressAbove = 1024
	// MaxPayload bounds a decompressed payload (a zlib bomb is refused).
	MaxPayload = 16 << 20
)

// SupportedVersions are the versions the server accepts.
var SupportedVersions = []int{1, 2}

// Header is the first frame of every message.
type Header struct {
	Version     int    `json:"version"`
	Type        string `json:"type"`
	Seq         int    `json:"seq"`
	InReplyTo   int    `json:"in_reply_to,omitempty"`
	Compression string `json:"compression,omitempty"`
	Length      int    `json:"length,omitempty"`

	Client    string  `json:"client,omitempty"`
	Session   string  `json:"session,omitempty"`
	Server    string  `json:"server,omitempty"`
	Received  int     `json:"received,omitempty"`
	CRC32     string  `json:"crc32,omitempty"`
	Timestamp float64 `json:"timestamp,omitempty"`
	Code      string  `json:"code,omitempty"`
	Message   string  `json:"message,omitempty"`
}

// Error codes.
const (
	ErrBadFrames          = "bad_frames"
	ErrBadHeader          = "bad_header"
	ErrUnsupportedVersion = "unsupported_version"
	ErrUnknownType        = "unknown_type"
	ErrNoSession          = "no_session"
	ErrBadCompression     = "bad_compression"
	ErrBadPayload         = "bad_payload"
	ErrLengthMismatch     = "length_mismatch"
)

// Encode makes the two frames of a message, compressing a version 2
// payload over CompressAbove bytes.
func Encode(h Header, payload []byte) ([][]byte, error) {
	if h.Version >= 2 && len(payload) > CompressAbove {
		var b bytes.Buffer
		zw := zlib.NewWriter(&b)
		zw.Write(payload)
		if err := zw.Close(); err != nil {
			return nil, err
		}
		h.Compression, h.Length, payload = "zlib", len(payload), b.Bytes()
	} else if len(payload) > 0 {
		h.Length = len(payload)
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if payload == nil {
		payload = []byte{}
	}
	return [][]byte{hb, payload}, nil
}

// protoError is a failure the peer hears about as ERROR {code, message}.
type protoError struct{ code, msg string }

func (e *protoError) Error() string { return e.code + ": " + e.msg }

func perr(code, format string, args ...any) error {
	return &protoError{code, fmt.Sprintf(format, args...)}
}

// Decode checks a message's frames and header and returns the header and
// the payload, decompressed.
func Decode(frames [][]byte) (Header, []byte, error) {
	var h Header
	if len(frames) != 2 {
		return h, nil, perr(ErrBadFrames, "want 2 frames (header, payload), got %d", len(frames))
	}
	if err := json.Unmarshal(frames[0], &h); err != nil || h.Type == "" {
		return h, nil, perr(ErrBadHeader, "header is not a JSON object with a type")
	}
	if !slices.Contains(SupportedVersions, h.Version) {
		return h, nil, perr(ErrUnsupportedVersion, "version %d; supported: %v", h.Version, SupportedVersions)
	}
	payload := frames[1]
	switch h.Compression {
	case "":
	case "zlib":
		if h.Version < 2 {
			return h, nil, perr(ErrBadCompression, "version %d has no compression", h.Version)
		}
		zr, err := zlib.NewReader(bytes.NewReader(payload))
		if err == nil {
			payload, err = io.ReadAll(io.LimitReader(zr, MaxPayload+1))
		}
		if err != nil {
			return h, nil, perr(ErrBadPayload, "zlib: %v", err)
		}
		if len(payload) > MaxPayload {
			return h, nil, perr(ErrBadPayload, "payload over %d bytes", MaxPayload)
		}
	default:
		return h, nil, perr(ErrBadCompression, "unknown compression %q", h.Compression)
	}
	if (h.Length != 0 || h.Compression != "") && h.Length != len(payload) {
		return h, nil, perr(ErrLengthMismatch, "header says %d bytes, payload has %d", h.Length, len(payload))
	}
	return h, payload, nil
}

// session is a client's state on the server.
type session struct {
	id, client string
	version    int
}

// Server answers the protocol. Its state is touched only by Handle, which
// runs on the factory's loop.
type Server struct {
	Name     string
	sessions map[string]*session // by routing id
	next     int
	now      func() time.Time
}

// NewServer returns a server with no sessions.
func NewServer(name string) *Server {
	return &Server{Name: name, sessions: make(map[string]*session), now: time.Now}
}

// Handle answers one request from peer and returns the reply's frames.
func (s *Server) Handle(peer []byte, frames [][]byte) [][]byte {
	h, payload, err := Decode(frames)
	version := h.Version
	if !slices.Contains(SupportedVersions, version) {
		version = CurrentVersion
	}
	reply := Header{Version: version, InReplyTo: h.Seq, Seq: h.Seq}
	var body []byte
	sess := s.sessions[string(peer)]
	switch {
	case err != nil:
	case h.Type == "HELLO":
		s.next++
		sess = &session{id: fmt.Sprintf("s%d", s.next), client: h.Client, version: h.Version}
		s.sessions[string(peer)] = sess
		reply.Type, reply.Session, reply.Server = "WELCOME", sess.id, s.Name
	case h.Type != "DATA" && h.Type != "PING" && h.Type != "BYE":
		err = perr(ErrUnknownType, "unknown message type %q", h.Type)
	case sess == nil:
		err = perr(ErrNoSession, "send HELLO first")
	case h.Type == "DATA":
		reply.Type, reply.Received = "DATA_ACK", len(payload)
		reply.CRC32 = fmt.Sprintf("%08x", crc32.ChecksumIEEE(payload))
	case h.Type == "PING":
		reply.Type, reply.Timestamp, body = "PONG", float64(s.now().UnixNano())/1e9, payload
	case h.Type == "BYE":
		delete(s.sessions, string(peer))
		reply.Type = "BYE_ACK"
	}
	if err != nil {
		var pe *protoError
		if !errors.As(err, &pe) {
			pe = &protoError{ErrBadHeader, err.Error()}
		}
		reply.Type, reply.Code, reply.Message = "ERROR", pe.code, pe.msg
	}
	out, _ := Encode(reply, body)
	return out
}
