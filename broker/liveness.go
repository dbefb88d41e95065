package broker

import "time"

// Liveness: a client whose connection is alive keeps its name however long
// it is silent (a listener may never send). The ROUTER pings every peer
// that speaks ZMTP 3.1 (Config.Heartbeat) and drops one that does not
// answer within Config.HeartbeatTimeout; every connection's end is a
// monitor event. So a peer is forgotten when its last connection ends: at
// once for a ROUTER-generated routing id (no other connection can have
// it), after Heartbeat + HeartbeatTimeout for an id the peer chose (it may
// come back under it, and carry on). Config.Expire applies only to peers
// that cannot be pinged: ZMTP 3.0 ones.

// connUp records a connection of routing id id from addr; hb: the socket
// pings it.
func (s *state) connUp(id []byte, addr string, hb bool) {
	m := s.conns[string(id)]
	if m == nil {
		m = make(map[string]bool, 1)
		s.conns[string(id)] = m
	}
	m[addr] = hb
	if p := s.peers[string(id)]; p != nil {
		p.lost = time.Time{}
	}
}

// connDown records the end of a connection of id from addr.
func (s *state) connDown(id []byte, addr string) {
	m := s.conns[string(id)]
	delete(m, addr)
	if len(m) > 0 {
		return
	}
	delete(s.conns, string(id))
	p := s.peers[string(id)]
	switch {
	case p == nil:
	case generatedID(id):
		s.forget(p, "disconnected")
	default:
		p.lost = s.now()
	}
}

// pinged reports whether a connection of p is alive and pinged: it
// does not expire.
func (s *state) pinged(p *peer) bool {
	for _, hb := range s.conns[string(p.id)] {
		if hb {
			return true
		}
	}
	return false
}

// grace is how long a peer with a chosen routing id may be without a
// connection before it is forgotten.
func (c *Config) grace() time.Duration {
	if c.Heartbeat > 0 {
		return c.Heartbeat + c.HeartbeatTimeout
	}
	return time.Second
}

// sweep forgets the peers gone for longer than the grace, and the silent
// ones that cannot be pinged after Expire.
func (s *state) sweep() {
	now := s.now()
	for _, p := range s.peers {
		switch {
		case !p.lost.IsZero() && now.Sub(p.lost) > s.cfg.grace():
			s.forget(p, "disconnected")
		case s.pinged(p):
		case s.cfg.Expire > 0 && now.Sub(p.last) > s.cfg.Expire:
			s.stats.Expired++
			s.forget(p, "expired")
		}
	}
}

// sweepEvery is how often the loop sweeps.
func (c *Config) sweepEvery() time.Duration {
	d := c.grace() / 4
	if c.Expire > 0 {
		d = min(d, c.Expire/4)
	}
	return min(max(d, 10*time.Millisecond), time.Second)
}
