// Command topics is the publish-subscribe pattern with topic prefixes: a
// publisher of news, weather and stock quotes; one subscriber per kind; and
// a handler router that subscribes to everything and hands each message to
// the handler of the most specific prefix that matches its tag.
//
// With no arguments it runs all of them in one process and prints what each
// subscriber got. Run as separate programs (or against txZMQ peers):
//
//	topics -role publisher -bind tcp://127.0.0.1:5556
//	topics -role subscriber -connect tcp://127.0.0.1:5556 -topics news.,weather.
//	topics -role router -connect tcp://127.0.0.1:5556
//
// Messages travel in txZMQ's format: one frame, tag + "\x00" + message.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/zmqgo/zmq/reactor"
)

// Feed is what the publisher publishes, in order: tag, message.
var Feed = [][2]string{
	{"news.world", "Summit opens in Geneva"},
	{"weather.london", "12C, light rain"},
	{"stocks.ACME", "101.25"},
	{"news.sport", "Local team wins 3-1"},
	{"weather.paris", "17C, sunny"},
	{"news.sport.tennis", "Final starts at 3pm"},
	{"stocks.GLOBEX", "54.10"},
	{"traffic.m25", "Queues at junction 10"},
}

// Subscribers are the per-kind subscribers of the demo: name and prefixes.
var Subscribers = []struct {
	Name     string
	Prefixes []string
}{
	{"news", []string{"news."}},
	{"weather", []string{"weather."}},
	{"stocks", []string{"stocks."}},
}

// Control messages: "control.sync" until every subscriber has seen one (a
// publisher drops messages until a subscription reaches it), then the feed,
// then "control.end".
const (
	controlPrefix = "control."
	syncTag       = "control.sync"
	endTag        = "control.end"
)

// TopicRouter dispatches a message to the handler registered for the
// longest prefix of its tag. The empty prefix, if registered, catches the
// rest. It is not safe for concurrent use: use it from handlers, which run
// one at a time on the factory's loop.
type TopicRouter struct {
	handlers map[string]func(tag, message []byte)
}

// NewTopicRouter returns an empty router.
func NewTopicRouter() *TopicRouter {
	return &TopicRouter{handlers: make(map[string]func(tag, message []byte))}
}

// Handle registers fn for prefix, replacing any handler it had.
func (r *TopicRouter) Handle(prefix string, fn func(tag, message []byte)) { r.handlers[prefix] = fn }

// Route returns the most specific prefix that matches tag.
func (r *TopicRouter) Route(tag []byte) (prefix string, ok bool) {
	best := -1
	for p := range r.handlers {
		if len(p) > best && strings.HasPrefix(string(tag), p) {
			prefix, best = p, len(p)
		}
	}
	return prefix, best >= 0
}

// Dispatch has the signature of a SubConnection handler. It reports
// whether a handler took the message.
func (r *TopicRouter) Dispatch(message, tag []byte) bool {
	p, ok := r.Route(tag)
	if ok {
		r.handlers[p](tag, message)
	}
	return ok
}

// Prefixes returns the registered prefixes, sorted: what to subscribe to.
func (r *TopicRouter) Prefixes() []string {
	ps := make([]string, 0, len(r.handlers))
	for p := range r.handlers {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func main() {
	ctx := context.Background()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "topics:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("topics", flag.ContinueOnError)
	role := fs.String("role", "demo", "demo, publisher, subscriber or router")
	bind := fs.String("bind", "tcp://127.0.0.1:5556", "publisher: endpoint to bind")
	connect := fs.String("connect", "tcp://127.0.0.1:5556", "subscriber, router: publisher to connect to")
	topics := fs.String("topics", "news.", "subscriber: comma-separated prefixes")
	interval := fs.Duration("interval", time.Second, "publisher: pause between rounds of the feed")
	rounds := fs.Int("rounds", 0, "publisher: rounds to publish (0: until interrupted)")
	count := fs.Int("count", 0, "subscriber, router: exit after this many messages (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "demo":
		return demo(ctx, w)
	case "publisher":
		return publisher(ctx, w, *bind, *interval, *rounds)
	case "subscriber":
		return subscriber(ctx, w, *connect, strings.Split(*topics, ","), *count)
	case "router":
		return routerRole(ctx, w, *connect, *count)
	}
	return fmt.Errorf("unknown role %q", *role)
}

// NewsRouter is the demo's handler router: general news, sport (more
// specific), weather, and a catch-all. out receives one line per message.
func NewsRouter(out func(string)) *TopicRouter {
	r := NewTopicRouter()
	r.Handle("news.", func(tag, m []byte) { out(fmt.Sprintf("news desk: %s: %s", tag, m)) })
	r.Handle("news.sport", func(tag, m []byte) { out(fmt.Sprintf("sport desk: %s: %s", tag, m)) })
	r.Handle("weather.", func(tag, m []byte) { out(fmt.Sprintf("weather desk: %s: %s", tag, m)) })
	r.Handle("", func(tag, m []byte) { out(fmt.Sprintf("everything else: %s: %s", tag, m)) })
	return r
}

// demo runs the publisher, the three subscribers and the router in one
// process over tcp and prints, subscriber by subscriber, what each got.
func demo(ctx context.Context, w io.Writer) error {
	f := reactor.NewFactory()
	defer f.Shutdown()
	pub, err := reactor.NewPubConnection(f, reactor.Bind("tcp://127.0.0.1:0"))
	if err != nil {
		return err
	}
	type listener struct {
		name   string
		lines  []string // on the loop only
		synced bool
	}
	synced := make(chan string, 10)
	ended := make(chan string, 10)
	var listeners []*listener
	// control handles the sync and end markers; it reports whether tag was one.
	control := func(l *listener, tag []byte) bool {
		switch string(tag) {
		case syncTag:
			if !l.synced {
				l.synced = true
				synced <- l.name
			}
		case endTag:
			ended <- l.name
		default:
			return false
		}
		return true
	}
	for _, s := range Subscribers {
		l := &listener{name: s.Name}
		listeners = append(listeners, l)
		sub, err := reactor.NewSubConnection(f, func(message, tag []byte) {
			if !control(l, tag) {
				l.lines = append(l.lines, fmt.Sprintf("%s: %s", tag, message))
			}
		}, reactor.Connect(pub.Addr()))
		if err != nil {
			return err
		}
		for _, p := range append(s.Prefixes, controlPrefix) {
			sub.Subscribe([]byte(p))
		}
	}
	rl := &listener{name: "router"}
	listeners = append(listeners, rl)
	router := NewsRouter(func(line string) { rl.lines = append(rl.lines, line) })
	sub, err := reactor.NewSubConnection(f, func(message, tag []byte) {
		if !control(rl, tag) {
			router.Dispatch(message, tag)
		}
	}, reactor.Connect(pub.Addr()))
	if err != nil {
		return err
	}
	sub.Subscribe(nil) // the router takes everything and sorts it itself

	// Sync: publish until every subscriber has heard from us.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 0; n < len(listeners); {
		pub.Publish(nil, []byte(syncTag))
		select {
		case <-synced:
			n++
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, m := range Feed {
		if err := pub.Publish([]byte(m[1]), []byte(m[0])); err != nil {
			return err
		}
	}
	pub.Publish(nil, []byte(endTag))
	for range listeners {
		select {
		case <-ended:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Every subscriber has finished: print on the loop, where the lines live.
	done := make(chan struct{})
	f.Call(func() {
		defer close(done)
		for _, l := range listeners {
			fmt.Fprintf(w, "[%s]\n", l.name)
			for _, line := range l.lines {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
	})
	<-done
	return nil
}

// publisher publishes the feed every interval until interrupted (or for
// rounds rounds), numbering each round.
func publisher(ctx context.Context, w io.Writer, bind string, interval time.Duration, rounds int) error {
	f := reactor.NewFactory()
	f.RegisterForShutdown()
	defer f.Shutdown()
	pub, err := reactor.NewPubConnection(f, reactor.Bind(bind))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "publishing on %s\n", pub.Addr())
	finished := make(chan struct{})
	round := 0
	var tick func()
	tick = func() {
		round++
		for _, m := range Feed {
			pub.Publish([]byte(fmt.Sprintf("%s (#%d)", m[1], round)), []byte(m[0]))
		}
		if rounds > 0 && round >= rounds {
			close(finished)
			return
		}
		f.CallLater(interval, tick)
	}
	f.Call(tick)
	select {
	case <-finished:
	case <-f.Done():
	case <-ctx.Done():
	}
	return nil
}

// subscriber prints the messages under the given prefixes.
func subscriber(ctx context.Context, w io.Writer, connect string, prefixes []string, count int) error {
	return listen(ctx, connect, prefixes, count, func(message, tag []byte) {
		fmt.Fprintf(w, "%s: %s\n", tag, message)
	})
}

// routerRole runs the handler router on everything published.
func routerRole(ctx context.Context, w io.Writer, connect string, count int) error {
	r := NewsRouter(func(line string) { fmt.Fprintln(w, line) })
	return listen(ctx, connect, []string{""}, count, func(message, tag []byte) { r.Dispatch(message, tag) })
}

func listen(ctx context.Context, connect string, prefixes []string, count int, handle func(message, tag []byte)) error {
	f := reactor.NewFactory()
	f.RegisterForShutdown()
	defer f.Shutdown()
	enough := make(chan struct{})
	n := 0
	sub, err := reactor.NewSubConnection(f, func(message, tag []byte) {
		if count > 0 && n >= count {
			return
		}
		handle(message, tag)
		if n++; count > 0 && n == count {
			close(enough)
		}
	}, reactor.Connect(connect))
	if err != nil {
		return err
	}
	for _, p := range prefixes {
		if err := sub.Subscribe([]byte(p)); err != nil {
			return err
		}
	}
	select {
	case <-enough:
	case <-f.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
