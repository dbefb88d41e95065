package reactor

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zmqgo/zmq"
)

// socket is what a connection needs of a zmq socket; *zmq.Socket has it.
// Tests put an in-memory socket behind it to drive timers with synctest.
type socket interface {
	Bind(endpoint string) error
	Connect(endpoint string) error
	LastEndpoint() string
	Send(ctx context.Context, m zmq.Msg) error
	TrySend(m zmq.Msg) error
	Recv(ctx context.Context) (zmq.Msg, error)
	Subscribe(prefix []byte) error
	Unsubscribe(prefix []byte) error
	Close() error
}

type socketMaker func(t zmq.Type, opts ...zmq.Option) (socket, error)

func newZmqSocket(t zmq.Type, opts ...zmq.Option) (socket, error) {
	s, err := zmq.NewSocket(t, opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Factory owns a set of connections and the event loop their handlers run
// on (txZMQ's ZmqFactory together with the part of the Twisted reactor it
// uses). Message handlers, future callbacks and the functions given to Call
// and CallLater all run on one goroutine, one at a time, in the order their
// events happened, so they need no locks between them. Every method is safe
// to call from any goroutine, handlers included.
type Factory struct {
	linger    time.Duration
	logger    *slog.Logger
	newSocket socketMaker

	mu      sync.Mutex
	tasks   []func()
	conns   map[*Connection]struct{}
	timers  map[*Timer]struct{}
	closing bool
	sigStop chan struct{} // closes the RegisterForShutdown goroutine
	sigWG   sync.WaitGroup

	wake     chan struct{} // a task was queued (cap 1)
	stop     chan struct{} // the loop must end
	done     chan struct{} // the loop has ended
	inLoop   atomic.Bool   // a handler runs on the loop right now (set by run)
	shutOnce sync.Once
}

// NewFactory starts a factory and its event loop. Call Shutdown when done
// with it (or RegisterForShutdown, to shut it down on SIGINT or SIGTERM).
func NewFactory(opts ...FactoryOption) *Factory {
	f := &Factory{
		linger:    100 * time.Millisecond,
		logger:    discardLogger(),
		newSocket: newZmqSocket,
		conns:     make(map[*Connection]struct{}),
		timers:    make(map[*Timer]struct{}),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, o := range opts {
		o(f)
	}
	started := make(chan struct{})
	go f.loop(started)
	<-started
	return f
}

// String returns "Factory", like txZMQ's repr of ZmqFactory.
func (f *Factory) String() string { return "Factory" }

func (f *Factory) loop(started chan<- struct{}) {
	defer close(f.done)
	close(started)
	var batch []func()
	for {
		f.mu.Lock()
		batch, f.tasks = f.tasks, batch[:0]
		f.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-f.wake:
				continue
			case <-f.stop:
				return
			}
		}
		for i, fn := range batch {
			select {
			case <-f.stop:
				clear(batch)
				return
			default:
			}
			f.run(fn)
			batch[i] = nil
		}
	}
}

// run calls fn, logging rather than dying if it panics. While fn runs,
// inLoop is set, so Shutdown called from fn knows not to wait for the loop.
func (f *Factory) run(fn func()) {
	f.inLoop.Store(true)
	defer func() {
		f.inLoop.Store(false)
		if r := recover(); r != nil {
			f.logger.Error("reactor: handler panicked; the loop goes on", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// post queues fn for the loop. It reports false, and drops fn, once the
// factory is shutting down.
func (f *Factory) post(fn func()) bool {
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		return false
	}
	f.tasks = append(f.tasks, fn)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return true
}

// Call queues fn to run on the loop after the events already queued (like
// Twisted's reactor.callLater(0, fn) or callFromThread). It reports whether
// fn was queued: after Shutdown it is not.
func (f *Factory) Call(fn func()) bool { return f.post(fn) }

// Timer is a call scheduled by CallLater (Twisted's IDelayedCall).
type Timer struct {
	f     *Factory
	fn    func()
	t     *time.Timer
	state atomic.Int32 // timerPending, timerCalled or timerCanceled
}

const (
	timerPending int32 = iota
	timerCalled
	timerCanceled
)

// CallLater runs fn on the loop once d has passed, unless the returned
// timer is cancelled first. After Shutdown it schedules nothing and returns
// an inactive timer.
func (f *Factory) CallLater(d time.Duration, fn func()) *Timer {
	tm := &Timer{f: f, fn: fn}
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		tm.state.Store(timerCanceled)
		return tm
	}
	f.timers[tm] = struct{}{}
	tm.t = time.AfterFunc(max(d, 0), tm.fire)
	f.mu.Unlock()
	return tm
}

func (tm *Timer) fire() {
	tm.f.post(func() {
		if !tm.state.CompareAndSwap(timerPending, timerCalled) {
			return
		}
		tm.f.forget(tm)
		tm.fn()
	})
}

// Cancel stops the call. It reports whether it did: false if the call has
// already run (or is running), was cancelled before, or the factory shut down.
// Cancelled from a handler, a timer whose time has come but whose call has
// not started yet does not run.
func (tm *Timer) Cancel() bool {
	if !tm.state.CompareAndSwap(timerPending, timerCanceled) {
		return false
	}
	tm.f.mu.Lock()
	t := tm.t
	tm.f.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	tm.f.forget(tm)
	return true
}

// Active reports whether the call is still to come.
func (tm *Timer) Active() bool { return tm.state.Load() == timerPending }

func (f *Factory) forget(tm *Timer) {
	f.mu.Lock()
	delete(f.timers, tm)
	f.mu.Unlock()
}

// add registers a new connection; it fails once the factory shuts down.
func (f *Factory) add(c *Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return ErrClosed
	}
	f.conns[c] = struct{}{}
	return nil
}

func (f *Factory) remove(c *Connection) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// Connections returns the factory's live connections, in no order (txZMQ's
// ZmqFactory.connections).
func (f *Factory) Connections() []*Connection {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs := make([]*Connection, 0, len(f.conns))
	for c := range f.conns {
		cs = append(cs, c)
	}
	return cs
}

// Shutdown shuts every connection down (each gets the linger period to send
// what it has queued), cancels pending timers, fails outstanding requests
// with ErrClosed and stops the loop. Events not yet handled are dropped.
// Called from outside the loop, it returns once the loop has ended, so no
// handler runs after it; called from a handler, the loop ends when that
// handler returns. (Called from another goroutine while a handler runs, it
// cannot tell that goroutine from the handler's and returns without
// waiting: no further handler starts, and Done is closed when the running
// one returns.) Later calls do nothing (but wait the same way).
func (f *Factory) Shutdown() { f.shutdown(false) }

func (f *Factory) shutdown(fromSignal bool) {
	f.shutOnce.Do(func() {
		f.mu.Lock()
		f.closing = true
		conns := make([]*Connection, 0, len(f.conns))
		for c := range f.conns {
			conns = append(conns, c)
		}
		timers := make([]*Timer, 0, len(f.timers))
		for tm := range f.timers {
			timers = append(timers, tm)
		}
		sigStop := f.sigStop
		f.sigStop = nil
		f.mu.Unlock()
		for _, tm := range timers {
			tm.Cancel()
		}
		// Connections linger in parallel, not one after the other.
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Shutdown()
			}()
		}
		wg.Wait()
		if sigStop != nil {
			close(sigStop)
			if !fromSignal {
				f.sigWG.Wait()
			}
		}
		close(f.stop)
	})
	if !f.onLoop() {
		<-f.done
	}
}

// Done returns a channel that is closed once the factory has shut down and
// its loop has ended: a main function waits on it after RegisterForShutdown.
func (f *Factory) Done() <-chan struct{} { return f.done }

// RegisterForShutdown makes SIGINT or SIGTERM shut the factory down (as
// txZMQ's registerForShutdown does on the reactor's shutdown). While it is
// registered those signals no longer end the program by themselves; wait on
// Done and return from main. Calling it again does nothing.
func (f *Factory) RegisterForShutdown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing || f.sigStop != nil {
		return
	}
	stop := make(chan struct{})
	f.sigStop = stop
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	f.sigWG.Add(1)
	go func() {
		defer f.sigWG.Done()
		defer signal.Stop(ch)
		select {
		case s := <-ch:
			f.logger.Info("reactor: shutting down on signal", "signal", s.String())
			f.shutdown(true)
		case <-stop:
		}
	}()
}

// onLoop reports whether a handler runs on the loop right now, which is
// the case when a handler calls Shutdown. The loop runs one handler at a
// time and records it in inLoop, so no goroutine ids are needed. A Shutdown
// from another goroutine racing with a running handler also sees true and
// returns without waiting; that handler is the loop's last (stop is closed).
func (f *Factory) onLoop() bool { return f.inLoop.Load() }
