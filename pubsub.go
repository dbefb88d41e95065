// PUB, SUB, XPUB and XSUB: what a received message means (data or a
// subscription), who subscribes to what, and fan-out on Send.
package zmq

import (
	"bytes"
	"context"
	"fmt"
)

func (s *Socket) subscribed(topic []byte) bool {
	s.subMu.RLock()
	defer s.subMu.RUnlock()
	if _, all := s.subs[""]; all {
		return true
	}
	return s.subscribedLocked(topic)
}

// subscribedLocked is subscribed under subMu.
func (s *Socket) subscribedLocked(topic []byte) bool {
	for t := range s.subs {
		if len(topic) >= len(t) && string(topic[:len(t)]) == t {
			return true
		}
	}
	return false
}

// peerSubscribe applies a subscription from a subscriber pipe.
func (s *Socket) peerSubscribe(p *pipe, topic []byte, on bool) {
	if s.typ != Pub && s.typ != XPub {
		return
	}
	if s.typ == XPub && s.opts.xpubManual {
		// The application decides; Subscribe applies to this pipe.
		s.subMu.Lock()
		s.lastSubPipe = p
		s.subMu.Unlock()
		s.xpubNotify(p, on, topic)
		return
	}
	s.applyPeerSub(p, topic, on)
}

// applyPeerSub records a subscriber's (un)subscription and tells an XPUB
// application about it: about topics new to the socket, or every one when
// verbose (subscriptions) or verboser (unsubscriptions too).
func (s *Socket) applyPeerSub(p *pipe, topic []byte, on bool) {
	var changed bool
	if on {
		changed = p.subscribe(topic)
	} else {
		changed = p.unsubscribe(topic)
	}
	if s.typ != XPub {
		return
	}
	edge := changed && s.countSub(string(topic), on)
	if on && (edge || s.opts.xpubVerbose) || !on && (edge || s.opts.xpubVerboser) {
		s.xpubNotify(p, on, topic)
	}
}

// countSub counts the pipes subscribed to topic; it reports whether the
// first one came or the last one went.
func (s *Socket) countSub(topic string, on bool) bool {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.xcount == nil {
		s.xcount = make(map[string]int)
	}
	if on {
		s.xcount[topic]++
		return s.xcount[topic] == 1
	}
	if s.xcount[topic] <= 1 {
		delete(s.xcount, topic)
		return true
	}
	s.xcount[topic]--
	return false
}

// xpubNotify hands an XPUB application a subscription message.
func (s *Socket) xpubNotify(p *pipe, on bool, topic []byte) {
	b := make([]byte, 1+len(topic))
	if on {
		b[0] = 1
	}
	copy(b[1:], topic)
	s.enqueue(p, Msg{Frames: [][]byte{b}}, nil, nil, true)
}

// Subscribe adds a prefix filter (SUB and XSUB; ZMQ_SUBSCRIBE). An empty
// prefix matches every message. Subscriptions are counted: each Subscribe
// needs its own Unsubscribe.
func (s *Socket) Subscribe(prefix []byte) error { return s.setSub(prefix, true) }

// Unsubscribe removes one count of a prefix filter (ZMQ_UNSUBSCRIBE).
func (s *Socket) Unsubscribe(prefix []byte) error { return s.setSub(prefix, false) }

func (s *Socket) setSub(prefix []byte, on bool) error {
	if s.typ == XPub && s.opts.xpubManual {
		s.subMu.Lock()
		p := s.lastSubPipe
		s.subMu.Unlock()
		if p == nil {
			return fmt.Errorf("%w: no subscription message received yet", ErrState)
		}
		s.applyPeerSub(p, prefix, on)
		return nil
	}
	if s.typ != Sub && s.typ != XSub {
		return ErrNotSupported
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.subMu.Lock()
	k := string(prefix)
	send := false
	if on {
		s.subs[k]++
		send = s.subs[k] == 1
	} else if n, ok := s.subs[k]; ok {
		if n <= 1 {
			delete(s.subs, k)
			send = true
		} else {
			s.subs[k] = n - 1
		}
	}
	s.subMu.Unlock()
	if send {
		cmd := subCmd(on, bytes.Clone(prefix)) // shared by the writers, which only read it
		for _, p := range s.pipes {
			if p.conn != nil {
				p.out.pushCtl(cmd)
			}
		}
	}
	return nil
}

func (s *Socket) sendPub(ctx context.Context, m Msg) error {
	topic := m.Frames[0]
	var w waitTicket
	for {
		s.mu.Lock() // not lockOpen, which is not inlined: a hot path
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if !s.opts.xpubNoDrop {
			for _, p := range s.pipes {
				// A subscriber at its high-water mark loses the message (RFC 29).
				if p.conn != nil && p.matches(topic) {
					p.out.push(m)
				}
			}
			s.mu.Unlock()
			return nil
		}
		// All or none: wait until every matching subscriber has room. No
		// other sender runs meanwhile (s.mu) and writers only make room, so
		// room seen here is still there for the push.
		var buf [8]*pipe
		match := buf[:0]
		full := false
		for _, p := range s.pipes {
			if p.conn != nil && p.matches(topic) {
				match = append(match, p)
			}
		}
		if len(match) == 1 {
			full = !match[0].out.push(m) // one subscriber: one lock
		} else {
			for _, p := range match {
				if p.out.full() {
					full = true
					break
				}
			}
			if !full {
				for _, p := range match {
					p.out.push(m)
				}
			}
		}
		s.mu.Unlock()
		if !full {
			return nil
		}
		if err := w.wait(ctx, s); err != nil {
			return err
		}
	}
}

// sendXSub forwards subscription messages (\x01topic, \x00topic) upstream;
// anything else goes to every publisher as is.
func (s *Socket) sendXSub(_ context.Context, m Msg) error {
	f := m.Frames[0]
	if len(m.Frames) == 1 && len(f) > 0 && f[0] <= 1 {
		return s.setSub(f[1:], f[0] == 1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, p := range s.pipes {
		p.out.push(m)
	}
	return nil
}

// deliverSubscriptions reads what a PUB or XPUB receives: subscribers talk
// to publishers only to subscribe, and ZMTP 3.0 peers (and XSUB
// applications) do it with data messages.
func (s *Socket) deliverSubscriptions(c *conn, m Msg) bool {
	if len(m.Frames) == 1 && len(m.Frames[0]) > 0 && m.Frames[0][0] <= 1 {
		s.peerSubscribe(c.p, m.Frames[0][1:], m.Frames[0][0] == 1)
	}
	return true
}

// matching keeps, in order, the messages of msgs that a SUB or XSUB's
// subscriptions match (deliverFiltered for a batch, one lock for all), and
// returns them; msgs keeps its length, what is past the result is stale.
func (s *Socket) matching(msgs []Msg) []Msg {
	s.subMu.RLock()
	defer s.subMu.RUnlock()
	_, all := s.subs[""]
	k := 0
	for _, m := range msgs {
		if len(m.Frames) > 0 && (all || s.subscribedLocked(m.Frames[0])) {
			msgs[k] = m
			k++
		}
	}
	return msgs[:k]
}

// deliverFiltered queues for a SUB or XSUB what its subscriptions match.
func (s *Socket) deliverFiltered(c *conn, m Msg) bool {
	if len(m.Frames) == 0 || !s.subscribed(m.Frames[0]) { // a truncated message has no topic
		return true
	}
	return s.enqueue(c.p, m, c, c.quit, false)
}

// resubscribe makes a (re)connected subscriber tell the publisher
// everything it wants. Under s.mu.
func (s *Socket) resubscribe(p *pipe) {
	s.subMu.RLock()
	for topic := range s.subs {
		p.out.pushCtl(subCmd(true, []byte(topic)))
	}
	s.subMu.RUnlock()
}

// welcome queues WithXPubWelcome's message for a new subscriber. Under s.mu.
func (s *Socket) welcome(p *pipe) {
	if s.opts.xpubWelcome != nil {
		p.out.push(Msg{Frames: [][]byte{s.opts.xpubWelcome}})
	}
}

// pubGone forgets a departed subscriber's subscriptions; an XPUB
// application hears of the topics nobody wants any more (every one, with
// WithXPubVerboser).
func (s *Socket) pubGone(p *pipe) {
	if subs := p.clearSubs(); len(subs) > 0 && s.typ == XPub {
		for topic := range subs {
			last := s.countSub(topic, false)
			if last || s.opts.xpubVerboser {
				s.xpubNotify(p, false, []byte(topic))
			}
		}
	}
}
