// Command zmq4 is go-zeromq/zmq4's peer in the comparison; see
// bench/internal/proto for its command line and what it prints.
//
// zmq4 has no per-socket high-water marks: PUSH and REQ write synchronously
// to the connection, and only PUB has a queue (OptionHWM, messages beyond it
// dropped), which gets HWM.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zeromq/zmq4"
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
		var s zmq4.Socket
		if a.Pattern == "pubsub" {
			s = zmq4.NewSub(ctx)
			check("subscribe", s.SetOption(zmq4.OptionSubscribe, ""))
		} else {
			s = zmq4.NewPull(ctx)
		}
		defer s.Close()
		check("bind", s.Listen(a.Endpoint))
		ready(a.Endpoint)
		var n uint64
		var t0 time.Time
		warmed := false
		for {
			m, err := s.Recv()
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
		}
	case "reqrep":
		s := zmq4.NewRep(ctx)
		defer s.Close()
		check("bind", s.Listen(a.Endpoint))
		ready(a.Endpoint)
		for n := 0; ; n++ {
			m, err := s.Recv()
			check("recv", err)
			check("send", s.Send(m))
			if proto.Kind(m.Frames[0]) == proto.KindEnd {
				proto.Println("RESULT served=%d", n)
				// zmq4 closes connections at once: give the reply time to leave.
				time.Sleep(100 * time.Millisecond)
				return
			}
		}
	}
}

func sendSide(a proto.Args, ep string, ctl *proto.Control) {
	switch a.Pattern {
	case "pushpull":
		s := zmq4.NewPush(ctx)
		check("connect", s.Dial(ep))
		n := sendData(s, a)
		check("send", s.Send(zmq4.NewMsg(proto.End(a.Size, n))))
		// Send wrote to the connection; the receiver's end of it says when
		// everything arrived, as the receiver exits after the end marker.
		time.Sleep(100 * time.Millisecond)
		s.Close()
		proto.Println("SENT %d", n)
	case "pubsub":
		s := zmq4.NewPub(ctx)
		check("hwm", s.SetOption(zmq4.OptionHWM, a.HWM))
		check("connect", s.Dial(ep))
		warm := zmq4.NewMsg(proto.Warm(a.Size))
	warmup:
		for {
			select {
			case <-ctl.Go:
				break warmup
			default:
			}
			check("send", s.Send(warm))
			time.Sleep(time.Millisecond)
		}
		n := sendData(s, a)
		end := zmq4.NewMsg(proto.End(a.Size, n))
		t := time.NewTicker(time.Millisecond)
	ending:
		for {
			check("send", s.Send(end))
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
		s := zmq4.NewReq(ctx)
		defer s.Close()
		check("connect", s.Dial(ep))
		msg := zmq4.NewMsg(proto.Data(a.Size))
		rt := func() {
			check("send", s.Send(msg))
			r, err := s.Recv()
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
		msg = zmq4.NewMsg(proto.End(a.Size, uint64(len(rtts))))
		rt()
		proto.Latency(rtts)
	}
}

// sendData sends data messages for a.Duration and returns how many.
func sendData(s zmq4.Socket, a proto.Args) uint64 {
	msg := zmq4.NewMsg(proto.Data(a.Size))
	var n uint64
	deadline := time.Now().Add(a.Duration)
	for {
		for i := 0; i < proto.CheckEvery; i++ {
			if a.Fresh {
				msg = zmq4.NewMsg(proto.Data(a.Size))
			}
			check("send", s.Send(msg))
		}
		n += proto.CheckEvery
		if time.Now().After(deadline) {
			return n
		}
	}
}
