package zmq

import "strings"

// Msg is a multipart message: one or more frames delivered all together or
// not at all.
type Msg struct {
	Frames [][]byte

	// Truncated is not zero for a received message whose size (all frames
	// but a ROUTER's routing id) exceeded WithTruncateOver: it is that
	// size. Its frames were read and thrown away; Frames holds only what
	// a reply needs: the routing id on ROUTER, the envelope on REQ and REP.
	Truncated int64

	meta  *msgMeta // the connection it arrived on (security.go), nil if none
	rx    *rxBuf   // buffers behind its large received frames (Release)
	rxGen uint64   // rx's generation when handed out
}

// Release gives the buffers behind m's large received frames (those that
// do not fit the 64 KiB read buffer: 64 KiB and more, up to 1 MiB) back to zmqgo, which fills them again
// on later receives, sparing the allocation and garbage collection of a
// fresh buffer per message. Call it only
// once nothing refers to m's frames any more, since their bytes will be
// overwritten. Calling it is optional (unreleased buffers are garbage
// collected as usual); calling it twice, on a copy of m, or on a message
// that was not received is harmless. (AllocMsg messages go back by
// themselves once sent; Release ignores them.)
func (m Msg) Release() {
	if m.rx != nil && m.rx.auto.Load() {
		return
	}
	m.rx.release(m.rxGen)
}

// NewMsg returns a message with the given frames (not copied).
func NewMsg(frames ...[]byte) Msg { return Msg{Frames: frames} }

// NewMsgString returns a message whose frames are the given strings.
func NewMsgString(frames ...string) Msg {
	m := Msg{Frames: make([][]byte, len(frames))}
	for i, f := range frames {
		m.Frames[i] = []byte(f)
	}
	return m
}

// Size is the total number of bytes in the message's frames.
func (m Msg) Size() int {
	n := 0
	for _, f := range m.Frames {
		n += len(f)
	}
	return n
}

// String returns the frames as strings joined by a tab, for logs and tests.
func (m Msg) String() string {
	parts := make([]string, len(m.Frames))
	for i, f := range m.Frames {
		parts[i] = string(f)
	}
	return strings.Join(parts, "\t")
}

// Clone returns a deep copy of the message.
func (m Msg) Clone() Msg {
	c := Msg{Frames: make([][]byte, len(m.Frames))}
	for i, f := range m.Frames {
		c.Frames[i] = append([]byte(nil), f...)
	}
	return c
}

// AllocMsg returns a one-frame message of n bytes (contents undefined) for
// the application to fill and send. For 32 KiB to 1 MiB the frame comes
// from the pool that received messages use, and goes back to it by itself
// once Send has written it to every peer it went to (or dropped it), so a
// sender of large messages makes no garbage: its memory stays near what its
// queues hold. Send such a message once: after a successful Send its frame
// may already hold another message (if Send fails, the message is still
// yours to send again). Over inproc the frame passes to the receiver and
// leaves the pool.
func AllocMsg(n int) Msg {
	var h *rxBuf
	if n >= 1<<rxMinShift {
		h = getRxBuf(n)
	}
	if h == nil {
		return Msg{Frames: [][]byte{make([]byte, n)}}
	}
	h.refs.Store(0)
	h.auto.Store(true)
	h.frames[0] = h.b[:n:n]
	return Msg{Frames: h.frames[:], rx: h, rxGen: h.gen.Load()}
}
