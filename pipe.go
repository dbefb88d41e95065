package zmq

import (
	"bytes"
	"sync/atomic"
)

// pipe is one logical peer of a socket. A pipe for a connected endpoint lives
// as long as the endpoint and survives reconnections, so messages queue while
// the peer is away (libzmq without ZMQ_IMMEDIATE); a pipe for an accepted
// connection lives as long as that connection.
type pipe struct {
	out        *outQueue
	endpoint   string // the endpoint string the user bound or connected
	persistent bool   // created by Connect

	// Set while a connection is attached; guarded by Socket.mu.
	conn     *conn
	id       []byte // routing id (ROUTER), valid while attached
	peerType string
	minor    byte // peer's ZMTP minor version: 0 means subscriptions travel as messages

	in inRing // received messages, guarded by Socket.inMu

	subMu mutex[rankPipeSubMu]
	subs  map[string]int // PUB/XPUB: the peer's subscriptions, counted; guarded by subMu
	all   atomic.Bool    // subs has the empty prefix: matches skips the lock
}

func newPipe(endpoint string, limit int, persistent bool) *pipe {
	return &pipe{out: newOutQueue(limit), endpoint: endpoint, persistent: persistent}
}

// subscribe counts a subscription; it reports whether the count went from 0 to 1.
func (p *pipe) subscribe(topic []byte) bool {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if p.subs == nil {
		p.subs = make(map[string]int)
	}
	p.subs[string(topic)]++
	if len(topic) == 0 {
		p.all.Store(true)
	}
	return p.subs[string(topic)] == 1
}

// unsubscribe uncounts a subscription; it reports whether it went from 1 to 0.
func (p *pipe) unsubscribe(topic []byte) bool {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	n, ok := p.subs[string(topic)]
	if !ok {
		return false
	}
	if n <= 1 {
		delete(p.subs, string(topic))
		if len(topic) == 0 {
			p.all.Store(false)
		}
		return true
	}
	p.subs[string(topic)] = n - 1
	return false
}

// matches reports whether the peer subscribed to a prefix of topic.
func (p *pipe) matches(topic []byte) bool {
	if p.all.Load() {
		return true
	}
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if len(p.subs) == 0 {
		return false
	}
	if _, all := p.subs[""]; all {
		return true
	}
	for s := range p.subs {
		if bytes.HasPrefix(topic, []byte(s)) {
			return true
		}
	}
	return false
}

// clearSubs forgets the peer's subscriptions and returns them.
func (p *pipe) clearSubs() map[string]int {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	s := p.subs
	p.subs = nil
	p.all.Store(false)
	return s
}
