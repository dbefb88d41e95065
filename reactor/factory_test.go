package reactor

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// onLoop runs fn on the factory's loop and waits for it.
func onLoop(t *testing.T, f *Factory, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if !f.Call(func() { defer close(done); fn() }) {
		t.Fatal("Call refused: factory shut down")
	}
	<-done
}

// syncBuffer is a log destination safe for the loop and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestCallLaterRunsInTimeOrderOnTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFactory()
		defer f.Shutdown()
		start := time.Now()
		var got []string // touched on the loop only
		at := func(name string) func() {
			return func() { got = append(got, name+"@"+time.Since(start).String()) }
		}
		f.CallLater(3*time.Second, at("c"))
		t1 := f.CallLater(time.Second, at("a"))
		t2 := f.CallLater(2*time.Second, at("b"))
		cancelled := f.CallLater(1500*time.Millisecond, at("never"))
		if !cancelled.Active() || !cancelled.Cancel() || cancelled.Active() || cancelled.Cancel() {
			t.Fatal("Cancel of a pending timer: want true once, then inactive")
		}
		f.Call(at("now"))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		var snapshot []string
		onLoop(t, f, func() { snapshot = append(snapshot, got...) })
		want := []string{"now@0s", "a@1s", "b@2s", "c@3s"}
		if strings.Join(snapshot, " ") != strings.Join(want, " ") {
			t.Fatalf("calls: got %v, want %v", snapshot, want)
		}
		if t1.Active() || t2.Active() || t1.Cancel() {
			t.Fatal("a timer that ran is inactive and cannot be cancelled")
		}
	})
}

func TestCancelFromHandlerBeatsAFiredTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFactory()
		defer f.Shutdown()
		ran := false
		var victim *Timer
		// The first call holds the loop past the victim's time, so the victim
		// has fired (its call is queued) when it is cancelled: it must not run.
		onLoop(t, f, func() {
			f.CallLater(time.Second, func() {
				time.Sleep(2 * time.Second)
				if !victim.Cancel() {
					t.Error("Cancel of a fired but not yet run timer: got false")
				}
			})
			victim = f.CallLater(2*time.Second, func() { ran = true })
		})
		time.Sleep(4 * time.Second)
		onLoop(t, f, func() {
			if ran {
				t.Error("cancelled timer ran")
			}
		})
	})
}

func TestHandlerPanicIsLoggedAndLoopGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		f := NewFactory(WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		defer f.Shutdown()
		f.Call(func() { panic("boom") })
		f.CallLater(time.Second, func() { panic("boom later") })
		after := make(chan struct{})
		f.CallLater(2*time.Second, func() { close(after) })
		<-after
		if s := logs.String(); !strings.Contains(s, "boom") || !strings.Contains(s, "boom later") || !strings.Contains(s, "handler panicked") {
			t.Fatalf("panics not logged: %q", s)
		}
	})
}

func TestShutdownCancelsTimersAndRefusesWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFactory()
		tm := f.CallLater(time.Hour, func() { t.Error("timer ran after shutdown") })
		f.Shutdown()
		select {
		case <-f.Done():
		default:
			t.Fatal("Done not closed after Shutdown returned")
		}
		if tm.Active() {
			t.Fatal("timer still active after Shutdown")
		}
		if f.Call(func() {}) {
			t.Fatal("Call after Shutdown: got true")
		}
		if late := f.CallLater(time.Second, func() {}); late.Active() {
			t.Fatal("CallLater after Shutdown: timer active")
		}
		f.Shutdown() // idempotent
		if _, err := NewPushConnection(f); !errors.Is(err, ErrClosed) {
			t.Fatalf("new connection on a shut factory: got %v, want ErrClosed", err)
		}
		time.Sleep(2 * time.Hour)
	})
}

func TestShutdownFromHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFactory()
		f.Call(func() {
			f.Shutdown() // must not wait for the loop it runs on
			f.Call(func() { t.Error("ran after shutdown") })
		})
		<-f.Done()
	})
}

func TestRegisterForShutdownOnSignal(t *testing.T) {
	// Not in a bubble: the signal goroutine belongs to os/signal.
	f := NewFactory()
	f.RegisterForShutdown()
	f.RegisterForShutdown() // once is enough
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not shut the factory down")
	}
	f.Shutdown()

	// Registered, then shut down normally: the registration goes away.
	g := NewFactory()
	g.RegisterForShutdown()
	g.Shutdown()
}

func TestOnLoopKnowsTheLoop(t *testing.T) {
	f := NewFactory()
	defer f.Shutdown()
	if f.onLoop() {
		t.Fatal("onLoop outside any handler: got true")
	}
	var inside bool
	onLoop(t, f, func() { inside = f.onLoop() })
	if !inside {
		t.Fatal("onLoop inside a handler: got false")
	}
	if f.onLoop() {
		t.Fatal("onLoop after the handler returned: got true")
	}
}

// Shutdown from outside waits for the loop to end.
func TestShutdownFromOutsideWaitsForTheLoop(t *testing.T) {
	f := NewFactory()
	f.Shutdown()
	select {
	case <-f.Done():
	default:
		t.Fatal("Shutdown from outside returned before the loop ended")
	}
}

// Shutdown from outside while a handler runs: no handler queued behind the
// running one runs, and the loop ends once the running one returns.
func TestShutdownFromOutsideDuringAHandler(t *testing.T) {
	f := NewFactory()
	entered := make(chan struct{})
	release := make(chan struct{})
	f.Call(func() {
		close(entered)
		<-release
	})
	<-entered
	var ran atomic.Bool
	f.Call(func() { ran.Store(true) }) // queued behind the blocked handler
	f.Shutdown()
	close(release)
	<-f.Done()
	if ran.Load() {
		t.Fatal("a handler queued before Shutdown ran after it")
	}
}
