// Command channelsload measures a django-message-broker compatible
// channel-layer server (zmqgo channels, or DMB's own) with raw DEALERs
// framing messages as DMB's client does:
//
//   - pairs: P senders each send N messages (SENDCHAN, no ack, as DMB's
//     layer sends) to their own channel, with W in flight, and P receivers
//     subscribed to them count the DELIVERYs: messages/s.
//   - fan-out: G channels in one group (GROUPADD, acked), subscribed by
//     10 receivers; R times one SENDGRPX, timed until all G deliveries
//     arrived: latency p50 / max.
//
// With --pid it reports the server process's CPU time per 1000 messages
// (from /proc), a measure less noisy than wall time on a shared machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/channels"
)

type result struct {
	Server       string  `json:"server"`
	Pairs        int     `json:"pairs"`
	Messages     int     `json:"messages"`
	PerSec       float64 `json:"msgs_per_sec"`
	PairsCPUms   float64 `json:"pairs_server_cpu_ms_per_1000"`
	Group        int     `json:"group"`
	FanoutP50ms  float64 `json:"fanout_p50_ms"`
	FanoutMaxms  float64 `json:"fanout_max_ms"`
	FanoutCPUms  float64 `json:"fanout_server_cpu_ms_per_1000"`
	FanoutRounds int     `json:"fanout_rounds"`
}

func main() {
	addr := flag.String("connect", "tcp://127.0.0.1:5556", "server data port `ADDR`")
	name := flag.String("name", "server", "`NAME` in the result")
	pairs := flag.Int("pairs", 4, "`P` sender/receiver pairs")
	n := flag.Int("messages", 20000, "`N` messages per pair")
	window := flag.Int("window", 100, "`W` messages in flight per pair")
	group := flag.Int("group", 1000, "`G` channels in the group")
	rounds := flag.Int("rounds", 20, "`R` timed group sends")
	pid := flag.Int("pid", 0, "server `PID` for CPU time")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after `D`")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r := result{Server: *name, Pairs: *pairs, Messages: *pairs * *n, Group: *group, FanoutRounds: *rounds}
	if *pairs > 0 {
		c0 := cpu(*pid)
		d, err := runPairs(ctx, *addr, *pairs, *n, *window)
		if err != nil {
			fail(err)
		}
		r.PerSec = float64(r.Messages) / d.Seconds()
		r.PairsCPUms = (cpu(*pid) - c0) * 1000 / float64(r.Messages) * 1000
	}
	if *group > 0 {
		c0 := cpu(*pid)
		lat, err := runFanout(ctx, *addr, *group, *rounds)
		if err != nil {
			fail(err)
		}
		slices.Sort(lat)
		r.FanoutP50ms = ms(lat[len(lat)/2])
		r.FanoutMaxms = ms(lat[len(lat)-1])
		r.FanoutCPUms = (cpu(*pid) - c0) * 1000 / float64((*rounds+1)**group) * 1000
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "channelsload:", err)
	os.Exit(1)
}

// cpu returns the process's user+system CPU seconds (0 without a pid).
func cpu(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100 // clock ticks (USER_HZ 100)
}

func dealer(addr string, port int) *zmq.Socket {
	s, err := zmq.NewSocket(zmq.Dealer, zmq.WithSendHWM(100000), zmq.WithRecvHWM(100000), zmq.WithLinger(0))
	if err != nil {
		fail(err)
	}
	host, p, err := channels.SplitBind(addr)
	if err != nil {
		fail(err)
	}
	if err := s.Connect(fmt.Sprintf("tcp://%s:%d", host, p+port)); err != nil {
		fail(err)
	}
	return s
}

var body, _ = channels.EncodeMessage(channels.Message{"type": "bench.message", "text": strings.Repeat("x", 64)})

func dataMsg(channel, cmd string, p channels.Props, b []byte) zmq.Msg {
	fr, err := channels.DataMessage{Channel: []byte(channel), Command: cmd, ID: id(), Props: p, Body: b}.Frames()
	if err != nil {
		fail(err)
	}
	return zmq.Msg{Frames: append([][]byte{nil}, fr...)}
}

var idn atomic.Uint64

func id() []byte {
	b := make([]byte, 16)
	v := idn.Add(1)
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

// ack sends a signalling request with ack and waits for its reply.
func ack(ctx context.Context, sig *zmq.Socket, cmd string, p channels.Props) error {
	mid := id()
	fr, _ := channels.SignalMessage{ID: mid, Command: cmd, Props: p}.Frames()
	if err := sig.Send(ctx, zmq.Msg{Frames: append([][]byte{nil}, fr...)}); err != nil {
		return err
	}
	for {
		m, err := sig.Recv(ctx)
		if err != nil {
			return err
		}
		if len(m.Frames) == 4 && string(m.Frames[1]) == string(mid) {
			return nil
		}
	}
}

func runPairs(ctx context.Context, addr string, pairs, n, window int) (time.Duration, error) {
	type pair struct {
		send, recv *zmq.Socket
		got        atomic.Int64
		ch         string
	}
	ps := make([]*pair, pairs)
	for i := range ps {
		p := &pair{send: dealer(addr, 0), recv: dealer(addr, 0), ch: fmt.Sprintf("bench.pair%d", i)}
		defer p.send.Close()
		defer p.recv.Close()
		ps[i] = p
		if err := p.recv.Send(ctx, dataMsg(p.ch, channels.CmdSubscribe, channels.Props{{Key: "subscriber_name", Value: []byte(p.ch)}}, nil)); err != nil {
			return 0, err
		}
	}
	// Warm-up: one message per pair, which also proves the subscription.
	for _, p := range ps {
		p.send.Send(ctx, dataMsg(p.ch, channels.CmdSend, channels.Props{{Key: "ttl", Value: 60}, {Key: "ack", Value: false}}, body))
		if _, err := p.recv.Recv(ctx); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 2*pairs)
	for _, p := range ps {
		wg.Add(2)
		space := make(chan struct{}, window)
		for range window {
			space <- struct{}{}
		}
		go func() {
			defer wg.Done()
			for range n {
				select {
				case <-space:
				case <-ctx.Done():
					errc <- ctx.Err()
					return
				}
				if err := p.send.Send(ctx, dataMsg(p.ch, channels.CmdSend, channels.Props{{Key: "ttl", Value: 60}, {Key: "ack", Value: false}}, body)); err != nil {
					errc <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range n {
				m, err := p.recv.Recv(ctx)
				if err != nil {
					errc <- err
					return
				}
				if len(m.Frames) != 7 || string(m.Frames[2]) != channels.CmdDelivery {
					errc <- fmt.Errorf("unexpected %q", m.Frames)
					return
				}
				space <- struct{}{}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	return time.Since(start), nil
}

func runFanout(ctx context.Context, addr string, g, rounds int) ([]time.Duration, error) {
	sig := dealer(addr, 1)
	defer sig.Close()
	send := dealer(addr, 0)
	defer send.Close()
	const receivers = 10
	recvs := make([]*zmq.Socket, receivers)
	for i := range recvs {
		recvs[i] = dealer(addr, 0)
		defer recvs[i].Close()
	}
	for i := range g {
		ch := fmt.Sprintf("bench.fan%d", i)
		if err := recvs[i%receivers].Send(ctx, dataMsg(ch, channels.CmdSubscribe, channels.Props{{Key: "subscriber_name", Value: []byte(ch)}}, nil)); err != nil {
			return nil, err
		}
		if err := ack(ctx, sig, channels.CmdGroupAdd, channels.Props{{Key: "group_name", Value: []byte("bench.group")}, {Key: "channel_name", Value: []byte(ch)}, {Key: "ack", Value: true}}); err != nil {
			return nil, err
		}
	}
	var got atomic.Int64
	done := make(chan struct{}, 1)
	var wg sync.WaitGroup
	var target atomic.Int64
	for _, r := range recvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := r.Recv(ctx); err != nil {
					return
				}
				if got.Add(1) == target.Load() {
					done <- struct{}{}
				}
			}
		}()
	}
	var lat []time.Duration
	for round := 0; round <= rounds; round++ { // round 0: warm-up
		target.Store(int64((round + 1) * g))
		t0 := time.Now()
		if err := send.Send(ctx, dataMsg("bench.group", channels.CmdGroupSend, channels.Props{{Key: "ttl", Value: 60}}, body)); err != nil {
			return nil, err
		}
		select {
		case <-done:
		case <-ctx.Done():
			return nil, fmt.Errorf("fan-out round %d: %d of %d delivered: %w", round, got.Load()-int64(round*g), g, ctx.Err())
		}
		if round > 0 {
			lat = append(lat, time.Since(t0))
		}
	}
	for _, r := range recvs {
		r.Close()
	}
	wg.Wait()
	return lat, nil
}
