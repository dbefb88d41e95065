package zmq_test

// Conformance: REQ and REP (RFC 28, libzmq 4.3).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// ------------------------------------------------------------------- REQ/REP

func TestREQStrictAlternation(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			req, rep := newSock(t, zmq.Req), newSock(t, zmq.Rep)
			link(t, req, rep, dir.aBinds)
			ctx := timeout(t, long)
			if _, err := req.Recv(ctx); !errors.Is(err, zmq.ErrState) {
				t.Fatalf("REQ Recv before Send = %v, want ErrState", err)
			}
			if err := rep.Send(ctx, zmq.NewMsgString("x")); !errors.Is(err, zmq.ErrState) {
				t.Fatalf("REP Send before Recv = %v, want ErrState", err)
			}
			for i := 0; i < 3; i++ {
				mustSend(t, req, "q", fmt.Sprint(i))
				if err := req.Send(ctx, zmq.NewMsgString("again")); !errors.Is(err, zmq.ErrState) {
					t.Fatalf("second REQ Send = %v, want ErrState", err)
				}
				wantFrames(t, mustRecv(t, rep), "q", fmt.Sprint(i))
				if _, err := rep.Recv(ctx); !errors.Is(err, zmq.ErrState) {
					t.Fatalf("second REP Recv = %v, want ErrState", err)
				}
				mustSend(t, rep, "a", fmt.Sprint(i))
				if err := rep.Send(ctx, zmq.NewMsgString("again")); !errors.Is(err, zmq.ErrState) {
					t.Fatalf("second REP Send = %v, want ErrState", err)
				}
				wantFrames(t, mustRecv(t, req), "a", fmt.Sprint(i))
				if _, err := req.Recv(ctx); !errors.Is(err, zmq.ErrState) {
					t.Fatalf("second REQ Recv = %v, want ErrState", err)
				}
			}
		})
	}
}

func TestREQRoundRobin(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			req := newSock(t, zmq.Req)
			reps := []*zmq.Socket{newSock(t, zmq.Rep), newSock(t, zmq.Rep)}
			for i, rep := range reps {
				link(t, req, rep, dir.aBinds)
				serveEcho(t, rep, fmt.Sprint(i))
			}
			// Until both REPs are attached, requests may all go to one.
			seen := map[string]bool{}
			for len(seen) < 2 {
				mustSend(t, req, "probe")
				seen[string(mustRecv(t, req).Frames[0])] = true
			}
			var prev string
			for i := 0; i < 10; i++ {
				mustSend(t, req, "q")
				who := string(mustRecv(t, req).Frames[0])
				if who == prev {
					t.Fatalf("request %d went to REP %s again: not round-robin", i, who)
				}
				prev = who
			}
		})
	}
}

func TestREQReplyOnlyFromAskedPeer(t *testing.T) {
	req := newSock(t, zmq.Req, zmq.WithRoutingID([]byte("req")))
	routers := []*zmq.Socket{
		newSock(t, zmq.Router, zmq.WithRouterMandatory(true)),
		newSock(t, zmq.Router, zmq.WithRouterMandatory(true)),
	}
	for _, r := range routers {
		connectTo(t, req, bindTCP(t, r))
	}
	in := collect(t, routers...)
	mustSend(t, req, "question")
	got := next(t, in)
	wantFrames(t, got.m, "req", "", "question")
	asked, other := routers[got.from], routers[1-got.from]
	// The other ROUTER answers uninvited: REQ must ignore it.
	routerSend(t, other, "req", "", "bogus")
	noMsg(t, req, 300*time.Millisecond)
	mustSend(t, asked, "req", "", "real")
	wantFrames(t, mustRecv(t, req), "real")
	// And a malformed reply (no delimiter) from the asked peer is dropped too.
	mustSend(t, req, "question2")
	got = next(t, in)
	r := routers[got.from]
	mustSend(t, r, "req", "no-delimiter")
	mustSend(t, r, "req", "", "good")
	wantFrames(t, mustRecv(t, req), "good")
}

func TestREPEnvelope(t *testing.T) {
	for _, dir := range directions {
		t.Run(dir.name, func(t *testing.T) {
			dealer, rep := newSock(t, zmq.Dealer), newSock(t, zmq.Rep)
			link(t, dealer, rep, dir.aBinds)

			mustSend(t, dealer, "", "hello")
			wantFrames(t, mustRecv(t, rep), "hello")
			mustSend(t, rep, "hello-reply")
			wantFrames(t, mustRecv(t, dealer), "", "hello-reply")

			// A multi-hop envelope (as built by ROUTER-DEALER proxies) comes back whole.
			mustSend(t, dealer, "hop1", "hop2", "", "body", "more")
			wantFrames(t, mustRecv(t, rep), "body", "more")
			mustSend(t, rep, "r1", "r2")
			wantFrames(t, mustRecv(t, dealer), "hop1", "hop2", "", "r1", "r2")

			// No delimiter: REP drops the message.
			mustSend(t, dealer, "no-delim")
			mustSend(t, dealer, "", "ok")
			wantFrames(t, mustRecv(t, rep), "ok")
			mustSend(t, rep, "ok-reply")
			wantFrames(t, mustRecv(t, dealer), "", "ok-reply")

			// An empty body after the delimiter is a valid request.
			mustSend(t, dealer, "", "")
			wantFrames(t, mustRecv(t, rep), "")
			mustSend(t, rep, "")
			wantFrames(t, mustRecv(t, dealer), "", "")
		})
	}
}

// REQ -> ROUTER | proxy | DEALER -> REP: the envelope grows at each hop and
// every reply finds its way back to the requester that asked.
func TestREQROUTERDEALERREPChain(t *testing.T) {
	front, back := newSock(t, zmq.Router), newSock(t, zmq.Dealer)
	frontEP, backEP := bindTCP(t, front), bindTCP(t, back)
	pump := func(from, to *zmq.Socket) {
		background(t, func(ctx context.Context) {
			for {
				m, err := from.Recv(ctx)
				if err != nil || to.Send(ctx, m) != nil {
					return
				}
			}
		})
	}
	pump(front, back)
	pump(back, front)
	for i := 0; i < 2; i++ {
		rep := newSock(t, zmq.Rep)
		connectTo(t, rep, backEP)
		serveEcho(t, rep, fmt.Sprintf("rep%d", i))
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		req := newSock(t, zmq.Req)
		connectTo(t, req, frontEP)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := timeout(t, long)
			for k := 0; k < 20; k++ {
				body := fmt.Sprintf("req%d-%d", i, k)
				if err := req.Send(ctx, zmq.NewMsgString(body)); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
				m, err := req.Recv(ctx)
				if err != nil {
					t.Errorf("Recv: %v", err)
					return
				}
				if len(m.Frames) != 2 || !strings.HasPrefix(string(m.Frames[0]), "rep") || string(m.Frames[1]) != body {
					t.Errorf("request %q got reply %q", body, frames(m))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// A reply goes back to whichever requester asked, even with many.
func TestREPRepliesToRequester(t *testing.T) {
	rep := newSock(t, zmq.Rep)
	ep := bindTCP(t, rep)
	serveEcho(t, rep, "rep")
	var reqs []*zmq.Socket
	for i := 0; i < 3; i++ {
		req := newSock(t, zmq.Req)
		connectTo(t, req, ep)
		reqs = append(reqs, req)
	}
	for round := 0; round < 3; round++ {
		for i, req := range reqs {
			mustSend(t, req, fmt.Sprint(i))
		}
		for i, req := range reqs {
			wantFrames(t, mustRecv(t, req), "rep", fmt.Sprint(i))
		}
	}
}
