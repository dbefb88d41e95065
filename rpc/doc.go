// Package rpc speaks hololinked's ZeroMQ RPC protocol (hololinked 0.3.12,
// hololinked/core/zmq): a Server exposes Things (properties, actions and
// events) to hololinked's Python clients, and a Client calls hololinked
// Python servers, or zmqgo ones.
//
// # Wire format
//
// Requests and replies travel between two ROUTER sockets as five frames:
// the peer's identity, an empty delimiter, a JSON header, the payload, and a
// "preencoded" payload of raw bytes. The server's socket identity is the
// server id; the client's is its id, which it also puts in the header as
// senderID, because the server routes replies by that field. Events go out
// on a PUB socket (here an XPUB) as [topic, "", header, payload, preencoded]
// with topic "{thing id}/{event name}". The payload codec is named by the
// header's payloadContentType: application/json (the default),
// application/msgpack or text/plain. Pickle is not supported.
//
// # Beyond hololinked
//
// The Server cancels an action's context when its execution timeout fires and
// frees the Thing's queue at once (hololinked lets the action run on and
// block the queue); properties and actions may declare default timeouts;
// actions may opt in to running concurrently. Late event subscribers get the
// last value of each event at once (a last-value cache driven by the XPUB
// seeing the subscription), and the Client matches event topics exactly
// (hololinked's SUB prefix match lets "demo/tic" receive "demo/tick"). A
// client's EXIT stops the server only if WithAllowExit says so. Every socket
// takes the zmq security options (CURVE, PLAIN) through WithSocketOptions.
package rpc
