package zmq

import (
	"context"
)

// patternOps is what one socket type does differently from the others. The
// socket core (queues, wake-ups, connections) is shared; NewSocket picks a
// type's row of patterns once, and a type's rules live in its file
// (pubsub.go, reqrep.go, router.go, pair.go, loadbalance.go).
//
// send, recv and deliver run once per message. Nil there means the shared
// way (round-robin, fair-queued, queued for Recv), which Send, Recv and
// deliver then call directly: an indirect call is never inlined and passes
// a Msg (7 words) on the stack, which cost the streaming types (PUSH, PULL,
// DEALER, PAIR) up to a fifth of their inproc throughput (issue 13).
type patternOps struct {
	// send routes one message (Send, after the checks every type shares).
	// Nil: round-robin (sendRR).
	send func(s *Socket, ctx context.Context, m Msg) error
	// recv is Recv once the socket is known to be open. Nil: the next
	// message in fair-queue order (Socket.recv).
	recv func(s *Socket, ctx context.Context) (Msg, error)
	// deliver takes a message a connection received; false means the
	// connection is going away. Nil: queue it for Recv (deliverQueued).
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
	// filtered: deliver queues only what the subscriptions match
	// (Socket.matching does it for a batch).
	filtered bool
	// direct: a receiver may read its connection itself (reqrep.go).
	direct bool
	// envelope: messages carry a REQ/REP envelope, which survives
	// truncation (WithTruncateOver).
	envelope bool
}

// The rows; a nil send, recv or deliver is the shared way (see patternOps).
var patterns = [...]patternOps{
	Pair:   {attach: (*Socket).attachPair},
	Pub:    {send: (*Socket).sendPub, recv: (*Socket).recvNotSupported, deliver: (*Socket).deliverSubscriptions, gone: (*Socket).pubGone},
	Sub:    {send: (*Socket).sendNotSupported, deliver: (*Socket).deliverFiltered, connected: (*Socket).resubscribe, filtered: true},
	XPub:   {send: (*Socket).sendPub, deliver: (*Socket).deliverSubscriptions, connected: (*Socket).welcome, gone: (*Socket).pubGone},
	XSub:   {send: (*Socket).sendXSub, deliver: (*Socket).deliverFiltered, connected: (*Socket).resubscribe, filtered: true},
	Push:   {recv: (*Socket).recvNotSupported, deliver: (*Socket).deliverNowhere},
	Pull:   {send: (*Socket).sendNotSupported},
	Req:    {send: (*Socket).sendReq, recv: (*Socket).recvReq, connected: (*Socket).probe, direct: true, envelope: true},
	Rep:    {send: (*Socket).sendRep, recv: (*Socket).recvRep, direct: true, envelope: true},
	Dealer: {connected: (*Socket).probe},
	Router: {send: (*Socket).sendRouter, attach: (*Socket).attachRouter, connected: (*Socket).probe, detach: (*Socket).detachRouter, routingIDs: true},
}

func (s *Socket) sendNotSupported(context.Context, Msg) error { return ErrNotSupported }

func (s *Socket) recvNotSupported(context.Context) (Msg, error) { return Msg{}, ErrNotSupported }

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
