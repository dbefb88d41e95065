package zmq

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// After a burst of pipelined requests answered by a handler's TrySends
// (tcp and inproc), the socket is left uncorked with no pipe waiting for a
// flush: every handler call's start was matched by its end, so a later
// TrySend from elsewhere wakes its writer at once.
func TestHandlerCorkBalanced(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "inproc://" + t.Name()} {
		t.Run(ep[:3], func(t *testing.T) {
			var srv *Socket
			srv, err := NewSocket(Router, WithLinger(0), WithSendHWM(0), WithHandler(func(m Msg) { srv.TrySend(m) }))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if err := srv.Bind(ep); err != nil {
				t.Fatal(err)
			}
			c, err := NewSocket(Dealer, WithLinger(0))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Connect(srv.LastEndpoint()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const n = 3000
			errc := make(chan error, 1)
			go func() {
				for i := range n {
					if err := c.Send(ctx, NewMsgString(strconv.Itoa(i))); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := range n {
				m, err := c.Recv(ctx)
				if err != nil {
					t.Fatalf("reply %d: %v", i, err)
				}
				if got := string(m.Frames[0]); got != strconv.Itoa(i) {
					t.Fatalf("reply %d is %q", i, got)
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			// The last handler call may still be between its TrySend (which
			// the writer may already have written) and its end: there is no
			// event for that end, so look until it came.
			deadline := time.Now().Add(10 * time.Second)
			for {
				srv.corkMu.Lock()
				corked, dirty := srv.corked, len(srv.dirty)
				srv.corkMu.Unlock()
				if corked == 0 && dirty == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("at rest: %d handler call(s) counted as running, %d pipe(s) waiting for a flush", corked, dirty)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}
