// Package transport parses ZeroMQ endpoints and opens the underlying stream
// connections. It knows nothing of ZMTP.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrInvalid means the endpoint string is malformed.
	ErrInvalid = errors.New("invalid endpoint")
	// ErrUnsupported means the endpoint names a transport we do not offer.
	ErrUnsupported = errors.New("unsupported transport")
)

// Endpoint is a parsed endpoint such as tcp://127.0.0.1:5555.
type Endpoint struct {
	Transport string // "tcp", "ipc" or "inproc"
	Network   string // for tcp: "tcp4", "tcp6" or "tcp"; for ipc: "unix"
	Address   string // tcp: host:port; ipc: path ("@name" abstract, "*" temporary); inproc: name
}

// MaxIPCPath is the longest ipc path (sun_path is 108 bytes with its NUL).
const MaxIPCPath = 107

func (e Endpoint) String() string { return e.Transport + "://" + e.Address }

// Parse parses an endpoint. For bind, host "*" means every IPv4 interface (as
// libzmq without ZMQ_IPV6) and port "*" or "0" an ephemeral port; for
// connect, host and port are required.
func Parse(s string, bind bool) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return Endpoint{}, fmt.Errorf("%w %q: want transport://address", ErrInvalid, s)
	}
	switch scheme {
	case "tcp":
	case "ipc":
		return parseIPC(s, rest, bind)
	case "inproc":
		if rest == "" {
			return Endpoint{}, fmt.Errorf("%w %q: inproc needs a name", ErrInvalid, s)
		}
		return Endpoint{Transport: scheme, Address: rest}, nil
	default:
		return Endpoint{}, fmt.Errorf("%w %q in %q", ErrUnsupported, scheme, s)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
	}
	if port == "*" {
		port = "0"
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: bad port %q", ErrInvalid, s, port)
	}
	if !bind && pn == 0 {
		return Endpoint{}, fmt.Errorf("%w %q: connect needs a port", ErrInvalid, s)
	}
	network := "tcp"
	switch {
	case host == "*":
		if !bind {
			return Endpoint{}, fmt.Errorf("%w %q: connect needs a host", ErrInvalid, s)
		}
		host, network = "0.0.0.0", "tcp4"
	case host == "":
		return Endpoint{}, fmt.Errorf("%w %q: missing host", ErrInvalid, s)
	default:
		if ip := net.ParseIP(host); ip != nil {
			if ip.To4() != nil {
				network = "tcp4"
			} else {
				network = "tcp6"
			}
		} else if strings.ContainsAny(host, " /\\") {
			return Endpoint{}, fmt.Errorf("%w %q: bad host %q", ErrInvalid, s, host)
		}
	}
	return Endpoint{Transport: scheme, Network: network, Address: net.JoinHostPort(host, strconv.FormatUint(pn, 10))}, nil
}

func parseIPC(s, path string, bind bool) (Endpoint, error) {
	switch {
	case path == "":
		return Endpoint{}, fmt.Errorf("%w %q: ipc needs a path", ErrInvalid, s)
	case path == "*" && !bind:
		return Endpoint{}, fmt.Errorf("%w %q: connect needs a real path", ErrInvalid, s)
	case len(path) > MaxIPCPath:
		return Endpoint{}, fmt.Errorf("%w %q: ipc path is %d bytes, the limit is %d", ErrInvalid, s, len(path), MaxIPCPath)
	case strings.IndexByte(path, 0) >= 0:
		return Endpoint{}, fmt.Errorf("%w %q: NUL in ipc path", ErrInvalid, s)
	}
	return Endpoint{Transport: "ipc", Network: "unix", Address: path}, nil
}

// Listener is a bound endpoint.
type Listener struct {
	net.Listener
	tmpDir string // ipc://*: the directory made for the socket, removed on Close
}

// Close stops listening and removes what Listen created on disk.
func (l *Listener) Close() error {
	err := l.Listener.Close()
	if l.tmpDir != "" {
		os.RemoveAll(l.tmpDir)
	}
	return err
}

// Listen opens a listener for e. The returned endpoint has the real port
// (tcp) or path (ipc://*).
func Listen(e Endpoint) (*Listener, string, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	switch e.Transport {
	case "ipc":
		path, tmp := e.Address, ""
		switch {
		case path == "*":
			// libzmq makes a fresh path in a private temporary directory.
			dir, err := os.MkdirTemp("", "zmq-")
			if err != nil {
				return nil, "", err
			}
			tmp, path = dir, filepath.Join(dir, "socket")
		case path[0] == '@':
			// Abstract namespace (Linux): Go spells it with a leading '@' too.
		default:
			// A file left by a process that died is replaced, as libzmq does.
			if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
				os.Remove(path)
			}
		}
		l, err := lc.Listen(context.Background(), "unix", path)
		if err != nil {
			if tmp != "" {
				os.RemoveAll(tmp)
			}
			return nil, "", err
		}
		return &Listener{Listener: l, tmpDir: tmp}, "ipc://" + path, nil
	}
	l, err := lc.Listen(context.Background(), e.Network, e.Address)
	if err != nil {
		return nil, "", err
	}
	return &Listener{Listener: l}, e.Transport + "://" + l.Addr().String(), nil
}

// KeepAlive holds TCP keepalive settings; On < 0 leaves the OS default.
type KeepAlive struct {
	On             int
	Idle, Interval time.Duration
	Count          int
}

// Configure applies TCP settings to a connection: no Nagle delay (as libzmq)
// and the keepalive settings.
func Configure(c net.Conn, ka KeepAlive) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	if err := tc.SetNoDelay(true); err != nil {
		return err
	}
	switch ka.On {
	case 0:
		return tc.SetKeepAlive(false)
	case 1:
		return tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: ka.Idle, Interval: ka.Interval, Count: ka.Count})
	}
	return nil
}

// Dial connects to e.
func Dial(ctx context.Context, e Endpoint) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1}
	return d.DialContext(ctx, e.Network, e.Address)
}
