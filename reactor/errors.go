package reactor

import (
	"context"
	"encoding/hex"
	"errors"

	"github.com/zmqgo/zmq"
)

var (
	// ErrClosed is returned by operations on a connection that was shut down
	// (by its own Shutdown or by the factory's), and fails the futures of
	// requests that were still outstanding then. It is zmq.ErrClosed, so
	// errors.Is(err, net.ErrClosed) holds too.
	ErrClosed = zmq.ErrClosed

	// ErrQueueFull means a message could not be queued within the
	// connection's send timeout (WithSendTimeout; by default no wait at all,
	// as txZMQ sends with NOBLOCK): every peer's queue is at the high-water
	// mark, or there is no peer to send to yet (only bind endpoints and
	// nobody connected). The message was not sent. txZMQ raises ZMQError
	// EAGAIN in the same cases. PUB never reports it: a publisher drops
	// for a subscriber at its mark, by definition of the pattern.
	ErrQueueFull = errors.New("reactor: send queue full (high-water mark reached or no peer)")

	// ErrRequestTimeout fails a ReqConnection future whose reply did not
	// come in time (txZMQ's ZmqRequestTimeoutError). The error a future
	// fails with also satisfies errors.Is(err, context.DeadlineExceeded).
	ErrRequestTimeout = errors.New("reactor: request timed out")

	// ErrCanceled fails a ReqConnection future that was cancelled, by
	// Future.Cancel or by cancelling the context given to SendMsg (txZMQ's
	// CancelledError). It also satisfies errors.Is(err, context.Canceled).
	ErrCanceled = errors.New("reactor: request canceled")

	// ErrUnknownRequest means RepConnection.Reply was given an id that no
	// outstanding request has (never received, or already answered).
	ErrUnknownRequest = errors.New("reactor: no outstanding request with that id")

	// ErrInvalidEndpoint means an Endpoint's Type is neither bind nor connect.
	ErrInvalidEndpoint = errors.New("reactor: invalid endpoint type")
)

// requestError is how a request fails by timeout or cancellation: it names
// the request and matches both the reactor and the context sentinel.
type requestError struct {
	id       []byte
	sentinel error // ErrRequestTimeout or ErrCanceled
	ctxErr   error // context.DeadlineExceeded or context.Canceled
}

func (e *requestError) Error() string {
	return e.sentinel.Error() + " (id " + hex.EncodeToString(e.id) + ")"
}

func (e *requestError) Is(target error) bool { return target == e.sentinel || target == e.ctxErr }

func timeoutError(id []byte) error {
	return &requestError{id: id, sentinel: ErrRequestTimeout, ctxErr: context.DeadlineExceeded}
}

func canceledError(id []byte) error {
	return &requestError{id: id, sentinel: ErrCanceled, ctxErr: context.Canceled}
}
