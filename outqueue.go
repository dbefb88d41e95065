// The per-peer send queue that a connection's writer drains.
package zmq

// outQueue holds one peer's outgoing messages, bounded by the send
// high-water mark, plus control commands (PONG, SUBSCRIBE, ...) that bypass
// the mark and go out first. One writer goroutine drains it.
//
// mu guards every field but notify and idle (channels) and the constants
// limit and conflate.
type outQueue struct {
	mu       mutex[rankOutQueue]
	ring     []Msg
	head     int
	n        int
	limit    int  // 0: unlimited
	conflate bool // keep only the newest message (ZMQ_CONFLATE)
	ctl      []ctlCmd
	wireOwner
	notify chan struct{} // wakes the writer (cap 1)
	bq     queueBytes    // WithSendHWMBytes (queuebytes.go)
	idle   chan struct{} // signalled when the queue is empty and flushed (cap 1)
	inl    []Msg         // takeInline's batch, kept between flushes
}

// wireOwner says who owns a connection's wire, its frameWriter and its
// socket writes: one goroutine at a time. busy is set for the writer
// goroutine by take (until flushed) or for a REQ/REP sender that writes
// inline by pushInline (until release). carry says an inline write left
// bytes in the frameWriter, which the writer must send first. epoch changes
// when the connection goes (reset), so an inline writer that finishes late
// cannot release an owner that came after it. Guarded by outQueue.mu.
type wireOwner struct {
	busy  bool
	carry bool
	epoch uint64
}

// maxBatchBytes bounds the message data one writer takes from its queue at
// once: enough to fill a write of many small messages, little next to the
// memory the high-water mark already allows.
const maxBatchBytes = 256 << 10

// maxBatch bounds the messages one writer takes at once.
const maxBatch = 256

func newOutQueue(limit int) *outQueue {
	return &outQueue{limit: limit, notify: make(chan struct{}, 1), idle: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push appends m unless the queue is at its limit, and wakes the writer if
// the queue was empty.
func (q *outQueue) push(m Msg) bool {
	ok, wake := q.pushQuiet(m)
	if wake {
		signal(q.notify)
	}
	return ok
}

// pushQuiet is push leaving the wake-up to the caller: wake reports that
// the writer must be told (Socket.wakeWriter).
func (q *outQueue) pushQuiet(m Msg) (ok, wake bool) {
	q.mu.Lock()
	m.sendRef()
	size := int64(m.Size())
	if q.conflate && q.n > 0 {
		i := (q.head + q.n - 1) % len(q.ring)
		old := q.ring[i]
		q.ring[i] = m
		q.bq.unqueue(int64(old.Size()))
		q.bq.queued += size // a conflating queue holds one message: no bound to check
		if q.bq.total != nil {
			q.bq.total.Add(size)
		}
		q.mu.Unlock()
		old.sendUnref()
		return true, false
	}
	if q.limit > 0 && q.n >= q.limit && !q.conflate || !q.bq.admit(size, q.n == 0 && q.bq.flight == 0) {
		q.mu.Unlock()
		m.sendAbandon()
		return false, false
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)%len(q.ring)] = m
	q.n++
	wake = q.n == 1 && len(q.ctl) == 0
	q.mu.Unlock()
	return true, wake
}

// pushInline is push for a sender that would rather write m itself: when
// the queue is empty and nobody owns the wire, it claims the wire instead of
// queueing (claimed true), and the caller must write m and then call
// release with the returned epoch.
func (q *outQueue) pushInline(m Msg) (ok, claimed bool, epoch uint64) {
	q.mu.Lock()
	if q.n == 0 && len(q.ctl) == 0 && !q.busy && !q.carry {
		q.busy = true
		epoch = q.epoch
		q.mu.Unlock()
		return true, true, epoch
	}
	q.mu.Unlock()
	return q.push(m), false, 0
}

// release ends an inline write. carry reports bytes left in the
// connection's frameWriter, which the writer goroutine must send before
// anything else.
func (q *outQueue) release(epoch uint64, carry bool) {
	q.mu.Lock()
	if epoch != q.epoch { // the connection went away meanwhile; reset took over
		q.mu.Unlock()
		return
	}
	q.bq.written() // what takeInline took is on the wire or in the frameWriter
	q.busy, q.carry = false, carry
	kick := carry || q.n > 0 || len(q.ctl) > 0
	q.mu.Unlock()
	if kick {
		signal(q.notify)
	} else {
		signal(q.idle)
	}
}

// takeInline claims the idle wire for a handler's flush (handler.go) and
// takes the queued messages a non-blocking write can carry: up to maxBytes
// on the wire, none with a frame big enough for the writer's writev. It
// takes nothing (ok false) while someone owns the wire, control commands
// or carried bytes wait, or the first message is too big: the writer
// goroutine's job. The caller writes what it took and calls release.
func (q *outQueue) takeInline(maxBytes int) (msgs []Msg, epoch uint64, wasFull, ok bool) {
	q.mu.Lock()
	if q.busy || q.carry || len(q.ctl) > 0 || q.n == 0 {
		q.mu.Unlock()
		return nil, 0, false, false
	}
	dst := q.inl[:0]
	q.inl = nil
	wasFull = q.limit > 0 && q.n >= q.limit || q.bq.limit > 0
	wire := 0
	for q.n > 0 {
		m := q.ring[q.head]
		w, fits := inlineSize(m)
		if !fits || wire+w > maxBytes {
			break
		}
		wire += w
		dst = append(dst, q.popFront(m.Size()))
	}
	if len(dst) == 0 {
		q.inl = dst
		q.mu.Unlock()
		return nil, 0, false, false
	}
	q.busy = true
	epoch = q.epoch
	q.mu.Unlock()
	return dst, epoch, wasFull, true
}

// spare keeps takeInline's emptied batch for the next one.
func (q *outQueue) spare(msgs []Msg) {
	q.mu.Lock()
	q.inl = msgs[:0]
	q.mu.Unlock()
}

func (q *outQueue) full() bool {
	q.mu.Lock()
	f := q.limit > 0 && q.n >= q.limit && !q.conflate
	q.mu.Unlock()
	return f
}

func (q *outQueue) grow() {
	n := len(q.ring) * 2
	if n == 0 {
		n = 16
	}
	if q.limit > 0 && n > q.limit {
		n = q.limit
	}
	r := make([]Msg, n)
	for i := 0; i < q.n; i++ {
		r[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = r, 0
}

// pushCtl queues a control command.
func (q *outQueue) pushCtl(cmd ctlCmd) {
	q.mu.Lock()
	q.ctl = append(q.ctl, cmd)
	q.mu.Unlock()
	signal(q.notify)
}

// take moves up to max messages and all control frames out of the queue.
// wasFull reports that the queue was at its limit, so blocked senders may go on;
// carry that an inline write left bytes in the frameWriter. It takes nothing
// while an inline writer owns the wire (its release wakes the writer again).
//
// A batch holds at most maxBytes of message data (but always one message):
// taken messages are out of the queue yet still in memory, so without the
// byte bound a sender behind a slow peer would hold its high-water mark plus
// a whole batch of large messages.
func (q *outQueue) take(dst []Msg, max, maxBytes int) (msgs []Msg, ctl []ctlCmd, wasFull, carry bool) {
	q.mu.Lock()
	if q.busy {
		q.mu.Unlock()
		return dst, nil, false, false
	}
	carry, q.carry = q.carry, false
	wasFull = q.limit > 0 && q.n >= q.limit || q.bq.limit > 0 && q.n > 0
	ctl = q.ctl
	q.ctl = nil
	bytes := 0
	for q.n > 0 && len(dst) < max && (len(dst) == 0 || bytes < maxBytes) {
		size := q.ring[q.head].Size()
		bytes += size
		dst = append(dst, q.popFront(size))
	}
	q.busy = len(dst) > 0 || len(ctl) > 0 || carry
	q.mu.Unlock()
	return dst, ctl, wasFull, carry
}

// popFront moves the oldest message, of size bytes, out of the queue to
// whoever owns the wire (take, takeInline). Under q.mu.
func (q *outQueue) popFront(size int) Msg {
	m := q.ring[q.head]
	q.bq.taken(int64(size))
	q.ring[q.head] = Msg{}
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	return m
}

// flushed tells the queue that what was taken is on the wire; if nothing is
// left, whoever lingers in Close is told.
func (q *outQueue) flushed() {
	q.mu.Lock()
	q.busy = false
	q.bq.written()
	empty := q.n == 0 && len(q.ctl) == 0
	q.mu.Unlock()
	if empty {
		signal(q.idle)
	}
}

func (q *outQueue) empty() bool {
	q.mu.Lock()
	e := q.n == 0 && len(q.ctl) == 0 && !q.busy && !q.carry
	q.mu.Unlock()
	return e
}

// len is the number of queued messages (control commands not counted).
func (q *outQueue) len() int {
	q.mu.Lock()
	n := q.n
	q.mu.Unlock()
	return n
}

// reset drops everything queued (a connection went away, or Close gave up).
func (q *outQueue) reset(keepData bool) {
	q.mu.Lock()
	q.ctl = nil
	if !keepData {
		clear(q.ring)
		q.head, q.n = 0, 0
		q.bq.unqueue(q.bq.queued)
	}
	q.bq.written() // what the writer had goes with the connection
	q.busy, q.carry = false, false
	q.epoch++
	q.mu.Unlock()
}

func (q *outQueue) depth() (int, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bq.queued + q.bq.flight
}

// ctlCmd is a control command queued for a peer. It stays a typed value
// until the writer encodes it for the wire (ctlCmd.frame, conn.writeCtl), so
// an inproc peer takes it as it is and CURVE seals it without parsing ZMTP.
type ctlCmd struct {
	kind ctlKind
	ttl  uint16 // ctlPing: in tenths of a second
	data []byte // the topic (ctlSubscribe, ctlCancel) or context (ctlPong); owned by the command
}

type ctlKind uint8

const (
	ctlSubscribe ctlKind = iota + 1
	ctlCancel
	ctlPing
	ctlPong
	ctlProbe // not a command: the empty message of WithProbeRouter
)

// subCmd is a subscription (on) or its cancellation.
func subCmd(on bool, topic []byte) ctlCmd {
	if on {
		return ctlCmd{kind: ctlSubscribe, data: topic}
	}
	return ctlCmd{kind: ctlCancel, data: topic}
}
