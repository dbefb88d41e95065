// Handlers (WithHandler): received messages handled on the goroutine that
// read them, and the replies they send written when the handler returns.
package zmq

import (
	"context"
	"fmt"
)

// WithHandler makes the socket pass each message it receives to fn, on the
// goroutine that read it from the connection, instead of queueing it for
// Recv (which then returns ErrNotSupported). It is for servers that answer
// many peers: handing every message from the connection's reader to a
// receiving goroutine costs a wake-up of another thread, often more CPU
// than the handling itself.
//
// fn runs for one connection's messages one at a time and in order, but
// for different connections at the same time: it must synchronise what it
// shares. While fn runs the connection is not read, so a slow fn holds up
// its peer (TCP flow control), never the others, and its PINGs go
// unanswered: a call longer than the peer's heartbeat timeout gets the
// connection dropped (hand slow work to another goroutine). fn must not
// block on the socket itself (a Send that waits for room, Close). Close
// waits for the calls running, and none starts after it returns: what
// arrives meanwhile is dropped, as a closed socket's queue would be.
//
// Messages that handlers send with TrySend on this socket are written when
// the handler returns, together, on the handler's goroutine: many replies
// per system call, and no wake-up of the connections' writers, unless the
// kernel's socket buffer is full. A TrySend from another goroutine while a
// handler runs waits for that handler's return as well. Send, which may
// wait, always wakes the writer at once.
//
// ROUTER messages carry the routing id in front, as from Recv; a message
// cut by WithTruncateOver arrives with Msg.Truncated set. The socket types
// that queue what they receive take a handler: PAIR, SUB, XSUB, PULL,
// DEALER and ROUTER.
//
// fn may keep m and its frames: they are its own, unless the socket has
// WithBorrowedFrames, whose frames are valid only until fn returns.
func WithHandler(fn func(m Msg)) Option {
	return func(o *options) error {
		if fn == nil {
			return fmt.Errorf("%w: nil handler", ErrInvalidOption)
		}
		o.handler = fn
		return nil
	}
}

// WithBorrowedFrames lets a socket with WithHandler pass its handler
// messages whose frames may lie in the connection's read buffer, instead
// of copies: for a server of many small requests those copies are most of
// the bytes it allocates per message, and so of its garbage collection.
//
// The message's frames and its Frames list are then valid ONLY UNTIL THE
// HANDLER RETURNS: the next message read from the connection overwrites
// them. The handler must copy whatever it keeps, hands to another
// goroutine, or sends (Msg.Clone, bytes.Clone, append): TrySend or Send of
// a received frame queues a reference to it, and what is written later
// would be another message's bytes. Views into a frame (a json.RawMessage,
// a string made with unsafe) are the frame too; string(frame) is a copy.
//
// Which frames are borrowed: the last frame of a message always (unless
// it is too large for the 64 KiB read buffer: such a frame is read into
// its own memory and stays the message's, for Msg.Release, as without the
// option), the earlier frames of a multipart message when it was in the
// read buffer whole once its first frame was read (under CURVE never, the
// last frame only). The others are copies, but do not count on which:
// treat every frame as borrowed. A ROUTER's routing id frame is the
// socket's own and stays valid. Over inproc the option changes nothing:
// the handler gets the frames the sender sent, which it must not modify.
//
// NewSocket refuses the option (ErrInvalidOption) without WithHandler: a
// message queued for Recv outlives any read.
func WithBorrowedFrames() Option {
	return func(o *options) error {
		o.borrowFrames = true
		return nil
	}
}

// handlerOK reports whether t takes a handler: its received messages are
// queued for Recv as they come (or as subscriptions match them), with no
// per-message state (REQ, REP) or subscription reading (PUB, XPUB).
func handlerOK(t Type) bool {
	switch t {
	case Pair, Sub, XSub, Pull, Dealer, Router:
		return true
	}
	return false
}

// handlerLoop is readLoop for a socket with a handler: each message goes
// to the handler as it is read, and the wake-ups of the writers that the
// handler's TrySends need wait while the next message is already buffered,
// so that a read's worth of requests is answered in a write per peer.
func (c *conn) handlerLoop() error {
	s := c.s
	corked, run := false, 0
	for {
		m, err := c.readMessage()
		if err != nil {
			if corked {
				s.uncork()
			}
			return err
		}
		if !corked {
			if !s.beginHandler() {
				continue // Close stopped the handlers: what is left is dropped
			}
			corked = true
		}
		if !s.ops.filtered || len(m.Frames) > 0 && s.subscribed(m.Frames[0]) { // a truncated message has no topic
			s.opts.handler(m)
		}
		// The next read may wait: never with the writers asleep. Nor past
		// maxBatch messages: the replies to a read of thousands of small
		// requests would fill the send queues (the high-water mark) before
		// any writer ran.
		if run++; run >= maxBatch || !c.fr.MessageBuffered() {
			s.uncork()
			corked, run = false, 0
		}
	}
}

// handle passes m to the handler. Handlers running are counted, so that
// TrySends on the socket meanwhile leave their writers' wake-up to the
// handler's end (wakeWriter), which writes them all. inproc calls it on
// the sending socket's goroutine, which this socket's Close does not wait
// for: beginHandler keeps the calls from starting once Close is done with
// them (stopHandlers).
func (s *Socket) handle(m Msg) {
	if !s.beginHandler() {
		return // closed: dropped, as a closed socket's queue would
	}
	s.opts.handler(m)
	s.uncork()
}

// handleBatch is handle for several messages from one connection.
func (s *Socket) handleBatch(msgs []Msg) {
	if !s.beginHandler() {
		return
	}
	for _, m := range msgs {
		s.opts.handler(m)
	}
	s.uncork()
}

// beginHandler counts a handler call starting, unless Close stopped them.
func (s *Socket) beginHandler() bool {
	s.corkMu.Lock()
	if s.handlersOff {
		s.corkMu.Unlock()
		return false
	}
	s.corked++
	s.corkMu.Unlock()
	return true
}

// stopHandlers ends the handler calls for Close: none starts after it, and
// it waits for those running.
func (s *Socket) stopHandlers() {
	if s.opts.handler == nil {
		return
	}
	s.corkMu.Lock()
	s.handlersOff = true
	var idle chan struct{}
	if s.corked > 0 {
		idle = make(chan struct{})
		s.handlersIdle = idle
	}
	s.corkMu.Unlock()
	if idle != nil {
		<-idle
	}
}

// dirtyPipe is a pipe whose writer a TrySend left asleep, and its
// connection (read under s.mu when flushed).
type dirtyPipe struct {
	p *pipe
	c *conn
}

// wakeWriter wakes p's writer after a push to its empty queue; a TrySend
// (ctx is tryCtx) while a handler runs leaves it to the handler's end
// instead.
func (s *Socket) wakeWriter(ctx context.Context, p *pipe) {
	if s.opts.handler != nil {
		if _, try := ctx.(tryCtx); try {
			s.corkMu.Lock()
			if s.corked > 0 {
				s.dirty = append(s.dirty, dirtyPipe{p: p})
				s.corkMu.Unlock()
				return
			}
			s.corkMu.Unlock()
		}
	}
	signal(p.out.notify)
}

// uncork ends a handler call: whatever TrySends left unwritten meanwhile
// (its own, and those of handlers still running, which may add more for
// their own end) is written now. Every handler's end flushes, not only the
// last one's: under steady load some handler is always running.
func (s *Socket) uncork() {
	s.corkMu.Lock()
	s.corked--
	if s.corked == 0 && s.handlersIdle != nil {
		close(s.handlersIdle) // Close waits in stopHandlers
		s.handlersIdle = nil
	}
	if len(s.dirty) == 0 {
		s.corkMu.Unlock()
		return
	}
	list := s.dirty
	s.dirty = s.spareDirty
	s.spareDirty = nil
	s.corkMu.Unlock()
	s.mu.Lock()
	for i := range list {
		list[i].c = list[i].p.conn
	}
	s.mu.Unlock()
	for i, d := range list {
		if d.c == nil || d.c.rc == nil || !d.c.writeQueued() {
			signal(d.p.out.notify) // inproc, or the writer's turn: it takes what is queued
		}
		list[i] = dirtyPipe{}
	}
	s.corkMu.Lock()
	if s.spareDirty == nil {
		s.spareDirty = list[:0]
	}
	s.corkMu.Unlock()
}

// writeQueued writes what c's queue holds from this goroutine, in one
// non-blocking write, if the wire is idle; what the kernel does not take,
// and whatever else is queued, is left to the writer goroutine. It reports
// false if it wrote nothing (the writer must be woken).
func (c *conn) writeQueued() bool {
	q := c.p.out
	msgs, epoch, wasFull, ok := q.takeInline(inlineMax)
	if !ok {
		return false
	}
	var err error
	for i := 0; err == nil && i < len(msgs); i++ {
		err = c.writeMsg(c.fw, msgs[i])
	}
	c.flushInline(epoch, err)
	for i := range msgs {
		msgs[i].sendUnref() // in the kernel or the frameWriter: AllocMsg buffers go back
	}
	clear(msgs)
	q.spare(msgs)
	if wasFull {
		c.s.wake()
	}
	return true
}
