package zmq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	zmq "github.com/zmqgo/zmq"
)

// bFrame is payload frame j (from 1) of client k's message i: sizes mixed
// from 0 to 3000 bytes (messages that span reads), a 40 KiB first payload
// frame every 50th message (the read buffer grows for it), a 100 KiB last
// frame every 173rd (too large for the read buffer: read into its own
// memory), contents that differ between neighbours. testdata-free: the
// pyzmq peer (TestBorrowedFramesPyzmq) computes the same.
func bFrame(k, i, j, nf int) []byte {
	size := (i*131 + j*57 + k*11) % 3000
	if i%50 == 0 && j == 1 {
		size = 40 << 10
	}
	if i%173 == 0 && j == nf {
		size = 100 << 10
	}
	b := make([]byte, size)
	for x := range b {
		b[x] = byte(i + 3*j + 5*k + x*7)
	}
	return b
}

// bFrames is client k's message i: its sequence frame, then 1 to 3 payload frames.
func bFrames(k, i int) [][]byte {
	nf := 1 + i%3
	f := [][]byte{hSeq(k, i)}
	for j := 1; j <= nf; j++ {
		f = append(f, bFrame(k, i, j, nf))
	}
	return f
}

// borrowServer is a ROUTER with WithBorrowedFrames whose handler checks
// each message against bFrames, keeps a Clone of every 7th (copies made
// before the handler returns must stay intact), and answers with the
// sequence frame (copied) and "ok".
type borrowServer struct {
	s    *zmq.Socket
	errs *hErrs
	mu   sync.Mutex
	kept []zmq.Msg
	n    int
}

func newBorrowServer(t *testing.T, errs *hErrs, opts ...zmq.Option) *borrowServer {
	b := &borrowServer{errs: errs}
	opts = append(opts, zmq.WithHandler(b.handle), zmq.WithBorrowedFrames())
	b.s = sock(t, zmq.Router, opts...)
	return b
}

func (b *borrowServer) handle(m zmq.Msg) {
	if len(m.Frames) < 3 {
		b.errs.add("message of %d frames", len(m.Frames))
		return
	}
	k, i, err := hParseSeq(m.Frames[1])
	if err != nil {
		b.errs.add("%v", err)
		return
	}
	if want := bFrames(k, i); !hFramesEqual(m.Frames[1:], want) {
		b.errs.add("message %d:%d: %d frames of %d bytes, want %d of %d", k, i, len(m.Frames)-1, m.Size()-len(m.Frames[0]), len(want), zmq.NewMsg(want...).Size())
		return
	}
	b.mu.Lock()
	b.n++
	if i%7 == 0 {
		b.kept = append(b.kept, m.Clone())
	}
	b.mu.Unlock()
	// The routing id is the socket's own; the sequence frame is borrowed.
	if err := b.s.TrySend(zmq.NewMsg(m.Frames[0], bytes.Clone(m.Frames[1]), []byte("ok"))); err != nil {
		b.errs.add("TrySend: %v", err)
	}
}

func (b *borrowServer) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// checkKept verifies the copies the handler kept, long after it returned.
func (b *borrowServer) checkKept(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.kept {
		k, i, err := hParseSeq(m.Frames[1])
		if err != nil {
			t.Fatalf("kept copy: %v", err)
		}
		if !hFramesEqual(m.Frames[1:], bFrames(k, i)) {
			t.Fatalf("kept copy of %d:%d changed after the handler returned", k, i)
		}
	}
}

// TestBorrowedFrames: several DEALERs pipeline many messages of mixed
// sizes (batches of many per read, messages that span reads, large frames)
// to a ROUTER with WithBorrowedFrames; every message reaches the handler
// intact, and its copies stay so.
func TestBorrowedFrames(t *testing.T) {
	const clients, n = 4, 800
	for _, tr := range []string{"tcp", "ipc", "inproc", "curve"} {
		t.Run(tr, func(t *testing.T) {
			var errs hErrs
			var srvOpts, cliOpts []zmq.Option
			transport := tr
			if tr == "curve" {
				k := testKeys(t)
				srvOpts = []zmq.Option{zmq.WithCurveServer(k.serverSec)}
				cliOpts = []zmq.Option{zmq.WithCurveClient(k.serverPub, k.clientPub, k.clientSec)}
				transport = "tcp"
			}
			srv := newBorrowServer(t, &errs, srvOpts...)
			ep := hBind(t, srv.s, hEndpoint(t, transport))
			ctx := hCtx(t)
			var wg sync.WaitGroup
			for k := range clients {
				c := sock(t, zmq.Dealer, cliOpts...)
				hConnect(t, c, ep)
				wg.Go(func() {
					err := hPipeline(ctx, c, n, func(i int) zmq.Msg { return zmq.NewMsg(bFrames(k, i)...) }, func(i int, m zmq.Msg) error {
						if want := [][]byte{hSeq(k, i), []byte("ok")}; !hFramesEqual(m.Frames, want) {
							return fmt.Errorf("client %d reply %d: %q", k, i, m.String())
						}
						return nil
					})
					if err != nil {
						errs.add("client %d: %v", k, err)
					}
				})
			}
			wg.Wait()
			errs.check(t)
			srv.checkKept(t)
			if got := srv.count(); got != clients*n {
				t.Fatalf("handler saw %d messages, want %d", got, clients*n)
			}
		})
	}
}

// TestBorrowedFramesNeedsHandler: without WithHandler the messages are
// queued for Recv, outliving any read: the option is refused.
func TestBorrowedFramesNeedsHandler(t *testing.T) {
	s, err := zmq.NewSocket(zmq.Router, zmq.WithBorrowedFrames())
	if !errors.Is(err, zmq.ErrInvalidOption) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("NewSocket(Router, WithBorrowedFrames()) = %v, want ErrInvalidOption", err)
	}
}

// bPyPeer is a libzmq DEALER that sends bFrames(0, i) for i < n, then reads
// the n replies and checks them; it prints OK.
const bPyPeer = `
import sys, zmq
ep, n = sys.argv[1], int(sys.argv[2])
def frame(k, i, j, nf):
    size = (i*131 + j*57 + k*11) % 3000
    if i % 50 == 0 and j == 1: size = 40 << 10
    if i % 173 == 0 and j == nf: size = 100 << 10
    return bytes((i + 3*j + 5*k + x*7) & 255 for x in range(size))
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 20000)
s.setsockopt(zmq.SNDTIMEO, 20000)
s.connect(ep)
for i in range(n):
    nf = 1 + i % 3
    s.send_multipart([b"0:%d" % i] + [frame(0, i, j, nf) for j in range(1, nf+1)])
for i in range(n):
    r = s.recv_multipart()
    if r != [b"0:%d" % i, b"ok"]:
        print("BAD", i, r[:2]); sys.exit(1)
print("OK")
s.close(); ctx.term()
`

// TestBorrowedFramesPyzmq: a libzmq DEALER's messages, under the option.
func TestBorrowedFramesPyzmq(t *testing.T) {
	requirePyzmq(t)
	const n = 400
	var errs hErrs
	srv := newBorrowServer(t, &errs)
	ep := hBind(t, srv.s, "tcp://127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout*6)
	defer cancel()
	out, err := exec.CommandContext(ctx, pythonPath, "-c", bPyPeer, ep, strconv.Itoa(n)).CombinedOutput()
	if err != nil || !bytes.Equal(bytes.TrimSpace(out), []byte("OK")) {
		t.Fatalf("pyzmq peer: %v: %s", err, out)
	}
	errs.check(t)
	srv.checkKept(t)
	if got := srv.count(); got != n {
		t.Fatalf("handler saw %d messages, want %d", got, n)
	}
}

// BenchmarkHandlerBorrowed: 4 DEALERs stream two-frame messages (a 5-byte
// header, a 150-byte body) to a ROUTER whose handler reads them and keeps
// nothing (it sums a byte), with and without WithBorrowedFrames. allocs/op
// and B/op are per message, both ends included: the difference is the
// receive path's copies.
//
//	go test -run '^$' -bench HandlerBorrowed -benchtime 200000x .
func BenchmarkHandlerBorrowed(b *testing.B) {
	for _, borrow := range []bool{false, true} {
		b.Run(fmt.Sprintf("borrowed=%v", borrow), func(b *testing.B) { benchHandlerBorrowed(b, borrow) })
	}
}

func benchHandlerBorrowed(b *testing.B, borrow bool) {
	const clients = 4
	per := (b.N + clients - 1) / clients
	total := per * clients
	var mu sync.Mutex
	seen, sum := 0, 0
	done := make(chan struct{})
	opts := []zmq.Option{zmq.WithLinger(0), zmq.WithHandler(func(m zmq.Msg) {
		mu.Lock()
		sum += int(m.Frames[len(m.Frames)-1][0])
		if seen++; seen == total {
			close(done)
		}
		mu.Unlock()
	})}
	if borrow {
		opts = append(opts, zmq.WithBorrowedFrames())
	}
	srv, err := zmq.NewSocket(zmq.Router, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Bind("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cs := make([]*zmq.Socket, clients)
	for k := range cs {
		if cs[k], err = zmq.NewSocket(zmq.Dealer, zmq.WithLinger(0)); err != nil {
			b.Fatal(err)
		}
		defer cs[k].Close()
		if err := cs[k].Connect(srv.LastEndpoint()); err != nil {
			b.Fatal(err)
		}
	}
	hdr, body := []byte("hdr42"), bytes.Repeat([]byte("b"), 150)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			for range per {
				if err := c.Send(ctx, zmq.NewMsg(hdr, body)); err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(total), "cpu-ns/op")
}
