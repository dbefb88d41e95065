package reactor

import (
	"fmt"

	"github.com/zmqgo/zmq"
)

// RouterConnection is a raw ROUTER (txZMQ's ZmqRouterConnection): it sees
// who sent each message and addresses each message it sends to one peer.
//
// Unlike txZMQ's, it reports what it cannot deliver: sending to a peer that
// is not connected fails with an error matching zmq.ErrHostUnreachable, and
// to a peer whose queue is full with ErrQueueFull (ZMQ_ROUTER_MANDATORY).
type RouterConnection struct {
	*Connection
	handler func(sender []byte, parts [][]byte)
}

// NewRouterConnection makes a ROUTER connection whose handler gets the
// sender's routing id and the message's frames on the factory's loop.
func NewRouterConnection(f *Factory, handler func(sender []byte, parts [][]byte), opts ...Option) (*RouterConnection, error) {
	c, err := newConnection(f, "RouterConnection", zmq.Router, opts, zmq.WithRouterMandatory(true))
	if err != nil {
		return nil, err
	}
	r := &RouterConnection{Connection: c, handler: handler}
	c.onMsg = r.messageReceived
	if err := c.start(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RouterConnection) messageReceived(m zmq.Msg) {
	if r.handler != nil {
		r.handler(m.Frames[0], m.Frames[1:])
	}
}

// SendMsg sends a one-frame message to recipient.
func (r *RouterConnection) SendMsg(recipient, message []byte) error {
	return r.SendMultipart(recipient, [][]byte{message})
}

// SendMultipart sends a message of one or more frames to recipient.
func (r *RouterConnection) SendMultipart(recipient []byte, parts [][]byte) error {
	if len(parts) == 0 {
		return fmt.Errorf("reactor: RouterConnection: %w", zmq.ErrEmptyMsg)
	}
	frames := make([][]byte, 0, 1+len(parts))
	frames = append(append(frames, recipient), parts...)
	return r.send(zmq.Msg{Frames: frames})
}

// DealerConnection is a raw DEALER (txZMQ's ZmqDealerConnection): it sends
// to its peers in turn and receives from all of them.
type DealerConnection struct {
	*Connection
	handler func(parts [][]byte)
}

// NewDealerConnection makes a DEALER connection whose handler gets each
// message's frames on the factory's loop.
func NewDealerConnection(f *Factory, handler func(parts [][]byte), opts ...Option) (*DealerConnection, error) {
	c, err := newConnection(f, "DealerConnection", zmq.Dealer, opts)
	if err != nil {
		return nil, err
	}
	d := &DealerConnection{Connection: c, handler: handler}
	c.onMsg = d.messageReceived
	if err := c.start(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *DealerConnection) messageReceived(m zmq.Msg) {
	if d.handler != nil {
		d.handler(m.Frames)
	}
}

// SendMsg sends a one-frame message.
func (d *DealerConnection) SendMsg(message []byte) error {
	return d.send(zmq.Msg{Frames: [][]byte{message}})
}

// SendMultipart sends a message of one or more frames.
func (d *DealerConnection) SendMultipart(parts [][]byte) error {
	return d.send(zmq.Msg{Frames: parts})
}
