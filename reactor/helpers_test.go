package reactor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testTimeout bounds every wait of the network tests.
const testTimeout = 20 * time.Second

func newTestFactory(t *testing.T, opts ...FactoryOption) *Factory {
	t.Helper()
	f := NewFactory(opts...)
	t.Cleanup(f.Shutdown)
	return f
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// ipcAddr returns a fresh ipc endpoint in a short private directory (unix
// socket paths are limited to 107 bytes).
func ipcAddr(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return "ipc://" + filepath.Join(dir, name)
}

// inprocAddr returns an inproc endpoint unique to the test.
func inprocAddr(t *testing.T, name string) string {
	return "inproc://" + t.Name() + "/" + name
}

// recv waits for a value, failing the test after testTimeout.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

type tagged struct{ tag, message string }

// awaitSubscription publishes a probe every 20 ms until got delivers one:
// a publisher drops everything until the subscription has reached it (the
// slow joiner). Anything else that arrives meanwhile is a failure.
func awaitSubscription(t *testing.T, pub *PubConnection, tag string, got <-chan tagged) {
	t.Helper()
	deadline := time.After(testTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := pub.Publish([]byte("probe"), []byte(tag)); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m.message != "probe" || m.tag != tag {
				t.Fatalf("before the probe: %+v", m)
			}
			return
		case <-tick.C:
		case <-deadline:
			t.Fatalf("subscription to %q never reached the publisher", tag)
		}
	}
}

// drainProbes skips probes still in flight after awaitSubscription.
func nextNonProbe(t *testing.T, got <-chan tagged) tagged {
	t.Helper()
	for {
		m := recv(t, got, "message")
		if m.message != "probe" {
			return m
		}
	}
}
