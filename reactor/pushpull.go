package reactor

import "github.com/zmqgo/zmq"

// PushConnection hands each message to one of its PULL peers in turn
// (txZMQ's ZmqPushConnection).
type PushConnection struct {
	*Connection
}

// NewPushConnection makes a PUSH connection.
func NewPushConnection(f *Factory, opts ...Option) (*PushConnection, error) {
	c, err := newConnection(f, "PushConnection", zmq.Push, opts)
	if err != nil {
		return nil, err
	}
	p := &PushConnection{Connection: c}
	if err := c.start(); err != nil {
		return nil, err
	}
	return p, nil
}

// Push sends a message of one or more frames. It fails with ErrQueueFull
// if no peer has room within the send timeout. The frames must not be
// modified after the call.
func (p *PushConnection) Push(parts ...[]byte) error {
	return p.send(zmq.Msg{Frames: parts})
}

// PullConnection receives what PUSH peers send (txZMQ's ZmqPullConnection).
type PullConnection struct {
	*Connection
	handler func(parts [][]byte)
}

// NewPullConnection makes a PULL connection whose handler gets each
// message's frames on the factory's loop (txZMQ's onPull).
func NewPullConnection(f *Factory, handler func(parts [][]byte), opts ...Option) (*PullConnection, error) {
	c, err := newConnection(f, "PullConnection", zmq.Pull, opts)
	if err != nil {
		return nil, err
	}
	p := &PullConnection{Connection: c, handler: handler}
	c.onMsg = p.messageReceived
	if err := c.start(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PullConnection) messageReceived(m zmq.Msg) {
	if p.handler != nil {
		p.handler(m.Frames)
	}
}
