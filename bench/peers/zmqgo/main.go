// Command zmqgo is zmqgo's peer in the comparison; see bench/internal/proto
// for its command line and what it prints.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/bench/internal/proto"
)

var ctx = context.Background()

func main() {
	a := proto.Parse()
	switch a.Role {
	case "recv":
		recvSide(a, func(ep string) { proto.Println("READY %s", ep) }, func() { proto.Println("SUBSCRIBED") })
	case "send":
		sendSide(a, a.Endpoint, proto.StdinControl())
	case "both":
		ready := make(chan string, 1)
		ctl := proto.NewControl()
		done := make(chan struct{})
		go func() {
			defer close(done)
			recvSide(a, func(ep string) { ready <- ep }, func() { close(ctl.Go) })
			close(ctl.Stop)
		}()
		sendSide(a, <-ready, ctl)
		<-done
	}
}

func check(what string, err error) {
	if err != nil {
		proto.Fatal(what, err)
	}
}

func recvSide(a proto.Args, ready func(string), subscribed func()) {
	switch a.Pattern {
	case "pushpull", "pubsub":
		typ := zmq.Pull
		if a.Pattern == "pubsub" {
			typ = zmq.Sub
		}
		s, err := zmq.NewSocket(typ, zmq.WithRecvHWM(a.HWM), zmq.WithLinger(0))
		check("socket", err)
		defer s.Close()
		if typ == zmq.Sub {
			check("subscribe", s.Subscribe(nil))
		}
		check("bind", s.Bind(a.Endpoint))
		ready(s.LastEndpoint())
		var n uint64
		var t0 time.Time
		warmed := false
		for {
			m, err := s.Recv(ctx)
			check("recv", err)
			f := m.Frames[0]
			if len(f) != a.Size {
				check("recv", fmt.Errorf("got %d bytes, want %d", len(f), a.Size))
			}
			switch proto.Kind(f) {
			case proto.KindData:
				if n == 0 {
					t0 = time.Now()
				}
				n++
				if a.Delay > 0 {
					time.Sleep(a.Delay)
				}
			case proto.KindWarm:
				if !warmed {
					warmed = true
					subscribed()
				}
			case proto.KindEnd:
				proto.Throughput(n, time.Since(t0), a.Size, proto.Sent(f))
				return
			}
			m.Release() // its buffer serves a later receive
		}
	case "reqrep":
		s, err := zmq.NewSocket(zmq.Rep, zmq.WithRecvHWM(a.HWM), zmq.WithSendHWM(a.HWM), zmq.WithLinger(time.Second))
		check("socket", err)
		defer s.Close()
		check("bind", s.Bind(a.Endpoint))
		ready(s.LastEndpoint())
		for n := 0; ; n++ {
			m, err := s.Recv(ctx)
			check("recv", err)
			check("send", s.Send(ctx, m))
			if proto.Kind(m.Frames[0]) == proto.KindEnd {
				proto.Println("RESULT served=%d", n)
				return
			}
		}
	}
}

func sendSide(a proto.Args, ep string, ctl *proto.Control) {
	switch a.Pattern {
	case "pushpull":
		s, err := zmq.NewSocket(zmq.Push, zmq.WithSendHWM(a.HWM), zmq.WithLinger(-1))
		check("socket", err)
		check("connect", s.Connect(ep))
		n := sendData(s, a)
		check("send", s.Send(ctx, zmq.NewMsg(proto.End(a.Size, n))))
		check("close", s.Close())
		proto.Println("SENT %d", n)
	case "pubsub":
		s, err := zmq.NewSocket(zmq.Pub, zmq.WithSendHWM(a.HWM), zmq.WithLinger(0), zmq.WithXPubNoDrop(a.NoDrop))
		check("socket", err)
		check("connect", s.Connect(ep))
		warm := zmq.NewMsg(proto.Warm(a.Size))
	warmup:
		for {
			select {
			case <-ctl.Go:
				break warmup
			default:
			}
			check("send", s.Send(ctx, warm))
			time.Sleep(time.Millisecond)
		}
		n := sendData(s, a)
		end := zmq.NewMsg(proto.End(a.Size, n))
		t := time.NewTicker(time.Millisecond)
	ending:
		for {
			check("send", s.Send(ctx, end))
			select {
			case <-ctl.Stop:
				break ending
			case <-t.C:
			}
		}
		t.Stop()
		s.Close()
		proto.Println("SENT %d", n)
	case "reqrep":
		s, err := zmq.NewSocket(zmq.Req, zmq.WithLinger(0))
		check("socket", err)
		defer s.Close()
		check("connect", s.Connect(ep))
		msg := zmq.NewMsg(proto.Data(a.Size))
		rt := func() {
			check("send", s.Send(ctx, msg))
			r, err := s.Recv(ctx)
			check("recv", err)
			if len(r.Frames) != 1 || len(r.Frames[0]) != a.Size {
				check("recv", fmt.Errorf("bad reply: %d frames", len(r.Frames)))
			}
		}
		for i := 0; i < proto.WarmupRoundTrips; i++ {
			rt()
		}
		rtts := make([]int64, 0, 1<<16)
		deadline := time.Now().Add(a.Duration)
		for len(rtts) < proto.MaxSamples {
			t := time.Now()
			rt()
			el := time.Since(t)
			rtts = append(rtts, int64(el))
			if t.Add(el).After(deadline) {
				break
			}
		}
		msg = zmq.NewMsg(proto.End(a.Size, uint64(len(rtts))))
		rt()
		proto.Latency(rtts)
	}
}

// sendData sends data messages for a.Duration and returns how many.
func sendData(s *zmq.Socket, a proto.Args) uint64 {
	msg := zmq.NewMsg(proto.Data(a.Size))
	var n uint64
	deadline := time.Now().Add(a.Duration)
	for {
		for i := 0; i < proto.CheckEvery; i++ {
			if a.Fresh {
				msg = zmq.NewMsg(proto.Data(a.Size))
			}
			if a.Alloc {
				msg = zmq.AllocMsg(a.Size)
				clear(msg.Frames[0]) // a data message, written like a fresh one
			}
			check("send", s.Send(ctx, msg))
		}
		n += proto.CheckEvery
		if time.Now().After(deadline) {
			return n
		}
	}
}
