package zmq

import (
	"context"
	"strconv"
	"time"
)

// EventType is a socket event kind. The values are libzmq's ZMQ_EVENT_*
// numbers, so tools that expect them can use them as they are.
type EventType uint32

// Event kinds.
const (
	EventConnected               EventType = 0x0001 // a connection to a connected endpoint is up (TCP level)
	EventConnectDelayed          EventType = 0x0002 // a connection attempt is under way
	EventConnectRetried          EventType = 0x0004 // a reconnection is scheduled; Event.Interval says when
	EventListening               EventType = 0x0008 // Bind succeeded
	EventBindFailed              EventType = 0x0010 // Bind failed; Event.Err says why
	EventAccepted                EventType = 0x0020 // a peer connected to a bound endpoint
	EventAcceptFailed            EventType = 0x0040 // accepting a connection failed
	EventClosed                  EventType = 0x0080 // a bound endpoint stopped listening
	EventCloseFailed             EventType = 0x0100 // closing a listener failed
	EventDisconnected            EventType = 0x0200 // a connection ended; Event.Err says why when known
	EventMonitorStopped          EventType = 0x0400 // the last event of a monitor
	EventHandshakeFailedNoDetail EventType = 0x0800 // the handshake failed without a protocol reason (EOF, timeout)
	EventHandshakeSucceeded      EventType = 0x1000 // the ZMTP handshake completed; the peer is usable
	EventHandshakeFailedProtocol EventType = 0x2000 // the peer broke ZMTP, or is incompatible
	EventHandshakeFailedAuth     EventType = 0x4000 // the peer was refused by authentication
)

var eventNames = map[EventType]string{
	EventConnected: "connected", EventConnectDelayed: "connect delayed", EventConnectRetried: "connect retried",
	EventListening: "listening", EventBindFailed: "bind failed", EventAccepted: "accepted",
	EventAcceptFailed: "accept failed", EventClosed: "closed", EventCloseFailed: "close failed",
	EventDisconnected: "disconnected", EventMonitorStopped: "monitor stopped",
	EventHandshakeFailedNoDetail: "handshake failed", EventHandshakeSucceeded: "handshake succeeded",
	EventHandshakeFailedProtocol: "handshake failed (protocol)", EventHandshakeFailedAuth: "handshake failed (auth)",
}

func (t EventType) String() string {
	if n, ok := eventNames[t]; ok {
		return n
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event is something that happened to one of a socket's endpoints or
// connections.
type Event struct {
	Type      EventType
	Time      time.Time
	Endpoint  string        // the endpoint as bound or connected
	PeerAddr  string        // the peer's address, for connection events
	RoutingID []byte        // the peer's routing id (ROUTER) or announced identity, when known
	Interval  time.Duration // EventConnectRetried: the wait before the next attempt
	Err       error         // the reason, for failures and disconnections
	// Heartbeats reports, on EventHandshakeSucceeded, that the socket
	// pings this peer (WithHeartbeatInterval, and the peer speaks ZMTP
	// 3.1): a connection that dies silently is then dropped within the
	// heartbeat interval and timeout.
	Heartbeats bool
	// Dropped counts the events this monitor lost before this one because
	// its reader was slow.
	Dropped uint64
}

// monitorBuffer is how many events a monitor holds for a slow reader before
// it drops and counts them.
const monitorBuffer = 256

type monitor struct {
	ch      chan Event
	dropped uint64
	stop    func() bool
}

type monitors struct {
	mu   mutex[rankMonitors]
	list []*monitor // guarded by mu
	done bool       // guarded by mu
}

// Monitor returns a channel of the socket's events until ctx is done or the
// socket is closed; then it receives EventMonitorStopped and is closed.
// A reader that falls behind never slows the socket: events beyond a buffer
// of 256 are dropped and counted in the next delivered Event's Dropped.
// Any number of monitors may run at once.
func (s *Socket) Monitor(ctx context.Context) <-chan Event {
	m := &monitor{ch: make(chan Event, monitorBuffer+1)}
	s.mons.mu.Lock()
	if s.mons.done {
		s.mons.mu.Unlock()
		m.ch <- Event{Type: EventMonitorStopped, Time: time.Now()}
		close(m.ch)
		return m.ch
	}
	s.mons.list = append(s.mons.list, m)
	s.mons.mu.Unlock()
	m.stop = context.AfterFunc(ctx, func() {
		s.mons.mu.Lock()
		defer s.mons.mu.Unlock()
		for i, x := range s.mons.list {
			if x == m {
				s.mons.list = append(s.mons.list[:i], s.mons.list[i+1:]...)
				m.finish()
				return
			}
		}
	})
	return m.ch
}

// finish delivers the stop event (the buffer keeps one place for it) and
// closes the channel. Called with monitors.mu held.
func (m *monitor) finish() {
	select {
	case m.ch <- Event{Type: EventMonitorStopped, Time: time.Now(), Dropped: m.dropped}:
	default:
	}
	close(m.ch)
}

// emit hands ev to every monitor without ever blocking.
func (s *Socket) emit(ev Event) {
	s.mons.mu.Lock()
	defer s.mons.mu.Unlock()
	if len(s.mons.list) == 0 {
		return
	}
	ev.Time = time.Now()
	for _, m := range s.mons.list {
		if len(m.ch) >= monitorBuffer {
			m.dropped++
			continue
		}
		ev.Dropped = m.dropped
		m.ch <- ev
	}
}

// stopMonitors ends every monitor; called last by Close.
func (s *Socket) stopMonitors() {
	s.mons.mu.Lock()
	defer s.mons.mu.Unlock()
	s.mons.done = true
	for _, m := range s.mons.list {
		m.stop()
		m.finish()
	}
	s.mons.list = nil
}
