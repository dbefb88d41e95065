// Package zmtp is the ZMTP 3.x wire codec: greeting, frames, commands, metadata
// and the security mechanisms' command formats. It does no I/O policy: callers
// own the connection, the timeouts and what to do with a decoding error.
//
// The normative texts are ZeroMQ RFC 23 (ZMTP 3.0) and RFC 37 (ZMTP 3.1);
// where libzmq 4.3 differs from the text we follow libzmq.
package zmtp
