package reactor

import "fmt"

// EndpointType says whether a connection binds (listens) or connects to an
// endpoint (txZMQ's ZmqEndpointType).
type EndpointType string

const (
	// BindType listens for peers on the address.
	BindType EndpointType = "bind"
	// ConnectType connects to a peer at the address, in the background and
	// again whenever the connection breaks.
	ConnectType EndpointType = "connect"
)

// Endpoint is an address a connection binds or connects to (txZMQ's
// ZmqEndpoint). Address is a ZeroMQ endpoint such as "tcp://127.0.0.1:5555",
// "ipc:///tmp/feed.sock" or "inproc://jobs".
//
// An Endpoint is also an Option: pass any number of them, bind and connect
// mixed, to a connection's constructor.
type Endpoint struct {
	Type    EndpointType
	Address string
}

// Bind returns the endpoint that listens on addr.
func Bind(addr string) Endpoint { return Endpoint{Type: BindType, Address: addr} }

// Connect returns the endpoint that connects to addr.
func Connect(addr string) Endpoint { return Endpoint{Type: ConnectType, Address: addr} }

// String returns "bind tcp://..." or "connect tcp://...".
func (e Endpoint) String() string { return string(e.Type) + " " + e.Address }

func (e Endpoint) applyConn(c *connConfig) { c.endpoints = append(c.endpoints, e) }

func (e Endpoint) check() error {
	if e.Type != BindType && e.Type != ConnectType {
		return fmt.Errorf("%w %q for %s", ErrInvalidEndpoint, string(e.Type), e.Address)
	}
	return nil
}
