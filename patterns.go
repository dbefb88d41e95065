package zmq

import (
	"context"
)

// patternOps is what one socket type does differently from the others. The
// socket core (queues, wake-ups, connections) is shared; NewSocket picks a
// type's row of patterns once, so each Send, Recv and received message costs
// one indirect call rather than a switch, and a type's rules live in its
// file (pubsub.go, reqrep.go, router.go, pair.go, loadbalance.go).
type patternOps struct {
	// send routes one message (Send, after the checks every type shares).
	send func(s *Socket, ctx context.Context, m Msg) error
	// recv is Recv once the socket is known to be open.
	recv func(s *Socket, ctx context.Context) (Msg, error)
	// deliver takes a message a connection received; false means the
	// connection is going away.
	deliver func(s *Socket, c *conn, m Msg) bool
	// attach checks and sets up a handshaken connection's pipe, under s.mu,
	// before the pipe is linked to the connection; accepted is false for a
	// connected endpoint's pipe. Nil: nothing to do.
	attach func(s *Socket, p *pipe, pi peerInfo, accepted bool) error
	// connected queues what a new connection must send first, under s.mu,
	// once the pipe is linked. Nil: nothing.
	connected func(s *Socket, p *pipe)
	// detach undoes attach, under s.mu. Nil: nothing.
	detach func(s *Socket, p *pipe)
	// gone runs after detach, without s.mu. Nil: nothing.
	gone func(s *Socket, p *pipe)

	// routingIDs: received messages carry the peer's routing id in front
	// (ROUTER), and a connected endpoint's pipe lives only as long as its
	// connection.
	routingIDs bool
	// direct: a receiver may read its connection itself (reqrep.go).
	direct bool
	// envelope: messages carry a REQ/REP envelope, which survives
	// truncation (WithTruncateOver).
	envelope bool
}

var patterns = [...]patternOps{
	Pair:   {send: (*Socket).sendRR, recv: (*Socket).recvQueued, deliver: (*Socket).deliverQueued, attach: (*Socket).attachPair},
	Pub:    {send: (*Socket).sendPub, recv: (*Socket).recvNotSupported, deliver: (*Socket).deliverSubscriptions, gone: (*Socket).pubGone},
	Sub:    {send: (*Socket).sendNotSupported, recv: (*Socket).recvQueued, deliver: (*Socket).deliverFiltered, connected: (*Socket).resubscribe},
	XPub:   {send: (*Socket).sendPub, recv: (*Socket).recvQueued, deliver: (*Socket).deliverSubscriptions, connected: (*Socket).welcome, gone: (*Socket).pubGone},
	XSub:   {send: (*Socket).sendXSub, recv: (*Socket).recvQueued, deliver: (*Socket).deliverFiltered, connected: (*Socket).resubscribe},
	Push:   {send: (*Socket).sendRR, recv: (*Socket).recvNotSupported, deliver: (*Socket).deliverNowhere},
	Pull:   {send: (*Socket).sendNotSupported, recv: (*Socket).recvQueued, deliver: (*Socket).deliverQueued},
	Req:    {send: (*Socket).sendReq, recv: (*Socket).recvReq, deliver: (*Socket).deliverQueued, connected: (*Socket).probe, direct: true, envelope: true},
	Rep:    {send: (*Socket).sendRep, recv: (*Socket).recvRep, deliver: (*Socket).deliverQueued, direct: true, envelope: true},
	Dealer: {send: (*Socket).sendRR, recv: (*Socket).recvQueued, deliver: (*Socket).deliverQueued, connected: (*Socket).probe},
	Router: {send: (*Socket).sendRouter, recv: (*Socket).recvQueued, deliver: (*Socket).deliverQueued, attach: (*Socket).attachRouter, connected: (*Socket).probe, detach: (*Socket).detachRouter, routingIDs: true},
}

func (s *Socket) sendNotSupported(context.Context, Msg) error { return ErrNotSupported }

func (s *Socket) recvNotSupported(context.Context) (Msg, error) { return Msg{}, ErrNotSupported }

// recvQueued is Recv for the types that take messages as they come.
func (s *Socket) recvQueued(ctx context.Context) (Msg, error) {
	_, m, err := s.recv(ctx)
	return m, err
}

// deliverQueued queues a received message for Recv.
func (s *Socket) deliverQueued(c *conn, m Msg) bool {
	return s.enqueue(c.p, m, c, c.quit, false)
}

// probe queues, with WithProbeRouter, an empty message ahead of anything
// queued, so that a ROUTER peer learns our routing id at once.
func (s *Socket) probe(p *pipe) {
	if s.opts.probeRouter {
		p.out.pushCtl(ctlCmd{kind: ctlProbe})
	}
}
