package zmq

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Option configures a Socket at creation. The zero configuration matches
// libzmq's defaults.
type Option func(*options) error

type options struct {
	routingID         []byte
	sendHWM           int
	sendHWMBytes      int64 // queuebytes.go
	sendBytesTotal    int64
	recvHWM           int
	linger            time.Duration
	reconnectIvl      time.Duration
	reconnectIvlMax   time.Duration
	handshakeIvl      time.Duration
	maxMsgSize        int64
	truncateOver      int64
	routerMandatory   bool
	tcpKeepAlive      int // -1 OS default, 0 off, 1 on
	tcpKeepAliveIdle  time.Duration
	tcpKeepAliveIntvl time.Duration
	tcpKeepAliveCount int
	logger            *slog.Logger
	sec               secOptions // security.go
	heartbeatIvl      time.Duration
	heartbeatTimeout  time.Duration // 0: the interval
	heartbeatTTL      time.Duration
	immediate         bool
	conflate          bool
	routerHandover    bool
	probeRouter       bool
	xpubVerbose       bool
	xpubVerboser      bool
	xpubNoDrop        bool
	xpubManual        bool
	xpubWelcome       []byte
	handler           func(Msg) // handler.go
	borrowFrames      bool      // WithBorrowedFrames (handler.go)
}

func defaultOptions() options {
	return options{
		sendHWM:      1000,
		recvHWM:      1000,
		linger:       DefaultLinger,
		reconnectIvl: 100 * time.Millisecond,
		handshakeIvl: 30 * time.Second,
		tcpKeepAlive: -1,
		logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithRoutingID sets the identity this socket announces to its peers
// (ZMQ_ROUTING_ID). A ROUTER peer uses it as our routing id instead of
// generating one. It must be 1 to 255 bytes and must not start with a zero
// byte, which libzmq reserves for generated ids.
func WithRoutingID(id []byte) Option {
	return func(o *options) error {
		if len(id) == 0 || len(id) > 255 || id[0] == 0 {
			return fmt.Errorf("%w: routing id must be 1-255 bytes and not start with 0x00", ErrInvalidOption)
		}
		o.routingID = append([]byte(nil), id...)
		return nil
	}
}

// WithSendHWM sets the send high-water mark (ZMQ_SNDHWM): the most messages
// queued for one peer. Default 1000; 0 means no limit. What happens at the
// mark depends on the type: PUB drops, PUSH/DEALER/PAIR/REQ block, ROUTER drops
// (or blocks under RouterMandatory).
func WithSendHWM(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("%w: send HWM %d < 0", ErrInvalidOption, n)
		}
		o.sendHWM = n
		return nil
	}
}

// WithRecvHWM sets the receive high-water mark (ZMQ_RCVHWM): the most
// messages received and not yet taken by Recv. Default 1000; 0 means no
// limit. At the mark the socket stops reading from its peers, so TCP flow
// control pushes back on the senders.
func WithRecvHWM(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("%w: receive HWM %d < 0", ErrInvalidOption, n)
		}
		o.recvHWM = n
		return nil
	}
}

// WithLinger sets how long Close waits at most for queued outgoing messages
// to be written (ZMQ_LINGER). Default DefaultLinger (30 s; libzmq's is to
// wait for ever). Negative waits without a time limit; 0 discards them at
// once. Whatever the linger, Close waits only while a queue can be written
// (its peer is connected or being connected to): see Close, and Shutdown
// for waiting through reconnections.
func WithLinger(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			d = -1
		}
		o.linger = d
		return nil
	}
}

// WithReconnectInterval sets the wait before reconnecting a connected
// endpoint (ZMQ_RECONNECT_IVL). Default 100 ms. Negative disables reconnection.
func WithReconnectInterval(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			d = -1
		}
		o.reconnectIvl = d
		return nil
	}
}

// WithReconnectIntervalMax enables exponential backoff (ZMQ_RECONNECT_IVL_MAX):
// the wait doubles after each failed attempt up to this maximum. Default 0,
// no backoff.
func WithReconnectIntervalMax(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: reconnect interval max %v < 0", ErrInvalidOption, d)
		}
		o.reconnectIvlMax = d
		return nil
	}
}

// WithHandshakeInterval bounds the ZMTP handshake (ZMQ_HANDSHAKE_IVL).
// Default 30 s; 0 means no limit.
func WithHandshakeInterval(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: handshake interval %v < 0", ErrInvalidOption, d)
		}
		o.handshakeIvl = d
		return nil
	}
}

// WithMaxMsgSize sets the largest message accepted from a peer, all frames
// together (ZMQ_MAXMSGSIZE). A peer that sends more is disconnected. Send
// refuses larger messages with ErrMsgTooLarge too.
//
// Default 0, no limit, as libzmq: a limit by default would break peers
// that legitimately send large messages, and a frame header that lies
// costs only what the peer really sends. A frame too large for the 64 KiB
// read buffer is read into chunks that grow with the bytes received (at
// most an eighth more, at least 1 MiB, is allocated ahead), joined into
// one buffer once complete (so a complete frame briefly takes twice its
// size), and given back to the operating system at once if its connection
// ends first (64 MiB and more). A server that accepts connections from
// peers it does not trust should still set a limit (and see
// WithTruncateOver): without one a peer may send as much as it likes.
func WithMaxMsgSize(n int64) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("%w: max message size %d < 0", ErrInvalidOption, n)
		}
		o.maxMsgSize = n
		return nil
	}
}

// WithTruncateOver lets a server answer messages that are too large
// without keeping them: a received message whose frames add up to more than
// n bytes is read and thrown away as it arrives, and Recv returns it with
// Msg.Truncated set to its size and no body frames (a ROUTER still gets the
// routing id, REQ and REP the envelope, so the application can reply; SUB
// and XSUB drop it, having no topic to match). Default 0: off.
//
// Memory: over tcp and ipc a frame too large for the 64 KiB read buffer is
// read through that buffer and never held, so an oversized message costs the
// read buffer, not its size (frames kept before the limit was crossed are
// released at once). Under CURVE each frame must be whole to be decrypted,
// so the largest frame is held (bound it with WithMaxMsgSize). Over inproc
// the message is already in memory (the sender's); it is replaced by its
// truncated form on delivery. WithMaxMsgSize still applies: a peer sending
// more than that is disconnected.
func WithTruncateOver(n int64) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("%w: truncate size %d < 0", ErrInvalidOption, n)
		}
		o.truncateOver = n
		return nil
	}
}

// WithRouterMandatory makes a ROUTER report unroutable messages
// (ZMQ_ROUTER_MANDATORY): Send returns ErrHostUnreachable for an unknown
// routing id and blocks, instead of dropping, when that peer's queue is full.
func WithRouterMandatory(on bool) Option {
	return func(o *options) error {
		o.routerMandatory = on
		return nil
	}
}

// WithTCPKeepAlive turns TCP keepalive on or off for tcp connections
// (ZMQ_TCP_KEEPALIVE, _IDLE, _INTVL, _CNT). Zero durations or count leave the
// operating system's values.
func WithTCPKeepAlive(on bool, idle, interval time.Duration, count int) Option {
	return func(o *options) error {
		if idle < 0 || interval < 0 || count < 0 {
			return fmt.Errorf("%w: negative TCP keepalive setting", ErrInvalidOption)
		}
		if on {
			o.tcpKeepAlive = 1
		} else {
			o.tcpKeepAlive = 0
		}
		o.tcpKeepAliveIdle, o.tcpKeepAliveIntvl, o.tcpKeepAliveCount = idle, interval, count
		return nil
	}
}

// WithLogger sets where the socket logs connection events and dropped peers
// (at Debug and Warn). Default: silent.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l != nil {
			o.logger = l
		}
		return nil
	}
}

// WithHeartbeatInterval makes the socket send a ZMTP PING to each peer every
// d (ZMQ_HEARTBEAT_IVL). Default 0: no PINGs (PINGs from peers are always
// answered). A peer that sends nothing at all within the heartbeat timeout
// after a PING is disconnected.
func WithHeartbeatInterval(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: heartbeat interval %v < 0", ErrInvalidOption, d)
		}
		o.heartbeatIvl = d
		return nil
	}
}

// WithHeartbeatTimeout sets how long after a PING the socket waits for any
// traffic from the peer before dropping it (ZMQ_HEARTBEAT_TIMEOUT). Default:
// the heartbeat interval.
func WithHeartbeatTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: heartbeat timeout %v < 0", ErrInvalidOption, d)
		}
		o.heartbeatTimeout = d
		return nil
	}
}

// WithHeartbeatTTL sets the time-to-live carried in our PINGs
// (ZMQ_HEARTBEAT_TTL): a peer that hears nothing from us for that long after
// a PING drops the connection. It is sent in tenths of a second, at most
// 6553.5 s. Default 0: no TTL.
func WithHeartbeatTTL(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 || d > 6553500*time.Millisecond {
			return fmt.Errorf("%w: heartbeat TTL %v out of range 0..6553.5s", ErrInvalidOption, d)
		}
		o.heartbeatTTL = d
		return nil
	}
}

// WithImmediate queues messages only for peers whose connection is up
// (ZMQ_IMMEDIATE). By default a connected endpoint's queue exists from
// Connect on, so messages wait for a peer that is not there yet; with
// Immediate, PUSH, DEALER and REQ send only to live peers (and block when
// there are none), and a broken connection's queue is dropped.
func WithImmediate(on bool) Option {
	return func(o *options) error {
		o.immediate = on
		return nil
	}
}

// WithConflate keeps only the newest message in each queue (ZMQ_CONFLATE):
// a new message replaces one not yet sent or not yet received. Useful for
// state updates where only the latest matters. Multipart messages are not
// supported with it (as libzmq), and the high-water marks do not apply.
func WithConflate(on bool) Option {
	return func(o *options) error {
		o.conflate = on
		return nil
	}
}

// WithRouterHandover lets a new connection that announces a routing id
// already in use take it over (ZMQ_ROUTER_HANDOVER): the old connection is
// closed. By default the newcomer is refused (ErrRoutingID). Whatever this
// option, an announced id starting with 0x00 is refused: those are the ids
// a ROUTER generates for peers that announce none, and a peer announcing
// one could otherwise take the id the next anonymous peer gets.
func WithRouterHandover(on bool) Option {
	return func(o *options) error {
		o.routerHandover = on
		return nil
	}
}

// WithProbeRouter makes the socket send an empty message to each new peer as
// soon as the connection is made (ZMQ_PROBE_ROUTER), so a ROUTER learns of
// it before it has anything to say. For ROUTER, DEALER and REQ.
func WithProbeRouter(on bool) Option {
	return func(o *options) error {
		o.probeRouter = on
		return nil
	}
}

// WithXPubVerbose passes every subscription message to the XPUB
// application, not only those for topics no peer had before
// (ZMQ_XPUB_VERBOSE).
func WithXPubVerbose(on bool) Option {
	return func(o *options) error {
		o.xpubVerbose = on
		return nil
	}
}

// WithXPubVerboser passes every subscription and every unsubscription
// message to the XPUB application (ZMQ_XPUB_VERBOSER).
func WithXPubVerboser(on bool) Option {
	return func(o *options) error {
		o.xpubVerbose, o.xpubVerboser = on, on
		return nil
	}
}

// WithXPubNoDrop makes XPUB and PUB wait, instead of dropping, when a
// matching subscriber's queue is full (ZMQ_XPUB_NODROP): Send blocks until
// every matching subscriber has room, ctx is done or the socket closes.
func WithXPubNoDrop(on bool) Option {
	return func(o *options) error {
		o.xpubNoDrop = on
		return nil
	}
}

// WithXPubManual hands subscriptions to the XPUB application without
// applying them (ZMQ_XPUB_MANUAL): the application decides, and calls
// Subscribe or Unsubscribe on the XPUB socket to apply a topic to the peer
// whose subscription message it received last.
func WithXPubManual(on bool) Option {
	return func(o *options) error {
		o.xpubManual = on
		return nil
	}
}

// WithXPubWelcomeMessage makes XPUB send msg to each new subscriber as soon
// as it connects (ZMQ_XPUB_WELCOME_MSG); the subscriber receives it if it
// subscribed to a matching prefix.
func WithXPubWelcomeMessage(msg []byte) Option {
	return func(o *options) error {
		o.xpubWelcome = append([]byte(nil), msg...)
		return nil
	}
}
