package zmq

import (
	"fmt"
	"slices"
	"sync"

	"github.com/zmqgo/zmq/internal/zmtp"
)

// inproc links two sockets of this process directly: each side's pipe is
// drained by a goroutine that hands whole Msg values to the other socket's
// inbound queue. No kernel socket, no encoding, no copy.

var inprocs = struct {
	mu    mutex[rankInprocs]
	names map[string]*inprocBinding
	wait  chan struct{} // closed when a name is bound
}{names: make(map[string]*inprocBinding)}

type inprocBinding struct {
	s  *Socket
	ln *listener
}

func inprocBind(name string, s *Socket, ln *listener) error {
	inprocs.mu.Lock()
	defer inprocs.mu.Unlock()
	if _, taken := inprocs.names[name]; taken {
		return fmt.Errorf("%w: inproc://%s is bound by another socket", ErrAddrInUse, name)
	}
	inprocs.names[name] = &inprocBinding{s: s, ln: ln}
	if inprocs.wait != nil {
		close(inprocs.wait)
		inprocs.wait = nil
	}
	return nil
}

func inprocUnbind(name string, s *Socket) {
	inprocs.mu.Lock()
	if b := inprocs.names[name]; b != nil && b.s == s {
		delete(inprocs.names, name)
	}
	inprocs.mu.Unlock()
}

// inprocLookupNow returns name's binding, or nil if nothing is bound there.
func inprocLookupNow(name string) *inprocBinding {
	inprocs.mu.Lock()
	defer inprocs.mu.Unlock()
	return inprocs.names[name]
}

// inprocLookup waits until name is bound (connect before bind is allowed) or
// stop closes.
func inprocLookup(name string, stop <-chan struct{}) *inprocBinding {
	for {
		inprocs.mu.Lock()
		b := inprocs.names[name]
		if b != nil {
			inprocs.mu.Unlock()
			return b
		}
		if inprocs.wait == nil {
			inprocs.wait = make(chan struct{})
		}
		w := inprocs.wait
		inprocs.mu.Unlock()
		select {
		case <-w:
		case <-stop:
			return nil
		}
	}
}

// serveInproc runs one inproc link from the connecting socket s (dialer d)
// to the bound one, until either side goes away.
func (s *Socket) serveInproc(b *inprocBinding, d *dialer) {
	peer := b.s
	log := s.opts.logger
	if !zmtp.Compatible(s.typ.String(), peer.typ.String()) {
		log.Warn("zmq: peer refused", "socket", s.typ.String(), "endpoint", d.endpoint,
			"err", fmt.Errorf("%w: %s cannot talk to %s", ErrIncompatiblePeer, s.typ, peer.typ))
		// Wait for the name to be unbound before trying again.
		select {
		case <-peer.done:
		case <-d.stop:
		}
		return
	}
	var quit = make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(quit) }) }
	cs := &conn{s: s, quit: quit, closeFn: stop}
	cp := &conn{s: peer, quit: quit, closeFn: stop}
	// Each side learns the other's identity as a ZMTP handshake would carry it.
	piS := peerInfo{minor: zmtp.MinorVersion, typ: peer.typ.String()}
	if zmtp.SendsIdentity(peer.typ.String()) {
		piS.identity = peer.opts.routingID
	}
	piP := peerInfo{minor: zmtp.MinorVersion, typ: s.typ.String()}
	if zmtp.SendsIdentity(s.typ.String()) {
		piP.identity = s.opts.routingID
	}
	if err := peer.attachConn(cp, b.ln, nil, piP); err != nil {
		log.Warn("zmq: peer refused", "socket", s.typ.String(), "endpoint", d.endpoint, "err", err)
		select {
		case <-peer.done:
		case <-d.stop:
		}
		return
	}
	if err := s.attachConn(cs, nil, d, piS); err != nil {
		stop()
		peer.detachConn(cp, b.ln, nil)
		return
	}
	log.Debug("zmq: peer connected", "socket", s.typ.String(), "endpoint", d.endpoint, "peer_type", peer.typ.String())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cp.moveLoop(cs)
	}()
	cs.moveLoop(cp)
	stop()
	wg.Wait()
	s.detachConn(cs, nil, d)
	peer.detachConn(cp, b.ln, nil)
}

// moveLoop hands what c's pipe has queued to the peer connection's socket.
func (c *conn) moveLoop(to *conn) {
	q := c.p.out
	var batch []Msg // grows to maxBatch only if the queue ever holds that many
	for {
		select {
		case <-q.notify:
		case <-c.quit:
			return
		}
		for {
			msgs, ctl, wasFull, _ := q.take(batch[:0], maxBatch, maxBatchBytes) // inproc has no inline writes
			batch = msgs[:0]
			if len(msgs) == 0 && len(ctl) == 0 {
				break
			}
			if wasFull {
				c.s.wake()
			}
			for _, cmd := range ctl {
				// Only subscriptions and probes mean anything between two
				// local sockets.
				switch cmd.kind {
				case ctlProbe: // WithProbeRouter: an empty message
					m := Msg{Frames: to.s.withRoutingID(to.p, [][]byte{{}}, nil)}
					if !to.s.deliver(to, m) {
						return
					}
				case ctlSubscribe, ctlCancel:
					to.s.peerSubscribe(to.p, cmd.data, cmd.kind == ctlSubscribe)
				}
			}
			if to.s.batchable() {
				// The common case, messages queued for Recv as they are
				// (or as a SUB's subscriptions match them): one lock of
				// the peer's inbound queue per batch, not one per message.
				for i := range msgs {
					msgs[i].rx, msgs[i].rxGen = nil, 0 // as below
					msgs[i].Frames = to.s.withRoutingID(to.p, msgs[i].Frames, nil)
				}
				if !to.s.deliverBatch(to, msgs) {
					clear(msgs)
					return
				}
				clear(msgs)
				q.flushed()
				continue
			}
			for i, m := range msgs {
				// The peer gets the frames themselves; an AllocMsg buffer
				// leaves the pool for good (the garbage collector takes it).
				m.rx, m.rxGen = nil, 0
				if lim := to.s.opts.truncateOver; lim > 0 {
					if size := int64(m.Size()); size > lim {
						m = to.s.truncatedMsg(to.p, slices.Clone(to.s.envelope(m.Frames)), size)
						if to.s.deliver(to, m) {
							continue
						}
						clear(msgs[i:])
						return
					}
				}
				m.Frames = to.s.withRoutingID(to.p, m.Frames, nil)
				if !to.s.deliver(to, m) {
					clear(msgs[i:])
					return
				}
			}
			clear(msgs)
			q.flushed()
		}
	}
}
