package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// checkEndpoint catches endpoints that are not even TRANSPORT://ADDRESS
// before any socket exists; the library judges the rest.
func checkEndpoint(ep string) error {
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok || scheme == "" || rest == "" {
		return fmt.Errorf("invalid endpoint %q: want TRANSPORT://ADDRESS, such as tcp://127.0.0.1:5555", ep)
	}
	return nil
}

// errUnknownHost is the error of checkConnect for a host name that does
// not resolve.
var errUnknownHost = errors.New("host unknown")

// resolveTimeout bounds the look-up of a --connect host at start.
const resolveTimeout = 5 * time.Second

// checkConnect is checkEndpoint for an endpoint to connect to, and also
// resolves a tcp host name: a socket would retry an unknown host forever
// in silence, so the command fails at start instead (exit 2), whatever the
// subcommand.
func checkConnect(ep string) error {
	if err := checkEndpoint(ep); err != nil {
		return err
	}
	rest, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return nil
	}
	if _, addr, ok := strings.Cut(rest, ";"); ok { // libzmq's tcp://SOURCE;HOST:PORT
		rest = addr
	}
	host, _, err := net.SplitHostPort(rest)
	if err != nil || host == "" || host == "*" || net.ParseIP(host) != nil {
		return nil // the library judges malformed addresses
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return fmt.Errorf("%s: %w: %q does not resolve", ep, errUnknownHost, host)
		}
		return fmt.Errorf("%s: %w: looking up %q: %v", ep, errUnknownHost, host, err)
	}
	return nil
}
