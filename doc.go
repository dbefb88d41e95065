// Package zmq is ZeroMQ in pure Go: ZMTP 3.1 sockets (3.0 peers accepted)
// that interoperate with libzmq and every binding built on it.
//
// A Socket has one of the classic types (PAIR, PUB, SUB, PUSH, PULL, REQ, REP,
// DEALER, ROUTER, and XPUB/XSUB), binds or connects to any number of
// endpoints, and moves multipart messages (Msg). Send and Recv are safe for
// concurrent use, take a context, and return promptly when it is cancelled.
// Close unblocks them with an error that satisfies errors.Is(err, net.ErrClosed).
// Close waits for queued outgoing messages only while a peer can take them,
// and at most the linger (WithLinger, default 30 s), so a deferred Close
// never hangs on a peer that never comes; Shutdown waits through
// reconnections until its context is done and reports what it could not
// deliver (*UndeliveredError).
//
//	pull, err := zmq.NewSocket(zmq.Pull)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer pull.Close()
//	if err := pull.Bind("tcp://127.0.0.1:5680"); err != nil {
//		log.Fatal(err) // the port is taken, say
//	}
//	msg, err := pull.Recv(context.Background())
//	if err != nil {
//		log.Fatal(err)
//	}
//	fmt.Printf("%q\n", msg.Frames)
//
// Behaviour follows libzmq 4.3 where the RFCs leave room: high-water marks of
// 1000 messages, background reconnection for connected endpoints, messages
// queued before the peer is there, PUB dropping for a subscriber at its
// high-water mark, PUSH and DEALER blocking when every peer is full.
//
// Ownership: Send takes ownership of the message's frames until the message
// is on the wire; do not modify them after Send. Frames returned by Recv
// belong to the caller.
//
// Buffers: large frames can be recycled instead of collected. A receiver
// done with a message calls Msg.Release (frames of 64 KiB and more, up to 1 MiB); a
// sender takes its buffer from AllocMsg (32 KiB to 1 MiB), which goes back to
// the pool once written. Both are optional.
//
// Latency: REQ and REP sockets with one peer over tcp or ipc read and write
// that connection from the goroutine calling Recv and Send when they can,
// sparing the hand-off to the connection's own goroutines (a thread wake-up
// each); the connection's goroutines take over whenever the application is
// away, so heartbeats and disconnects are handled as always.
package zmq
