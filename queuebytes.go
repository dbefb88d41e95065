package zmq

import (
	"fmt"
	"sync/atomic"
)

// WithSendHWMBytes bounds the send queues in bytes of message data, besides
// the high-water mark in messages: perPeer for the queue of one peer (not
// counting the first message of an empty queue, so that any message can
// go), total for the queues of all peers of the socket together. 0: no
// bound. A message that would pass either bound is refused as at the
// high-water mark (TrySend: ErrWouldBlock; a ROUTER without mandatory
// drops it). A blocked Send waits for its peer's queue only, so the total
// bound is meant for TrySend and dropping sockets. Bytes count from the
// queue until they are written (or dropped with their connection), so a
// socket's send queues hold at most total bytes, and N slow peers at most
// N × perPeer, plus one write batch (256 KiB) each. Not in libzmq.
func WithSendHWMBytes(perPeer, total int64) Option {
	return func(o *options) error {
		if perPeer < 0 || total < 0 {
			return fmt.Errorf("%w: send HWM bytes %d, total %d < 0", ErrInvalidOption, perPeer, total)
		}
		o.sendHWMBytes, o.sendBytesTotal = perPeer, total
		return nil
	}
}

// QueueStats describe a socket's send queues: the messages and bytes
// queued (or being written) for all peers together, and the most for any
// one peer.
type QueueStats struct {
	Peers       int
	Messages    int
	Bytes       int64
	MaxMessages int
	MaxBytes    int64
}

// SendQueues returns the state of the socket's send queues.
func (s *Socket) SendQueues() QueueStats {
	var st QueueStats
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pipes {
		n, b := p.out.depth()
		st.Peers++
		st.Messages += n
		st.Bytes += b
		st.MaxMessages = max(st.MaxMessages, n)
		st.MaxBytes = max(st.MaxBytes, b)
	}
	return st
}

// PeerQueue returns the messages and bytes queued for the ROUTER peer with
// routing id id; ok is false if no such peer is connected.
func (s *Socket) PeerQueue(id []byte) (msgs int, bytes int64, ok bool) {
	s.mu.Lock()
	p := s.byID[string(id)]
	s.mu.Unlock()
	if p == nil {
		return 0, 0, false
	}
	msgs, bytes = p.out.depth()
	return msgs, bytes, true
}

// queueBytes is an outQueue's accounting in bytes.
type queueBytes struct {
	queued, flight int64         // in the queue; taken by the writer, not yet flushed
	limit          int64         // per queue; 0: none
	total          *atomic.Int64 // the socket's, shared by its queues; nil: not counted
	totalLimit     int64
}

// admit reserves size bytes for a message, or reports that it does not fit.
// Called with the queue's lock held.
func (q *queueBytes) admit(size int64, empty bool) bool {
	if q.limit > 0 && !empty && q.queued+q.flight+size > q.limit {
		return false
	}
	if q.total != nil {
		if t := q.total.Add(size); q.totalLimit > 0 && t > q.totalLimit {
			q.total.Add(-size)
			return false
		}
	}
	q.queued += size
	return true
}

// unqueue forgets size queued bytes (dropped, or replaced).
func (q *queueBytes) unqueue(size int64) {
	q.queued -= size
	if q.total != nil {
		q.total.Add(-size)
	}
}

// taken moves size bytes from the queue to the writer.
func (q *queueBytes) taken(size int64) {
	q.queued -= size
	q.flight += size
}

// written forgets the bytes the writer had.
func (q *queueBytes) written() {
	if q.total != nil {
		q.total.Add(-q.flight)
	}
	q.flight = 0
}
