// Command slowconsumer checks that a sender's memory stays bounded when its
// peer cannot keep up: the sender sends flat out for a while to a receiver
// that sleeps after every message, and the sender's resident set (VmRSS,
// and the kernel's peak VmHWM) is sampled from /proc. The target is
// peak RSS ≤ HWM × message size + 10 MB.
//
//	cd bench && go run ./cmd/slowconsumer
//
// Each sender allocates (and fills) a new buffer for every message, as an
// application must when Send takes ownership of the frames; the "shared"
// variant sends one buffer again and again (zero-copy: what is measured is
// the engine's own queueing). zmqgo also runs with GOMEMLIMIT set to the
// bound, which tells the Go garbage collector what the target is, and with
// zmq.AllocMsg, whose buffers go back to a pool once written, so the sender
// makes no garbage.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zmqgo/zmq/bench/internal/harness"
)

type variant struct {
	impl, label string
	extra       []string
	env         []string
}

func main() {
	var (
		dir       = flag.String("dir", ".", "the bench directory (or the repository root)")
		size      = flag.Int("size", 65536, "message size in bytes")
		hwm       = flag.Int("hwm", 1000, "send and receive high-water mark")
		secs      = flag.Float64("secs", 4, "seconds the sender sends")
		delay     = flag.Int("delay-us", 1000, "receiver's sleep after each message, µs")
		patterns  = flag.String("patterns", "pushpull,pubsub", "patterns, comma-separated")
		transport = flag.String("transport", "tcp", "tcp or ipc")
		withZmq4  = flag.Bool("zmq4", false, "also measure go-zeromq/zmq4 (it has no HWM on PUSH)")
		noBuild   = flag.Bool("no-build", false, "use the peers already in bin/")
	)
	flag.Parse()
	d, err := harness.Dir(*dir)
	check(err)
	impls := []string{"zmqgo", "libzmq"}
	if *withZmq4 {
		impls = append(impls, "zmq4")
	}
	if !*noBuild {
		check(harness.Build(d, impls, os.Stderr))
	}
	bound := float64(*hwm)*float64(*size) + 10e6
	variants := []variant{
		{"zmqgo", "fresh buffer per message", []string{"fresh=1"}, nil},
		{"zmqgo", "fresh buffer, GOMEMLIMIT=bound", []string{"fresh=1"}, []string{fmt.Sprintf("GOMEMLIMIT=%d", int64(bound))}},
		{"zmqgo", "zmq.AllocMsg per message, filled", []string{"alloc=1"}, nil},
		{"zmqgo", "one shared buffer", nil, nil},
		{"libzmq", "new zmq_msg per message, filled", []string{"fresh=1"}, nil},
	}
	if *withZmq4 {
		variants = append(variants, variant{"zmq4", "fresh buffer per message", []string{"fresh=1"}, nil})
	}
	eps := &harness.Endpoints{}
	defer eps.Close()
	fmt.Printf("\n## Slow consumer: sender memory\n\n")
	fmt.Printf("- %s, %d-byte messages, HWM %d (send and receive), sender sends flat out for %gs, receiver sleeps %d µs per message\n",
		*transport, *size, *hwm, *secs, *delay)
	fmt.Printf("- bound: HWM × size + 10 MB = %.1f MB; RSS is the sender process's VmRSS sampled every 10 ms, peak is the kernel's VmHWM\n\n", bound/1e6)
	fmt.Printf("| pattern | implementation | sender | peak RSS MB | ≤ bound? | received | sent |\n|---|---|---|---:|---|---:|---:|\n")
	for _, pat := range strings.Split(*patterns, ",") {
		for _, v := range variants {
			c := harness.Case{Pattern: pat, Transport: *transport, Size: *size}
			ep, err := eps.Next(c.Transport)
			check(err)
			var mu sync.Mutex
			var peak, peakHWM int64
			var wg sync.WaitGroup
			harness.SenderEnv = v.env
			res, err := harness.Run(d, v.impl, c, ep, *secs, *hwm, append([]string{"delay_us=" + strconv.Itoa(*delay)}, v.extra...),
				func(p *harness.Proc) {
					pid := p.Pid()
					wg.Add(1)
					go func() {
						defer wg.Done()
						t := time.NewTicker(10 * time.Millisecond)
						defer t.Stop()
						for {
							rss, hwm, ok := memOf(pid)
							if ok {
								mu.Lock()
								peak, peakHWM = max(peak, rss), max(peakHWM, hwm)
								mu.Unlock()
							}
							select {
							case <-p.Done():
								return
							case <-t.C:
							}
						}
					}()
				})
			wg.Wait()
			harness.SenderEnv = nil
			if err != nil {
				fmt.Fprintf(os.Stderr, "slowconsumer: %s %s: %v\n", pat, v.impl, err)
				fmt.Printf("| %s | %s | %s | failed | | | |\n", pat, v.impl, v.label)
				continue
			}
			p := float64(max(peak, peakHWM))
			ok := "yes"
			if p > bound {
				ok = fmt.Sprintf("no (+%.1f MB)", (p-bound)/1e6)
			}
			fmt.Printf("| %s | %s | %s | %.1f | %s | %.0f | %.0f |\n", pat, v.impl, v.label, p/1e6, ok, res["msgs"], res["sent"])
		}
	}
}

// memOf reads VmRSS and VmHWM (bytes) of a process.
func memOf(pid int) (rss, hwm int64, ok bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss, ok = n*1024, true
		case "VmHWM":
			hwm = n * 1024
		}
	}
	return rss, hwm, ok
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "slowconsumer:", err)
		os.Exit(1)
	}
}
