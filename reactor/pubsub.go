package reactor

import (
	"bytes"

	"github.com/zmqgo/zmq"
)

// PubConnection publishes tagged messages (txZMQ's ZmqPubConnection).
type PubConnection struct {
	*Connection
}

// NewPubConnection makes a PUB connection with the given endpoints and
// settings.
func NewPubConnection(f *Factory, opts ...Option) (*PubConnection, error) {
	c, err := newConnection(f, "PubConnection", zmq.Pub, opts)
	if err != nil {
		return nil, err
	}
	p := &PubConnection{Connection: c}
	if err := c.start(); err != nil {
		return nil, err
	}
	return p, nil
}

// Publish sends message under tag, as txZMQ does: one frame, tag +
// separator ("\x00" unless WithTagSeparator) + message. Subscribers whose
// subscription is a prefix of the tag get it. A subscriber at its
// high-water mark loses it, as the pattern defines; Publish itself fails
// only once the connection is shut down. message and tag are copied.
func (p *PubConnection) Publish(message, tag []byte) error {
	sep := p.cfg.separator
	frame := make([]byte, 0, len(tag)+len(sep)+len(message))
	frame = append(append(append(frame, tag...), sep...), message...)
	return p.send(zmq.Msg{Frames: [][]byte{frame}})
}

// SubConnection receives what publishers send to the tags it subscribed to
// (txZMQ's ZmqSubConnection).
type SubConnection struct {
	*Connection
	handler func(message, tag []byte)
}

// NewSubConnection makes a SUB connection whose handler gets each message
// and its tag, on the factory's loop (txZMQ's gotMessage). It receives
// nothing until Subscribe. It understands both the one-frame form txZMQ
// publishes (tag + separator + message; without a separator the whole frame
// is the message and the tag is empty) and the two-frame form [tag,
// message] of other ZeroMQ publishers; of other multipart messages it reads
// the first frame only, as txZMQ.
func NewSubConnection(f *Factory, handler func(message, tag []byte), opts ...Option) (*SubConnection, error) {
	c, err := newConnection(f, "SubConnection", zmq.Sub, opts)
	if err != nil {
		return nil, err
	}
	s := &SubConnection{Connection: c, handler: handler}
	c.onMsg = s.messageReceived
	if err := c.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SubConnection) messageReceived(m zmq.Msg) {
	if s.handler == nil {
		return
	}
	if len(m.Frames) == 2 {
		s.handler(m.Frames[1], m.Frames[0])
		return
	}
	tag, message, ok := bytes.Cut(m.Frames[0], s.cfg.separator)
	if !ok {
		tag, message = nil, m.Frames[0]
	}
	s.handler(message, tag)
}

// Subscribe starts receiving messages whose tag starts with tag (an empty
// tag: every message). It may be called several times; subscriptions are
// counted, each needing its own Unsubscribe. The publishers learn of it
// over the network, so messages published right after may still be missed.
func (s *SubConnection) Subscribe(tag []byte) error { return s.sock.Subscribe(tag) }

// Unsubscribe undoes one Subscribe of tag.
func (s *SubConnection) Unsubscribe(tag []byte) error { return s.sock.Unsubscribe(tag) }
