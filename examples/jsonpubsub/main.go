// Command jsonpubsub publishes structured data: a JSON publisher of orders
// with a subscriber that decodes them (and reports the malformed), and a
// timestamped publisher of ticks with a subscriber that measures latency
// and notices lost or reordered messages.
//
// With no arguments it runs all four in one process. As separate programs:
//
//	jsonpubsub -role json-pub -bind tcp://127.0.0.1:5557
//	jsonpubsub -role json-sub -connect tcp://127.0.0.1:5557
//	jsonpubsub -role ts-pub -bind tcp://127.0.0.1:5558 -interval 100ms
//	jsonpubsub -role ts-sub -connect tcp://127.0.0.1:5558 -count 50
//
// Messages are txZMQ PUB frames: tag "orders" or "ticks", "\x00", JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/zmqgo/zmq/reactor"
)

// Order is what the JSON publisher publishes under OrdersTag.
type Order struct {
	ID    int     `json:"id"`
	Item  string  `json:"item"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

// Tick is what the timestamped publisher publishes under TicksTag.
// Timestamp is when it was published, in seconds since the Unix epoch (as
// Python's time.time()).
type Tick struct {
	Seq       int     `json:"seq"`
	Timestamp float64 `json:"timestamp"`
	Value     float64 `json:"value"`
}

const (
	OrdersTag = "orders"
	TicksTag  = "ticks"
	syncTag   = "sync" // probes until the subscription is in place
	endTag    = "end"
)

// DemoOrders are the orders the demo's JSON publisher sends.
var DemoOrders = []Order{
	{1, "widget", 2, 9.99},
	{2, "gadget", 1, 24.50},
	{3, "sprocket", 12, 0.75},
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func fromUnixSeconds(s float64) time.Time {
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// OrderPrinter decodes orders and writes one line per order.
type OrderPrinter struct {
	W         io.Writer
	Received  int
	Malformed int
}

// Handle is a SubConnection handler.
func (p *OrderPrinter) Handle(message, tag []byte) {
	var o Order
	if err := json.Unmarshal(message, &o); err != nil || o.ID == 0 {
		p.Malformed++
		fmt.Fprintf(p.W, "malformed order %q\n", message)
		return
	}
	p.Received++
	fmt.Fprintf(p.W, "order %d: %d x %s at %.2f = %.2f\n", o.ID, o.Qty, o.Item, o.Price, float64(o.Qty)*o.Price)
}

// TickStats follows the ticks: how many, which were missing or late, and
// the latency from their timestamp.
type TickStats struct {
	Received, Missing, OutOfOrder, Malformed int
	next                                     int
	MinLatency, MaxLatency, total            time.Duration
}

// Handle is a SubConnection handler.
func (s *TickStats) Handle(message, tag []byte) {
	var t Tick
	if err := json.Unmarshal(message, &t); err != nil || t.Timestamp == 0 {
		s.Malformed++
		return
	}
	lat := time.Since(fromUnixSeconds(t.Timestamp))
	if s.Received == 0 || lat < s.MinLatency {
		s.MinLatency = lat
	}
	s.MaxLatency = max(s.MaxLatency, lat)
	s.total += lat
	s.Received++
	switch {
	case s.next == 0 || t.Seq == s.next:
	case t.Seq > s.next:
		s.Missing += t.Seq - s.next
	default:
		s.OutOfOrder++
	}
	s.next = max(s.next, t.Seq+1)
}

// Summary is a line with the counts (no latencies: those vary).
func (s *TickStats) Summary() string {
	return fmt.Sprintf("ticks: %d received, %d missing, %d out of order, %d malformed", s.Received, s.Missing, s.OutOfOrder, s.Malformed)
}

// Latency is a line with the latencies.
func (s *TickStats) Latency() string {
	avg := time.Duration(0)
	if s.Received > 0 {
		avg = s.total / time.Duration(s.Received)
	}
	return fmt.Sprintf("latency: min %v, avg %v, max %v", s.MinLatency, avg, s.MaxLatency)
}

func main() {
	if err := run(context.Background(), os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "jsonpubsub:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("jsonpubsub", flag.ContinueOnError)
	role := fs.String("role", "demo", "demo, json-pub, json-sub, ts-pub or ts-sub")
	bind := fs.String("bind", "tcp://127.0.0.1:5557", "publishers: endpoint to bind")
	connect := fs.String("connect", "tcp://127.0.0.1:5557", "subscribers: publisher to connect to")
	interval := fs.Duration("interval", 100*time.Millisecond, "publishers: pause between messages")
	count := fs.Int("count", 0, "publishers: messages to send; subscribers: to receive (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "demo":
		return demo(ctx, w)
	case "json-pub":
		n := 0
		return publish(ctx, w, *bind, *interval, *count, OrdersTag, func() any {
			n++
			return Order{ID: n, Item: "widget", Qty: n%5 + 1, Price: 9.99}
		})
	case "ts-pub":
		n := 0
		return publish(ctx, w, *bind, *interval, *count, TicksTag, func() any {
			n++
			return Tick{Seq: n, Timestamp: unixSeconds(time.Now()), Value: math.Sin(float64(n) / 10)}
		})
	case "json-sub":
		p := &OrderPrinter{W: w}
		return subscribe(ctx, *connect, OrdersTag, *count, p.Handle)
	case "ts-sub":
		s := &TickStats{}
		err := subscribe(ctx, *connect, TicksTag, *count, s.Handle)
		fmt.Fprintln(w, s.Summary())
		fmt.Fprintln(w, s.Latency())
		return err
	}
	return fmt.Errorf("unknown role %q", *role)
}

// publish sends next() as JSON under tag every interval.
func publish(ctx context.Context, w io.Writer, bind string, interval time.Duration, count int, tag string, next func() any) error {
	f := reactor.NewFactory()
	f.RegisterForShutdown()
	defer f.Shutdown()
	pub, err := reactor.NewPubConnection(f, reactor.Bind(bind))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "publishing %s on %s\n", tag, pub.Addr())
	finished := make(chan error, 1)
	sent := 0
	var tick func()
	tick = func() {
		b, err := json.Marshal(next())
		if err == nil {
			err = pub.Publish(b, []byte(tag))
		}
		if sent++; err != nil || (count > 0 && sent >= count) {
			finished <- err
			return
		}
		f.CallLater(interval, tick)
	}
	f.Call(tick)
	select {
	case err := <-finished:
		return err
	case <-f.Done():
	case <-ctx.Done():
	}
	return nil
}

// subscribe hands what is published under tag to handle, count times or
// until interrupted.
func subscribe(ctx context.Context, connect, tag string, count int, handle func(message, tag []byte)) error {
	f := reactor.NewFactory()
	f.RegisterForShutdown()
	defer f.Shutdown()
	enough := make(chan struct{})
	n := 0
	sub, err := reactor.NewSubConnection(f, func(message, t []byte) {
		if string(t) != tag || (count > 0 && n >= count) {
			return
		}
		handle(message, t)
		if n++; n == count {
			close(enough)
		}
	}, reactor.Connect(connect))
	if err != nil {
		return err
	}
	sub.Subscribe([]byte(tag))
	select {
	case <-enough:
	case <-f.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// demo runs both publishers and both subscribers over tcp in one process.
// It prints the orders as decoded, then the tick counts and latencies.
func demo(ctx context.Context, w io.Writer) error {
	f := reactor.NewFactory()
	defer f.Shutdown()
	orders, err := reactor.NewPubConnection(f, reactor.Bind("tcp://127.0.0.1:0"))
	if err != nil {
		return err
	}
	ticks, err := reactor.NewPubConnection(f, reactor.Bind("tcp://127.0.0.1:0"))
	if err != nil {
		return err
	}
	printer := &OrderPrinter{W: w}
	stats := &TickStats{}
	synced, ended := make(chan string, 4), make(chan string, 4)
	// listen subscribes to one publisher; the sync and end markers share the
	// data's tag as prefix ("orders.sync"), so one subscription covers them.
	listen := func(pub *reactor.PubConnection, tag string, handle func(message, tag []byte)) error {
		seen := false
		sub, err := reactor.NewSubConnection(f, func(message, t []byte) {
			switch string(t) {
			case tag + "." + syncTag:
				if !seen {
					seen = true
					synced <- tag
				}
			case tag + "." + endTag:
				ended <- tag
			default:
				handle(message, t)
			}
		}, reactor.Connect(pub.Addr()))
		if err != nil {
			return err
		}
		return sub.Subscribe([]byte(tag))
	}
	if err := errors.Join(listen(orders, OrdersTag, printer.Handle), listen(ticks, TicksTag, stats.Handle)); err != nil {
		return err
	}
	probe := time.NewTicker(20 * time.Millisecond)
	defer probe.Stop()
	for waiting := map[string]*reactor.PubConnection{OrdersTag: orders, TicksTag: ticks}; len(waiting) > 0; {
		for tag, pub := range waiting {
			pub.Publish(nil, []byte(tag+"."+syncTag))
		}
		select {
		case tag := <-synced:
			delete(waiting, tag)
		case <-probe.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i, o := range DemoOrders {
		b, _ := json.Marshal(o)
		orders.Publish(b, []byte(OrdersTag))
		if i == 1 {
			orders.Publish([]byte("{not json"), []byte(OrdersTag))
		}
	}
	for i := 1; i <= 20; i++ {
		b, _ := json.Marshal(Tick{Seq: i, Timestamp: unixSeconds(time.Now()), Value: float64(i)})
		ticks.Publish(b, []byte(TicksTag))
	}
	orders.Publish(nil, []byte(OrdersTag+"."+endTag))
	ticks.Publish(nil, []byte(TicksTag+"."+endTag))
	for range 2 {
		select {
		case <-ended:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	done := make(chan struct{})
	f.Call(func() {
		defer close(done)
		fmt.Fprintf(w, "orders: %d received, %d malformed\n", printer.Received, printer.Malformed)
		fmt.Fprintln(w, stats.Summary())
		fmt.Fprintln(w, stats.Latency())
	})
	<-done
	return nil
}
