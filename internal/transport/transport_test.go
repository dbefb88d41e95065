package transport

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in            string
		bind          bool
		network, addr string
		err           error
	}{
		{"tcp://127.0.0.1:5555", false, "tcp4", "127.0.0.1:5555", nil},
		{"tcp://*:5555", true, "tcp4", "0.0.0.0:5555", nil},
		{"tcp://*:*", true, "tcp4", "0.0.0.0:0", nil},
		{"tcp://[::1]:5555", false, "tcp6", "[::1]:5555", nil},
		{"tcp://localhost:5555", false, "tcp", "localhost:5555", nil},
		{"tcp://*:5555", false, "", "", ErrInvalid},
		{"tcp://127.0.0.1:0", false, "", "", ErrInvalid},
		{"tcp://127.0.0.1:99999", true, "", "", ErrInvalid},
		{"tcp://:5555", true, "", "", ErrInvalid},
		{"tcp://bad host:1", false, "", "", ErrInvalid},
		{"ipc:///tmp/x.sock", true, "unix", "/tmp/x.sock", nil},
		{"ipc://@abstract", false, "unix", "@abstract", nil},
		{"ipc://*", true, "unix", "*", nil},
		{"ipc://*", false, "", "", ErrInvalid},
		{"ipc://", true, "", "", ErrInvalid},
		{"ipc:///" + strings.Repeat("a", MaxIPCPath), true, "", "", ErrInvalid},
		{"inproc://name", true, "", "name", nil},
		{"inproc://", true, "", "", ErrInvalid},
		{"udp://127.0.0.1:1", true, "", "", ErrUnsupported},
		{"127.0.0.1:1", true, "", "", ErrInvalid},
	} {
		e, err := Parse(tc.in, tc.bind)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Parse(%q, bind=%v) = %v, %v; want %v", tc.in, tc.bind, e, err, tc.err)
			}
			continue
		}
		if err != nil || e.Network != tc.network || e.Address != tc.addr {
			t.Errorf("Parse(%q, bind=%v) = %+v, %v; want %s %s", tc.in, tc.bind, e, err, tc.network, tc.addr)
		}
	}
}

func TestListenReportsRealEndpoint(t *testing.T) {
	e, _ := Parse("tcp://127.0.0.1:0", true)
	l, resolved, err := Listen(e)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !strings.HasPrefix(resolved, "tcp://127.0.0.1:") || strings.HasSuffix(resolved, ":0") {
		t.Fatalf("resolved %q", resolved)
	}
}
