package main

import (
	"context"
	"sync"

	"github.com/zmqgo/zmq"
)

// peerWatch follows a socket's monitor events: how many peers are
// connected (handshake completed) now, whether one ever was, and the last
// failed handshake, for what the command says while it waits and when it
// could not deliver.
type peerWatch struct {
	mu      sync.Mutex
	live    map[string]bool // endpoint + " " + peer address
	ever    bool
	lastErr error
	changed chan struct{} // closed and replaced on every change
	done    chan struct{} // closed when the monitor has ended
}

// watchPeers starts following s's events until ctx ends or s closes.
func watchPeers(ctx context.Context, s *zmq.Socket) *peerWatch {
	w := &peerWatch{live: map[string]bool{}, changed: make(chan struct{}), done: make(chan struct{})}
	events := s.Monitor(ctx)
	go func() {
		defer close(w.done)
		for ev := range events {
			w.event(ev)
		}
	}()
	return w
}

func (w *peerWatch) event(ev zmq.Event) {
	key := ev.Endpoint + " " + ev.PeerAddr
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev.Type {
	case zmq.EventHandshakeSucceeded:
		w.live[key], w.ever = true, true
	case zmq.EventDisconnected:
		delete(w.live, key)
	case zmq.EventHandshakeFailedAuth, zmq.EventHandshakeFailedProtocol, zmq.EventHandshakeFailedNoDetail:
		w.lastErr = ev.Err
	default:
		return
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// peers returns the number of connected peers and a channel closed at the
// next change.
func (w *peerWatch) peers() (int, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.live), w.changed
}

// status returns whether a peer ever completed a handshake and the last
// handshake failure.
func (w *peerWatch) status() (ever bool, lastErr error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ever, w.lastErr
}
