package zmq

import (
	"errors"
	"fmt"
	"net"

	"github.com/zmqgo/zmq/internal/zmtp"
)

var (
	// ErrClosed is returned by operations on a closed socket, and by Send and
	// Recv calls that Close unblocked. errors.Is(ErrClosed, net.ErrClosed) holds.
	ErrClosed = fmt.Errorf("zmq: socket closed: %w", net.ErrClosed)
	// ErrState means the operation is not allowed in the socket's current
	// state, such as two Sends in a row on REQ (libzmq's EFSM).
	ErrState = errors.New("zmq: operation not valid in the socket's current state")
	// ErrNotSupported means the socket type does not support the operation,
	// such as Send on SUB or Subscribe on PUSH (libzmq's ENOTSUP).
	ErrNotSupported = errors.New("zmq: operation not supported by this socket type")
	// ErrHostUnreachable means a ROUTER with RouterMandatory was asked to send
	// to a routing id it has no peer for (libzmq's EHOSTUNREACH).
	ErrHostUnreachable = errors.New("zmq: no peer with that routing id")
	// ErrInvalidEndpoint means an endpoint string could not be parsed.
	ErrInvalidEndpoint = errors.New("zmq: invalid endpoint")
	// ErrUnknownHost means Connect was given a tcp host name that does not
	// exist. errors.Is(ErrUnknownHost, ErrInvalidEndpoint) holds.
	ErrUnknownHost = fmt.Errorf("%w: unknown host", ErrInvalidEndpoint)
	// ErrUnsupportedTransport means the endpoint's transport is not supported.
	ErrUnsupportedTransport = errors.New("zmq: unsupported transport")
	// ErrEndpointNotFound means Unbind or Disconnect named an endpoint the
	// socket is not bound or connected to.
	ErrEndpointNotFound = errors.New("zmq: endpoint not bound or connected")
	// ErrEmptyMsg means Send was given a message with no frames.
	ErrEmptyMsg = errors.New("zmq: message has no frames")
	// ErrMsgTooLarge means a message exceeds the socket's MaxMsgSize.
	ErrMsgTooLarge = errors.New("zmq: message exceeds maximum size")
	// ErrInvalidType means NewSocket was given an unknown socket type.
	ErrInvalidType = errors.New("zmq: invalid socket type")
	// ErrInvalidOption means an option value is out of range.
	ErrInvalidOption = errors.New("zmq: invalid option value")
	// ErrIncompatiblePeer means a peer's socket type cannot talk to ours
	// (for example PUSH to SUB). The connection is dropped.
	ErrIncompatiblePeer = protocolClass("zmq: incompatible peer socket type")
	// ErrRoutingID means a ROUTER refused a peer's announced routing id:
	// one starting with 0x00 (the space of ids the ROUTER generates) or one
	// held by a connected peer (unless WithRouterHandover). The newcomer's
	// connection is dropped; the peer holding the id is unaffected.
	ErrRoutingID = errors.New("zmq: routing id refused")
	// ErrProtocol means a peer broke the ZMTP protocol. The connection is dropped.
	ErrProtocol = protocolClass("zmq: protocol error")
	// ErrWouldBlock is returned by TrySend and TryRecv when the operation would
	// have to wait (libzmq's EAGAIN under ZMQ_DONTWAIT).
	ErrWouldBlock = errors.New("zmq: operation would block")
	// ErrAddrInUse means an inproc name is already bound in this process.
	ErrAddrInUse = errors.New("zmq: address already in use")
	// ErrInvalidKey means a CURVE key could not be decoded.
	ErrInvalidKey = errors.New("zmq: invalid CURVE key")
	// ErrAuthFailed means a security handshake was refused by authentication:
	// on a server, the ZAP handler said no; on a client, the server sent ERROR.
	// The error is an *AuthError.
	ErrAuthFailed = errors.New("zmq: authentication failed")
	// ErrUndelivered is matched (errors.Is) by the *UndeliveredError Shutdown
	// returns when queued messages could not be written.
	ErrUndelivered = errors.New("zmq: messages not delivered")
	// ErrInvalidArgument means a function was given an argument it cannot
	// use, such as a nil socket or a malformed address.
	ErrInvalidArgument = errors.New("zmq: invalid argument")
)

// Unexported sentinels.
var (
	// errMechanism: the peer's greeting names another security mechanism.
	errMechanism = protocolClass("zmq: security mechanism mismatch")
	// errZAPReply: a ZAP handler's reply does not follow RFC 27.
	errZAPReply = errors.New("zmq: malformed ZAP reply")
)

// protocolClass returns a sentinel that also matches zmtp.ErrProtocol, the
// class serve's handshake-failure classification checks (with one
// errors.Is): a peer that broke the protocol, whether the zmtp codec or this
// package found out. It does not make the zmtp errors match it.
func protocolClass(msg string) error { return &classError{msg: msg, class: zmtp.ErrProtocol} }

type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string        { return e.msg }
func (e *classError) Is(target error) bool { return target == e.class }
