package rpc

import (
	"context"
	"errors"
	"os"
	"strings"
)

var (
	// ErrFrameCount means a message did not have the protocol's five frames
	// (four after a DEALER strips nothing: see ParseRequest).
	ErrFrameCount = errors.New("rpc: message does not have 5 frames")
	// ErrHeader means a header could not be decoded or lacks a required field.
	ErrHeader = errors.New("rpc: bad message header")
	// ErrContentType means a payload's content type has no codec here.
	ErrContentType = errors.New("rpc: unsupported content type")
	// ErrInvalidMessage is matched (errors.Is) by an *Exception the server
	// sent as INVALID_MESSAGE: it could not take the request at all.
	ErrInvalidMessage = errors.New("rpc: server rejected the message as invalid")
	// ErrClosed is returned by calls on a closed Client or Server.
	ErrClosed = errors.New("rpc: closed")
	// ErrHandshake means the server never answered the client's handshake.
	ErrHandshake = errors.New("rpc: no handshake reply from server")
	// ErrDuplicate means a Thing already has a property, action or event of
	// that name, or a Server already has a Thing of that id.
	ErrDuplicate = errors.New("rpc: duplicate name")
	// ErrUnexpectedReply means the server answered with a message type the
	// client did not expect for the request.
	ErrUnexpectedReply = errors.New("rpc: unexpected reply type")
)

// Exception is an error raised inside a Thing, as hololinked carries it:
// {"exception":{"message","type","traceback","notes"}}. Actions and property
// hooks return one (see Errorf) to choose the Python type a hololinked client
// re-raises; any other error goes out with type "Exception". A Client returns
// the server's EXCEPTION and INVALID_MESSAGE replies as *Exception.
type Exception struct {
	Message   string   `json:"message"`
	Type      string   `json:"type"`
	Traceback []string `json:"traceback"`
	Notes     []string `json:"notes"`
	// Invalid is set on the client side when the server sent the exception
	// as INVALID_MESSAGE rather than EXCEPTION.
	Invalid bool `json:"-"`
}

// Errorf returns an *Exception of Python type typ, for example
// Errorf("ValueError", "bad value %d", v).
func Errorf(typ, format string, args ...any) *Exception {
	return &Exception{Type: typ, Message: sprintf(format, args...)}
}

func (e *Exception) Error() string {
	var b strings.Builder
	b.WriteString("rpc: remote ")
	if e.Invalid {
		b.WriteString("invalid message: ")
	}
	b.WriteString(e.Type)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidMessage) hold for INVALID_MESSAGE replies.
func (e *Exception) Is(target error) bool { return target == ErrInvalidMessage && e.Invalid }

// TimeoutError is a TIMEOUT reply: the server gave up on the request before
// it started ("invokation", hololinked's spelling) or while it ran
// ("execution"). errors.Is(err, context.DeadlineExceeded) and
// errors.Is(err, os.ErrDeadlineExceeded) hold.
type TimeoutError struct {
	Kind string // "invokation" or "execution"
}

func (e *TimeoutError) Error() string {
	if e.Kind == TimeoutInvokation {
		return "rpc: server timeout: not started within the invocation timeout"
	}
	return "rpc: server timeout: execution did not finish within the execution timeout"
}

func (e *TimeoutError) Is(target error) bool {
	return target == context.DeadlineExceeded || target == os.ErrDeadlineExceeded
}

// Timeout kinds, the payload of a TIMEOUT reply.
const (
	TimeoutInvokation = "invokation"
	TimeoutExecution  = "execution"
)
