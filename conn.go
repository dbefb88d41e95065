package zmq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zmqgo/zmq/internal/transport"
	"github.com/zmqgo/zmq/internal/zmtp"
)

// conn is one live ZMTP connection attached to a pipe. It runs a reader (in
// the goroutine that serves the connection) and a writer goroutine.
type conn struct {
	s       *Socket
	nc      net.Conn // nil for inproc
	p       *pipe
	fr      *zmtp.Reader
	quit    chan struct{} // closed when the connection is being torn down
	once    sync.Once
	closeFn func()          // inproc: ends the link (both sides share quit)
	sec     *secConn        // CURVE: data-phase encryption (security.go); nil otherwise
	rd      readState       // the message being read; see readMessage
	fw      *frameWriter    // owned by whoever owns the wire (outQueue.wireOwner)
	rc      syscall.RawConn // REQ/REP: non-blocking writes from the sender; nil: writer goroutine only
	iw      inlineWriter    // writes to rc; owned by whoever owns the wire, as fw
	bt      *baton          // REQ/REP over tcp and ipc: receivers may read themselves (reqrep.go)
	meta    *msgMeta        // what received messages tell about the peer (security.go)

	// Heartbeats: any frame received counts as life.
	wg     *sync.WaitGroup // the connection's goroutines
	rx     atomic.Uint64   // frames received
	hbOnce sync.Once
	ttlCh  chan time.Duration    // TTLs announced in the peer's PINGs
	hbErr  atomic.Pointer[error] // why the heartbeat closed the connection
}

var (
	errHeartbeatTimeout = errors.New("zmq: heartbeat timeout: peer silent after PING")
	errHeartbeatTTL     = errors.New("zmq: heartbeat TTL expired: peer silent for the TTL it announced")
)

// startHeartbeat starts the connection's heartbeat goroutine once: at
// connect when we send PINGs, or when the peer's first PING with a TTL
// arrives.
func (c *conn) startHeartbeat() {
	c.hbOnce.Do(func() {
		c.ttlCh = make(chan time.Duration, 1)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.heartbeatLoop()
		}()
	})
}

// heartbeatLoop sends PINGs every interval and drops the peer when nothing
// at all arrives within the timeout after a PING (libzmq's
// ZMQ_HEARTBEAT_IVL/TIMEOUT), or within the TTL the peer put in its own PING
// (ZMQ_HEARTBEAT_TTL on the peer's side).
func (c *conn) heartbeatLoop() {
	o := &c.s.opts
	var tick <-chan time.Time
	if o.heartbeatIvl > 0 {
		t := time.NewTicker(o.heartbeatIvl)
		defer t.Stop()
		tick = t.C
	}
	timeout := o.heartbeatTimeout
	if timeout == 0 {
		timeout = o.heartbeatIvl
	}
	ttl := uint16(o.heartbeatTTL / (100 * time.Millisecond))
	ping := ctlCmd{kind: ctlPing, ttl: ttl}
	toTimer := time.NewTimer(time.Hour)
	toTimer.Stop()
	ttlTimer := time.NewTimer(time.Hour)
	ttlTimer.Stop()
	defer toTimer.Stop()
	defer ttlTimer.Stop()
	var waiting bool // a PING is out and its timeout runs
	var pingRx, ttlRx uint64
	fail := func(err error) {
		c.hbErr.Store(&err)
		c.close()
	}
	for {
		select {
		case <-c.quit:
			return
		case <-tick:
			c.p.out.pushCtl(ping)
			if !waiting {
				waiting, pingRx = true, c.rx.Load()
				toTimer.Reset(timeout)
			}
		case <-toTimer.C:
			waiting = false
			if c.rx.Load() == pingRx {
				fail(errHeartbeatTimeout)
				return
			}
		case d := <-c.ttlCh:
			ttlRx = c.rx.Load()
			ttlTimer.Reset(d)
		case <-ttlTimer.C:
			if c.rx.Load() == ttlRx {
				fail(errHeartbeatTTL)
				return
			}
		}
	}
}

func (c *conn) close() {
	if c.closeFn != nil {
		c.closeFn()
		return
	}
	c.once.Do(func() {
		close(c.quit)
		c.nc.Close()
	})
}

type peerInfo struct {
	minor    byte
	typ      string
	identity []byte
	sec      *secConn // security.go
	meta     *msgMeta
}

// handshake runs the greeting and the security mechanism (NULL, PLAIN or
// CURVE; see security.go). The greeting goes out
// in libzmq's pieces (signature; major; rest), each sent before waiting for
// the peer's matching piece, so neither side waits for the other's 64 bytes.
func (s *Socket) handshake(nc net.Conn) (*zmtp.Reader, peerInfo, error) {
	var pi peerInfo
	if d := s.opts.handshakeIvl; d > 0 {
		nc.SetDeadline(time.Now().Add(d))
		defer nc.SetDeadline(time.Time{})
	}
	sig := zmtp.Signature()
	if _, err := nc.Write(sig[:]); err != nil {
		return nil, pi, err
	}
	var in [zmtp.GreetingSize]byte
	// A ZMTP 1.0 peer sends only its identity frame (2 bytes if empty) and
	// waits: judge it by its first two bytes, not after 10 (libzmq judges
	// by the first; the second tells ZMTP 1.0 from HTTP or noise).
	if _, err := io.ReadFull(nc, in[:1]); err != nil {
		return nil, pi, err
	}
	if in[0] != 0xff {
		if _, err := io.ReadFull(nc, in[1:2]); err != nil {
			return nil, pi, fmt.Errorf("%w: first byte %q, then %v", zmtp.ErrNotZMTP, in[:1], err)
		}
		return nil, pi, zmtp.CheckOld(in[0], in[1])
	}
	if _, err := io.ReadFull(nc, in[1:zmtp.SignatureSize]); err != nil {
		return nil, pi, err
	}
	if err := zmtp.CheckSignature(in[:]); err != nil {
		return nil, pi, err
	}
	if _, err := nc.Write([]byte{zmtp.MajorVersion}); err != nil {
		return nil, pi, err
	}
	if _, err := io.ReadFull(nc, in[zmtp.SignatureSize:zmtp.SignatureSize+1]); err != nil {
		return nil, pi, err
	}
	if err := zmtp.CheckMajor(in[zmtp.SignatureSize]); err != nil {
		return nil, pi, err
	}
	mechName := s.opts.sec.mechanism()
	rest := zmtp.AppendRest(make([]byte, 0, zmtp.RestSize), mechName, s.opts.sec.server)
	if _, err := nc.Write(rest); err != nil {
		return nil, pi, err
	}
	if _, err := io.ReadFull(nc, in[zmtp.SignatureSize+1:]); err != nil {
		return nil, pi, err
	}
	g, err := zmtp.ParseRest(in[zmtp.SignatureSize], in[zmtp.SignatureSize+1:])
	if err != nil {
		return nil, pi, err
	}
	if g.Mechanism != mechName {
		return nil, pi, fmt.Errorf("%w: peer uses %s, we use %s", errMechanism, g.Mechanism, mechName)
	}
	pi.minor = g.Minor
	// Our major is 3, so a 3.x peer talks 3.x with us; minor 0 is ZMTP 3.0.
	if g.Major > zmtp.MajorVersion {
		pi.minor = zmtp.MinorVersion
	}

	md := zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte(s.typ.String())}}
	if zmtp.SendsIdentity(s.typ.String()) {
		md = append(md, zmtp.Property{Name: zmtp.PropIdentity, Value: s.opts.routingID})
	}
	mech := s.newMechanism(md)
	// From here on the connection is read through connReader: raw reads on
	// Linux (sysio_linux.go).
	fr := zmtp.NewReader(connReader(nc), 0, nil)
	fr.Max = 64 << 10 // handshake commands are small
	verdict, err := s.runMechanism(nc, fr, mech)
	if err != nil {
		return nil, pi, err
	}
	fr.Max = s.opts.maxMsgSize
	if codec, ok := mech.(zmtp.MessageCodec); ok {
		pi.sec = &secConn{codec: codec}
		if fr.Max > 0 {
			fr.Max += int64(codec.Overhead())
		}
	}
	pmd := mech.PeerMetadata()
	pi.meta = newMsgMeta(nc, pmd, verdict)
	st, _ := pmd.Get(zmtp.PropSocketType)
	pi.typ = string(st)
	if !zmtp.Compatible(s.typ.String(), pi.typ) {
		// libzmq closes silently here; we say why in the log.
		return nil, pi, fmt.Errorf("%w: %s cannot talk to %q", ErrIncompatiblePeer, s.typ, pi.typ)
	}
	pi.identity, _ = pmd.Get(zmtp.PropIdentity)
	return fr, pi, nil
}

// slab hands out small pieces of larger allocations, so a received message
// costs far less than one allocation per frame. A piece keeps its whole
// chunk alive, so only small frames are carved.
type slab struct {
	bytes  []byte
	frames [][]byte
}

const (
	slabBytes     = 32 << 10
	slabMaxPiece  = 512
	slabFrameRefs = 256
)

func (sl *slab) copyBytes(b []byte) []byte {
	if len(b) > slabMaxPiece {
		return append([]byte(nil), b...)
	}
	if len(b) == 0 {
		return []byte{}
	}
	if cap(sl.bytes)-len(sl.bytes) < len(b) {
		// Chunks grow from 1 KiB: a connection that carries little holds
		// little, a busy one soon carves from full-size chunks.
		sl.bytes = make([]byte, 0, min(slabBytes, max(2*cap(sl.bytes), 1<<10)))
	}
	n := len(sl.bytes)
	sl.bytes = append(sl.bytes, b...)
	return sl.bytes[n : n+len(b) : n+len(b)]
}

func (sl *slab) frameSlice(n int) [][]byte {
	if n > 8 {
		return make([][]byte, n)
	}
	if cap(sl.frames)-len(sl.frames) < n {
		sl.frames = make([][]byte, 0, min(slabFrameRefs, max(2*cap(sl.frames), 16)))
	}
	k := len(sl.frames)
	sl.frames = sl.frames[:k+n]
	return sl.frames[k : k+n : k+n]
}

// readState is the message being assembled, kept in the conn because
// whoever holds the read baton (reqrep.go) reads: the readLoop goroutine
// or, for REQ and REP, a receiver itself.
type readState struct {
	sl      slab
	cur     [][]byte
	total   int64
	rx      []*rxBuf // pooled buffers of the message being read
	trunc   bool     // over WithTruncateOver: frames are dropped as they come
	skipped int64    // size of the frame the Reader just skipped (zmtp.Reader.Skip)
	borrow  bool     // WithBorrowedFrames: this message's frames may stay in the read buffer
	list    [][]byte // WithBorrowedFrames: the frame list handed to the handler, reused
}

// readMessage reads frames until a whole message is in, answering PINGs and
// applying subscriptions on the way. After a read error it may be called
// again and goes on where it stopped (a deadline interrupts it; see reqrep.go).
func (c *conn) readMessage() (Msg, error) {
	s, st := c.s, &c.rd
	if c.fr.Alloc == nil {
		c.fr.Alloc = func(n int) []byte {
			h := getRxBuf(n)
			if h == nil {
				return make([]byte, n)
			}
			st.rx = append(st.rx, h)
			return h.b
		}
		if lim := s.opts.truncateOver; lim > 0 && c.sec == nil {
			// Under CURVE a frame must be whole to be decrypted (and its
			// MORE flag is inside), so only plain frames are skipped.
			c.fr.Skip = func(_ byte, size int64) bool {
				if st.trunc || st.total+size > lim {
					st.skipped = size
					return true
				}
				return false
			}
		}
	}
	for {
		mark := len(st.rx)
		flags, body, owned, err := c.fr.ReadFrame()
		if err != nil {
			if errors.Is(err, zmtp.ErrFrameTooLarge) { // one frame over MaxMsgSize: the message is too
				err = fmt.Errorf("%w: %w", ErrMsgTooLarge, err)
			}
			return Msg{}, err
		}
		c.rx.Add(1)
		if c.sec != nil { // CURVE: every frame is a MESSAGE (security.go)
			if flags, body, err = c.openFrame(flags, body); err != nil {
				return Msg{}, err
			}
		}
		if flags&zmtp.FlagCommand != 0 {
			if len(st.cur) > 0 {
				return Msg{}, fmt.Errorf("%w: command inside a multipart message", ErrProtocol)
			}
			if err := c.command(body); err != nil {
				return Msg{}, err
			}
			st.rx = st.rx[:mark] // a command's buffer is not the message's
			continue
		}
		if st.skipped > 0 {
			st.total += st.skipped
			st.skipped = 0
			c.truncate()
		} else {
			st.total += int64(len(body))
		}
		if max := s.opts.maxMsgSize; max > 0 && st.total > max {
			return Msg{}, fmt.Errorf("%w: message over %d bytes", ErrMsgTooLarge, max)
		}
		if lim := s.opts.truncateOver; lim > 0 && !st.trunc && st.total > lim {
			c.truncate()
		}
		if !st.trunc {
			if !owned && !c.borrowed(st, flags) {
				body = st.sl.copyBytes(body)
			}
			st.cur = append(st.cur, body)
		} else {
			c.dropRx()
		}
		if flags&zmtp.FlagMore != 0 {
			continue
		}
		if st.trunc {
			return c.truncated(), nil
		}
		var frames [][]byte
		if s.opts.borrowFrames {
			// The handler returns before the next message is read: one list does.
			n := s.idFrames() + len(st.cur)
			if cap(st.list) < n {
				st.list = make([][]byte, n)
			}
			clear(st.list[n:cap(st.list)]) // no stale references to the frames of a longer message
			frames = s.withRoutingID(c.p, st.cur, st.list[:n:n])
		} else {
			frames = s.withRoutingID(c.p, st.cur, st.sl.frameSlice(s.idFrames()+len(st.cur)))
		}
		clear(st.cur)
		st.cur, st.total, st.borrow = st.cur[:0], 0, false
		m := Msg{Frames: frames, meta: c.meta}
		m.rx, m.rxGen = chainRx(st.rx)
		clear(st.rx)
		st.rx = st.rx[:0]
		return m, nil
	}
}

// borrowed reports whether a frame just read (not owned: in the Reader's
// buffer, decrypted there in place under CURVE) may reach the handler
// without a copy (WithBorrowedFrames). The buffer's bytes move or are
// overwritten only when the Reader fills it (zmtp.Reader.fill, which
// compacts it first), and it fills it only inside ReadFrame: so a frame
// stays valid until the next ReadFrame, which for the last frame of a
// message comes after the handler returned (handlerLoop). An earlier frame
// stays valid only if the rest of the message is already buffered, as then
// reading it fills nothing: that is asked once, at the first frame. Under
// CURVE the MORE flags are inside the ciphertext, so the buffer cannot tell
// where the message ends: only the last frame is borrowed.
func (c *conn) borrowed(st *readState, flags byte) bool {
	if !c.s.opts.borrowFrames {
		return false
	}
	if flags&zmtp.FlagMore == 0 {
		return true
	}
	if len(st.cur) == 0 {
		st.borrow = c.sec == nil && c.fr.MessageBuffered()
	}
	return st.borrow
}

// truncate starts dropping the message being read (WithTruncateOver): the
// frames kept so far go, except a REQ/REP envelope, copied out of pooled
// buffers so those can go back.
func (c *conn) truncate() {
	st := &c.rd
	if st.trunc {
		return
	}
	st.trunc = true
	env := c.s.envelope(st.cur)
	for i := range env {
		env[i] = append([]byte(nil), env[i]...)
	}
	clear(st.cur[len(env):])
	st.cur = st.cur[:len(env)]
	c.dropRx()
}

// dropRx gives the pooled buffers of dropped frames back.
func (c *conn) dropRx() {
	st := &c.rd
	for _, h := range st.rx {
		h.release(h.gen.Load())
	}
	clear(st.rx)
	st.rx = st.rx[:0]
}

// truncated ends a truncated message: the ROUTER routing id and a REQ/REP
// envelope, and the size the message had.
func (c *conn) truncated() Msg {
	st := &c.rd
	m := c.s.truncatedMsg(c.p, st.cur, st.total)
	m.meta = c.meta
	clear(st.cur)
	st.cur, st.total, st.trunc = st.cur[:0], 0, false
	return m
}

// envelope returns the leading frames of frames that REQ and REP need to
// route a reply: up to and including the first empty frame (none if there
// is none yet, or for other types).
func (s *Socket) envelope(frames [][]byte) [][]byte {
	if !s.ops.envelope {
		return nil
	}
	for i, f := range frames {
		if len(f) == 0 {
			return frames[:i+1]
		}
	}
	return nil
}

// truncatedMsg is what Recv gets for a message over WithTruncateOver.
func (s *Socket) truncatedMsg(p *pipe, env [][]byte, size int64) Msg {
	var frames [][]byte
	if n := s.idFrames() + len(env); n > 0 {
		frames = s.withRoutingID(p, env, make([][]byte, n))
	}
	return Msg{Frames: frames, Truncated: size}
}

// readLoop reads messages and hands them to the socket until the
// connection fails; with a read baton (reqrep.go) it reads only while it
// holds it. Where the socket takes batches (Socket.batchable), it reads on
// while the next message is already buffered, never waiting for the
// stream, and hands over up to maxBatch messages at once.
func (c *conn) readLoop() error {
	if c.s.opts.handler != nil {
		return c.handlerLoop()
	}
	var batch []Msg
	batchable := c.bt == nil && c.sec == nil && c.s.batchable()
	for {
		if c.bt != nil {
			if err := c.bt.acquireLoop(c); err != nil {
				return err
			}
		}
		m, err := c.readMessage()
		if err != nil {
			if len(batch) > 0 && !c.s.deliverBatch(c, batch) { // what came before the bad frame
				return nil
			}
			if c.bt != nil && c.bt.loopInterrupted(err) {
				continue
			}
			return err
		}
		if batchable {
			batch = append(batch, m)
			if len(batch) < maxBatch && c.fr.MessageBuffered() {
				continue
			}
			ok := c.s.deliverBatch(c, batch)
			clear(batch)
			batch = batch[:0]
			if !ok {
				return nil
			}
			continue
		}
		if !c.s.deliver(c, m) {
			return nil
		}
	}
}

// command handles a command frame received after the handshake.
func (c *conn) command(body []byte) error {
	name, data, err := zmtp.ParseCommand(body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	switch string(name) {
	case zmtp.CmdPing:
		ttl, ctx, err := zmtp.ParsePing(data)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		if ttl > 0 {
			c.startHeartbeat()
			select {
			case c.ttlCh <- time.Duration(ttl) * 100 * time.Millisecond:
			default:
			}
		}
		// Always answer, even with our heartbeats off: the peer's depend on it.
		c.p.out.pushCtl(ctlCmd{kind: ctlPong, data: bytes.Clone(ctx)})
	case zmtp.CmdPong:
		// Any traffic counts as life; nothing else to do.
	case zmtp.CmdSubscribe:
		c.s.peerSubscribe(c.p, data, true)
	case zmtp.CmdCancel:
		c.s.peerSubscribe(c.p, data, false)
	case zmtp.CmdError:
		reason, _ := zmtp.ParseError(data)
		return fmt.Errorf("%w: peer sent ERROR %q", ErrProtocol, reason)
	default:
		// RFC 37: unknown commands are ignored.
		c.s.opts.logger.Debug("zmq: ignoring unknown command", "command", string(name), "endpoint", c.p.endpoint)
	}
	return nil
}

// frameWriter encodes frames into one buffer and writes many messages per
// system call; bodies of big frames go out from the caller's memory via
// writev instead of being copied.
type frameWriter struct {
	w       io.Writer
	buf     []byte
	iov     net.Buffers
	pending net.Buffers // what flush hands to WriteTo
	mark    int
}

const (
	writeBuffer = 64 << 10
	bigFrame    = 8 << 10
	maxIOV      = 128
)

// The write buffer starts small and grows (up to writeBuffer) with what is
// written between flushes: a server's many quiet connections then cost
// little, a streaming one reaches the full size within a few batches.
const initialWriteBuffer = 1 << 10

func newFrameWriter(w io.Writer) *frameWriter {
	return &frameWriter{w: w}
}

// room makes room for n more bytes in buf, growing it if it is below its
// full size; it reports false if a flush must make the room instead. Slices
// of the old buf already in iov stay valid: they keep their array.
func (fw *frameWriter) room(n int) bool {
	if cap(fw.buf)-len(fw.buf) >= n {
		return true
	}
	if cap(fw.buf) >= writeBuffer {
		return false
	}
	c := max(cap(fw.buf)*2, initialWriteBuffer)
	for c < len(fw.buf)+n {
		c *= 2
	}
	nb := make([]byte, len(fw.buf), min(c, writeBuffer))
	copy(nb, fw.buf)
	fw.buf = nb
	return cap(fw.buf)-len(fw.buf) >= n
}

func (fw *frameWriter) raw(b []byte) error {
	if len(b) >= bigFrame {
		if len(fw.buf) > fw.mark {
			fw.iov = append(fw.iov, fw.buf[fw.mark:])
			fw.mark = len(fw.buf)
		}
		fw.iov = append(fw.iov, b)
		if len(fw.iov) >= maxIOV {
			return fw.flush()
		}
		return nil
	}
	if !fw.room(len(b)) {
		if err := fw.flush(); err != nil {
			return err
		}
	}
	fw.buf = append(fw.buf, b...)
	return nil
}

func (fw *frameWriter) frame(flags byte, body []byte) error {
	if len(body) >= bigFrame {
		if !fw.room(zmtp.MaxHeaderSize) {
			if err := fw.flush(); err != nil {
				return err
			}
		}
		fw.buf = zmtp.AppendFrameHeader(fw.buf, flags, len(body))
		fw.iov = append(fw.iov, fw.buf[fw.mark:], body)
		fw.mark = len(fw.buf)
		if len(fw.iov) >= maxIOV {
			return fw.flush()
		}
		return nil
	}
	if !fw.room(zmtp.MaxHeaderSize + len(body)) {
		if err := fw.flush(); err != nil {
			return err
		}
	}
	fw.buf = zmtp.AppendFrameHeader(fw.buf, flags, len(body))
	fw.buf = append(fw.buf, body...)
	return nil
}

func (fw *frameWriter) flush() error {
	var err error
	if len(fw.iov) == 0 {
		if len(fw.buf) > 0 {
			_, err = fw.w.Write(fw.buf)
		}
	} else {
		if len(fw.buf) > fw.mark {
			fw.iov = append(fw.iov, fw.buf[fw.mark:])
		}
		// WriteTo consumes its receiver; a field of fw (already on the heap)
		// takes it, where a local copy would escape, one allocation a flush.
		fw.pending = fw.iov
		_, err = fw.pending.WriteTo(fw.w)
		fw.pending = nil
		clear(fw.iov[:cap(fw.iov)])
		fw.iov = fw.iov[:0]
	}
	fw.buf, fw.mark = fw.buf[:0], 0
	return err
}

// writeLoop drains the pipe's queue onto the connection until it is told to
// quit or a write fails.
func (c *conn) writeLoop() {
	q := c.p.out
	fw := c.fw
	var batch []Msg // grows to maxBatch only if the queue ever holds that many
	for {
		select {
		case <-q.notify:
		case <-c.quit:
			return
		}
		for {
			msgs, ctl, wasFull, carry := q.take(batch[:0], maxBatch, maxBatchBytes)
			batch = msgs[:0]
			if len(msgs) == 0 && len(ctl) == 0 && !carry {
				break
			}
			if wasFull {
				c.s.wake()
			}
			var err error
			for _, b := range ctl {
				if err = c.writeCtl(fw, b); err != nil { // encrypts under CURVE
					break
				}
			}
			for i := 0; err == nil && i < len(msgs); i++ {
				err = c.writeMsg(fw, msgs[i])
			}
			if err == nil {
				err = fw.flush()
			}
			for i := range msgs {
				msgs[i].sendUnref() // on the wire (or never will be): AllocMsg buffers go back
			}
			clear(msgs)
			if err != nil {
				c.s.opts.logger.Debug("zmq: write failed", "endpoint", c.p.endpoint, "peer", c.nc.RemoteAddr().String(), "err", err)
				c.close()
				return
			}
			q.flushed()
		}
	}
}

// inlineMax bounds the messages a sender writes itself: small enough that
// every frame lands in the frameWriter's buffer (no writev, no flush midway).
const inlineMax = writeBuffer / 2

// inlineOK reports whether m may be written inline on c.
func (c *conn) inlineOK(m Msg) bool {
	if c == nil || c.rc == nil {
		return false
	}
	w, fits := inlineSize(m)
	return fits && w <= inlineMax
}

// inlineSize bounds what m takes on the wire, and reports whether it may be
// written inline at all: no frame big enough for the writer's writev.
func inlineSize(m Msg) (wire int, fits bool) {
	for _, f := range m.Frames {
		if len(f) >= bigFrame {
			return 0, false
		}
		wire += len(f) + zmtp.MaxHeaderSize + zmtp.CurveMessageOverhead
	}
	return wire, true
}

// writeInline writes m from the sender's goroutine, which claimed the idle
// wire (outQueue.pushInline) with epoch: handing it to the writer goroutine
// would wake a second thread, which on small VMs costs as much as the rest
// of a REQ/REP round trip. It never waits for the peer: one non-blocking
// write, and what the socket buffer does not take stays in the frameWriter
// for the writer goroutine, which sends it before anything else.
func (c *conn) writeInline(m Msg, epoch uint64) {
	c.flushInline(epoch, c.writeMsg(c.fw, m))
}

// writeMsg encodes m's frames into fw, sealed under CURVE.
func (c *conn) writeMsg(fw *frameWriter, m Msg) error {
	for j, f := range m.Frames {
		var flags byte
		if j < len(m.Frames)-1 {
			flags = zmtp.FlagMore
		}
		if err := c.writeFrame(fw, flags, f); err != nil {
			return err
		}
	}
	return nil
}

// flushInline ends a write from a goroutine that claimed the wire with
// epoch (writeInline, writeQueued): one non-blocking write of what the
// frameWriter holds, and what the kernel does not take stays there for the
// writer goroutine (carry). err is an encoding error met before: the
// connection is broken, and like messages the writer had taken, what was
// being written is lost.
func (c *conn) flushInline(epoch uint64, err error) {
	q, fw := c.p.out, c.fw
	n := 0
	if err == nil {
		n, err = c.iw.write(c.rc, fw.buf)
	}
	if err != nil {
		fw.buf = fw.buf[:0]
		q.release(epoch, false)
		c.s.opts.logger.Debug("zmq: write failed", "endpoint", c.p.endpoint, "peer", c.nc.RemoteAddr().String(), "err", err)
		c.close()
		return
	}
	rest := copy(fw.buf, fw.buf[n:])
	fw.buf = fw.buf[:rest]
	q.release(epoch, rest > 0)
}

// isDisconnect reports the ordinary ways a peer goes away, which are not
// worth a warning.
func isDisconnect(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// secConn is a connection's data-phase encryption (CURVE).
type secConn struct {
	codec zmtp.MessageCodec
	big   []byte // the writer's buffer for messages larger than its own
}

// writeFrame writes one frame through the connection's encryption, if any.
func (c *conn) writeFrame(fw *frameWriter, flags byte, body []byte) error {
	if c.sec == nil {
		return fw.frame(flags, body)
	}
	return c.sealFrame(fw, flags, body)
}

// writeCtl writes a control command (PONG, SUBSCRIBE, ...) through
// the connection's encryption, if any.
func (c *conn) writeCtl(fw *frameWriter, cmd ctlCmd) error {
	flags, body := cmd.frame(c.p.minor)
	return c.writeFrame(fw, flags, body)
}

// frame encodes cmd as the frame a peer speaking ZMTP 3.minor gets: its
// flags and body (ZMTP 3.0 knows subscriptions only as data messages).
func (cmd ctlCmd) frame(minor byte) (flags byte, body []byte) {
	switch cmd.kind {
	case ctlSubscribe, ctlCancel:
		on := cmd.kind == ctlSubscribe
		if minor == 0 {
			b := make([]byte, 1+len(cmd.data))
			if on {
				b[0] = 1
			}
			copy(b[1:], cmd.data)
			return 0, b
		}
		if on {
			return zmtp.FlagCommand, commandBody(zmtp.CmdSubscribe, nil, cmd.data)
		}
		return zmtp.FlagCommand, commandBody(zmtp.CmdCancel, nil, cmd.data)
	case ctlPing:
		var ttl [2]byte
		binary.BigEndian.PutUint16(ttl[:], cmd.ttl)
		return zmtp.FlagCommand, commandBody(zmtp.CmdPing, ttl[:], cmd.data)
	case ctlPong:
		return zmtp.FlagCommand, commandBody(zmtp.CmdPong, nil, cmd.data)
	}
	return 0, nil // ctlProbe: an empty message
}

// commandBody is a command frame's body: name length, name, data.
func commandBody(name string, data ...[]byte) []byte {
	n := 1 + len(name)
	for _, d := range data {
		n += len(d)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(len(name)))
	b = append(b, name...)
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

// sealFrame encrypts a frame straight into the writer's buffer; one too
// large for it is sealed into a reusable buffer and written at once.
func (c *conn) sealFrame(fw *frameWriter, flags byte, body []byte) error {
	codec := c.sec.codec
	need := zmtp.MaxHeaderSize + codec.Overhead() + len(body)
	// room grows the buffer as frame does: it starts empty, and testing
	// its capacity alone wrote every message in a syscall of its own.
	if !fw.room(need) {
		if err := fw.flush(); err != nil {
			return err
		}
		if !fw.room(need) {
			b, err := codec.AppendMessage(c.sec.big[:0], flags, body)
			if err != nil {
				return err
			}
			if cap(b) <= 4<<20 {
				c.sec.big = b
			} else {
				c.sec.big = nil
			}
			_, err = fw.w.Write(b)
			return err
		}
	}
	var err error
	fw.buf, err = codec.AppendMessage(fw.buf, flags, body)
	return err
}

// openFrame decrypts a received frame, if the connection is encrypted.
func (c *conn) openFrame(flags byte, body []byte) (byte, []byte, error) {
	if c.sec == nil {
		return flags, body, nil
	}
	f, plain, err := c.sec.codec.OpenMessage(body)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return f, plain, nil
}

// serve runs one connection: handshake, attach, read until it fails, detach.
// Exactly one of ln and d is set.
// It returns the handshake's error if the handshake failed.
func (s *Socket) serve(nc net.Conn, ln *listener, d *dialer) (hsErr error) {
	log := s.opts.logger
	var ka transport.KeepAlive
	ka.On, ka.Idle, ka.Interval, ka.Count = s.opts.tcpKeepAlive, s.opts.tcpKeepAliveIdle, s.opts.tcpKeepAliveIntvl, s.opts.tcpKeepAliveCount
	if err := transport.Configure(nc, ka); err != nil {
		log.Debug("zmq: tcp options", "err", err)
	}
	endpoint := ""
	if ln != nil {
		endpoint = ln.resolved
	} else {
		endpoint = d.endpoint
	}
	peer := nc.RemoteAddr().String()
	// Close the connection if the socket or the dialer stops mid-handshake.
	stopHS := make(chan struct{})
	var stopCh chan struct{}
	if d != nil {
		stopCh = d.stop
	}
	go func() {
		select {
		case <-stopHS:
		case <-stopCh:
			nc.Close()
		case <-s.kill:
			nc.Close()
		}
	}()
	fr, pi, err := s.handshake(nc)
	close(stopHS)
	if err != nil {
		lvl, ev := log.Debug, EventHandshakeFailedNoDetail
		if errors.Is(err, zmtp.ErrProtocol) { // zmtp's errors, ErrProtocol, ErrIncompatiblePeer, errMechanism (errors.go)
			lvl, ev = log.Warn, EventHandshakeFailedProtocol
		}
		if errors.Is(err, ErrAuthFailed) { // Event.Err is an *AuthError (security.go)
			lvl, ev = log.Warn, EventHandshakeFailedAuth
		}
		lvl("zmq: handshake failed, dropping peer", "socket", s.typ.String(), "endpoint", endpoint, "peer", peer, "err", err)
		nc.Close()
		s.emit(Event{Type: ev, Endpoint: endpoint, PeerAddr: peer, Err: err})
		s.emit(Event{Type: EventDisconnected, Endpoint: endpoint, PeerAddr: peer, Err: err})
		return err
	}
	var wg sync.WaitGroup
	c := &conn{s: s, nc: nc, fr: fr, quit: make(chan struct{}), wg: &wg, sec: pi.sec, meta: pi.meta}
	c.fw = newFrameWriter(nc)
	if s.ops.direct {
		c.bt = newBaton(nc) // reqrep.go
	}
	if s.ops.direct || s.opts.handler != nil {
		c.rc = rawConn(nc) // conn.writeInline, conn.writeQueued
	}
	if err := s.attachConn(c, ln, d, pi); err != nil {
		log.Warn("zmq: peer refused", "socket", s.typ.String(), "endpoint", endpoint, "peer", peer, "err", err)
		nc.Close()
		s.emit(Event{Type: EventDisconnected, Endpoint: endpoint, PeerAddr: peer, RoutingID: pi.identity, Err: err})
		return
	}
	log.Debug("zmq: peer connected", "socket", s.typ.String(), "endpoint", endpoint, "peer", peer, "peer_type", pi.typ)
	id := pi.identity
	if s.ops.routingIDs {
		id = c.p.id
	}
	// A ZMTP 3.0 peer knows no PING: its silence says nothing, so it is
	// not pinged (nor dropped for not answering).
	hb := s.opts.heartbeatIvl > 0 && pi.minor >= 1
	s.emit(Event{Type: EventHandshakeSucceeded, Endpoint: endpoint, PeerAddr: peer, RoutingID: id, Heartbeats: hb})
	if hb {
		c.startHeartbeat()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	err = c.readLoop()
	c.close()
	wg.Wait()
	s.detachConn(c, ln, d)
	if c.fr.LargePending() >= freeOSOver {
		go freeOSMemory()
	}
	if hb := c.hbErr.Load(); hb != nil {
		err = *hb
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		lvl := log.Warn
		if isDisconnect(err) {
			lvl = log.Debug
		}
		lvl("zmq: peer dropped", "socket", s.typ.String(), "endpoint", endpoint, "peer", peer, "err", err)
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	s.emit(Event{Type: EventDisconnected, Endpoint: endpoint, PeerAddr: peer, RoutingID: id, Err: err})
	return nil
}
