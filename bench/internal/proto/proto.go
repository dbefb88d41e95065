// Package proto is what the Go peers of the comparison (bench/peers/zmqgo,
// bench/peers/zmq4) share with each other and with bench/c/peer.c: the
// command line, the message markers, the control lines on stdin and stdout,
// and the result lines. The hot loops stay in each peer, written straight
// against its library, so no interface call sits between a peer and its
// library.
//
// Command line (all positional, so the C peer parses it the same way):
//
//	peer ROLE PATTERN ENDPOINT SIZE SECONDS HWM [key=value...]
//
// ROLE is recv (binds: PULL, SUB, REP), send (connects: PUSH, PUB, REQ) or
// both (one process, the two sides as goroutines or threads: inproc).
// PATTERN is pushpull, pubsub or reqrep. SECONDS is how long the sender
// sends (or the requester asks). HWM is both the send and the receive
// high-water mark. Keys: fresh=1 makes the sender allocate (and fill) a new
// buffer per message instead of sending one buffer again and again; alloc=1
// (zmqgo) takes each message's buffer from zmq.AllocMsg, which recycles it;
// delay_us=N makes the receiver sleep N µs after each message (slow
// consumer); nodrop=1 makes a publisher wait at the high-water mark instead
// of dropping (ZMQ_XPUB_NODROP, which libzmq and zmqgo allow on PUB; zmq4
// has no such option and ignores it).
//
// Messages are SIZE bytes (at least MinSize). The first byte says what the
// message is: 0 data, 'W' warm-up (PUB/SUB: sent until the subscriber has
// its subscription in place), 0xFF end (then bytes 1..8 hold, little
// endian, how many data messages the sender sent).
//
// Lines a peer prints on stdout:
//
//	READY ENDPOINT        receiver bound (and subscribed)
//	SUBSCRIBED            subscriber got its first warm-up
//	RESULT key=value...   the measurement
//	SENT n                sender done
//
// A publisher reads its stdin: "GO" starts the data, end of file ends the
// end markers, which it repeats every millisecond until then (a PUB drops
// what does not fit, so one marker might be lost).
package proto

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Message markers (first byte).
const (
	KindData = 0x00
	KindWarm = 'W'
	KindEnd  = 0xFF
)

// MinSize is the smallest message size: an end marker and its count.
const MinSize = 9

// Args is a parsed peer command line.
type Args struct {
	Role, Pattern, Endpoint string
	Size                    int
	Duration                time.Duration
	HWM                     int
	Fresh                   bool          // fresh=1
	Alloc                   bool          // alloc=1
	NoDrop                  bool          // nodrop=1
	Delay                   time.Duration // delay_us=N
	Extra                   map[string]string
}

// Parse parses os.Args, exiting with a usage message on error.
func Parse() Args {
	a, err := ParseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\nusage: %s recv|send|both pushpull|pubsub|reqrep ENDPOINT SIZE SECONDS HWM [fresh=1] [delay_us=N] [nodrop=1]\n",
			os.Args[0], err, os.Args[0])
		os.Exit(2)
	}
	return a
}

// ParseArgs parses a peer command line (without the program name).
func ParseArgs(args []string) (Args, error) {
	var a Args
	if len(args) < 6 {
		return a, fmt.Errorf("want at least 6 arguments, got %d", len(args))
	}
	a.Role, a.Pattern, a.Endpoint = args[0], args[1], args[2]
	switch a.Role {
	case "recv", "send", "both":
	default:
		return a, fmt.Errorf("bad role %q", a.Role)
	}
	switch a.Pattern {
	case "pushpull", "pubsub", "reqrep":
	default:
		return a, fmt.Errorf("bad pattern %q", a.Pattern)
	}
	var err error
	if a.Size, err = strconv.Atoi(args[3]); err != nil || a.Size < MinSize {
		return a, fmt.Errorf("bad size %q (at least %d)", args[3], MinSize)
	}
	secs, err := strconv.ParseFloat(args[4], 64)
	if err != nil || secs <= 0 {
		return a, fmt.Errorf("bad seconds %q", args[4])
	}
	a.Duration = time.Duration(secs * float64(time.Second))
	if a.HWM, err = strconv.Atoi(args[5]); err != nil || a.HWM < 0 {
		return a, fmt.Errorf("bad hwm %q", args[5])
	}
	a.Extra = map[string]string{}
	for _, kv := range args[6:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return a, fmt.Errorf("bad option %q (want key=value)", kv)
		}
		a.Extra[k] = v
		switch k {
		case "fresh":
			a.Fresh = v == "1"
		case "alloc":
			a.Alloc = v == "1"
		case "nodrop":
			a.NoDrop = v == "1"
		case "delay_us":
			us, err := strconv.Atoi(v)
			if err != nil || us < 0 {
				return a, fmt.Errorf("bad delay_us %q", v)
			}
			a.Delay = time.Duration(us) * time.Microsecond
		default:
			return a, fmt.Errorf("unknown option %q", k)
		}
	}
	return a, nil
}

// Data returns a zeroed data message.
func Data(size int) []byte { return make([]byte, size) }

// Warm returns a warm-up message.
func Warm(size int) []byte {
	b := make([]byte, size)
	b[0] = KindWarm
	return b
}

// End returns an end marker that says sent data messages went out.
func End(size int, sent uint64) []byte {
	b := make([]byte, size)
	b[0] = KindEnd
	binary.LittleEndian.PutUint64(b[1:9], sent)
	return b
}

// Kind is the marker of a received message.
func Kind(b []byte) byte {
	if len(b) == 0 {
		return KindData
	}
	return b[0]
}

// Sent is the count an end marker carries.
func Sent(b []byte) uint64 { return binary.LittleEndian.Uint64(b[1:9]) }

// Control is how a publisher is told to start and to stop: from stdin lines
// (a separate process) or by the other goroutine (role both).
type Control struct {
	Go   chan struct{} // closed to start sending data
	Stop chan struct{} // closed to stop sending end markers
}

// NewControl returns a Control for in-process use.
func NewControl() *Control {
	return &Control{Go: make(chan struct{}), Stop: make(chan struct{})}
}

// StdinControl returns a Control driven by stdin: "GO" and end of file.
func StdinControl() *Control {
	c := NewControl()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		started := false
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "GO" && !started {
				started = true
				close(c.Go)
			}
		}
		if !started {
			close(c.Go)
		}
		close(c.Stop)
	}()
	return c
}

// Println writes one line to stdout at once.
func Println(format string, args ...any) {
	os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

// Fatal reports err and exits 1.
func Fatal(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %s: %v\n", os.Args[0], what, err)
	os.Exit(1)
}

// Throughput prints the receiver's RESULT line: n data messages received
// from the first one to the end marker (el), of which the sender says it
// sent sent (0: unknown).
func Throughput(n uint64, el time.Duration, size int, sent uint64) {
	secs := el.Seconds()
	rate := 0.0
	if n > 1 && secs > 0 {
		rate = float64(n-1) / secs
	}
	lost := uint64(0)
	if sent > n {
		lost = sent - n
	}
	Println("RESULT rate=%.0f mbps=%.1f msgs=%d sent=%d lost=%d secs=%.4f",
		rate, rate*float64(size)/1e6, n, sent, lost, secs)
}

// Latency prints the requester's RESULT line for round-trip times in
// nanoseconds (sorted in place).
func Latency(rtts []int64) {
	if len(rtts) == 0 {
		Println("RESULT n=0")
		return
	}
	slices.Sort(rtts)
	var sum float64
	for _, r := range rtts {
		sum += float64(r)
	}
	pct := func(p float64) float64 {
		i := int(p*float64(len(rtts))+0.5) - 1
		i = max(0, min(i, len(rtts)-1))
		return float64(rtts[i]) / 1e3
	}
	Println("RESULT n=%d avg_us=%.2f p50_us=%.2f p99_us=%.2f min_us=%.2f max_us=%.2f",
		len(rtts), sum/float64(len(rtts))/1e3, pct(0.50), pct(0.99),
		float64(rtts[0])/1e3, float64(rtts[len(rtts)-1])/1e3)
}

// WarmupRoundTrips is how many round trips a requester makes before it
// starts measuring.
const WarmupRoundTrips = 1000

// MaxSamples bounds the round trips recorded.
const MaxSamples = 4 << 20

// CheckEvery is how many messages a sender sends between looks at the clock.
const CheckEvery = 64
