// Command compare runs zmqgo, libzmq and go-zeromq/zmq4 side by side and
// prints a markdown table of medians, ranges and the zmqgo/libzmq ratio.
//
//	cd bench && go run ./cmd/compare            # the full comparison (~10 min on 2 cores)
//	cd bench && go run ./cmd/compare --quick    # one short run of each (~2 min)
//	cd bench && go run ./cmd/compare --baseline 33e131b   # also zmqgo as of commit 33e131b
//
// Each case (pattern, transport, size) runs every implementation in turn,
// A B C A B C ..., so that machine noise hits all of them alike.
//
// Before/after: --baseline REV (or an implementation spelled zmqgo@REV in
// --impls) builds bench/peers/zmqgo as of git revision REV of the repository
// that bench/ lives in (from a temporary detached git worktree, removed once
// built) into bin/peer-zmqgo@HASH, and runs it interleaved with the current
// tree's zmqgo. A second table then gives the two side by side, labelled
// "after" (this tree) and "before" (REV), with the after/before ratio of the
// medians. REV is resolved to its short hash, so --baseline main labels the
// column with the commit it measured. Receiver
// (bind) and sender (connect) are separate processes, except over inproc,
// which is one process by nature. The peers are in bench/peers and
// bench/c/peer.c; their protocol is described in bench/internal/proto.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zmqgo/zmq/bench/internal/harness"
)

func main() {
	var (
		dir        = flag.String("dir", ".", "the bench directory (or the repository root)")
		runs       = flag.Int("runs", 3, "runs of each implementation per case")
		secs       = flag.Float64("secs", 1, "seconds each sender sends (or each requester asks) per run")
		quick      = flag.Bool("quick", false, "a smoke test: --runs 1 --secs 0.25")
		impls      = flag.String("impls", strings.Join(harness.Impls, ","), "implementations, comma-separated; zmqgo and libzmq give the ratio")
		patterns   = flag.String("patterns", "pushpull,pubsub,reqrep", "patterns, comma-separated")
		transports = flag.String("transports", "tcp,ipc,inproc", "transports, comma-separated")
		sizes      = flag.String("sizes", "16,256,4096,65536", "throughput message sizes in bytes, comma-separated")
		pubsub     = flag.String("pubsub", "nodrop", "PUB/SUB variants, comma-separated: nodrop (the publisher waits at the HWM,\nZMQ_XPUB_NODROP) and drop (it sends flat out and PUB drops at the HWM)")
		rrSize     = flag.Int("rr-size", 16, "REQ/REP message size in bytes")
		hwm        = flag.Int("hwm", -1, "send and receive high-water mark; -1: 64 MiB / size, kept within 1000..100000")
		rawOut     = flag.String("raw", "", "also write every run as a JSON line to `FILE`")
		noBuild    = flag.Bool("no-build", false, "use the peers already in bin/")
		baseline   = flag.String("baseline", "", "also run zmqgo as of git `REV` (built from a temporary worktree), interleaved with\nthe current zmqgo, and print an after/before table; same as adding zmqgo@REV to --impls")
	)
	flag.Parse()
	if *quick {
		*runs, *secs = 1, 0.25
	}
	d, err := harness.Dir(*dir)
	check(err)
	impl := split(*impls)
	if *baseline != "" {
		// Right after zmqgo, so the two alternate: after, before, after, ...
		if i := slices.Index(impl, "zmqgo"); i >= 0 {
			impl = slices.Insert(impl, i+1, "zmqgo@"+*baseline)
		} else {
			impl = append([]string{"zmqgo", "zmqgo@" + *baseline}, impl...)
		}
	}
	for i, im := range impl {
		if _, rev, ok := harness.Baseline(im); ok {
			h, err := harness.ResolveRev(d, rev)
			check(err)
			impl[i] = "zmqgo@" + h
		}
	}
	if !*noBuild {
		check(harness.Build(d, impl, os.Stderr))
	}
	var cases []harness.Case
	for _, t := range split(*transports) {
		for _, p := range split(*patterns) {
			if p == "reqrep" {
				cases = append(cases, harness.Case{Pattern: p, Transport: t, Size: *rrSize})
				continue
			}
			variants := []bool{false}
			if p == "pubsub" {
				variants = nil
				for _, v := range split(*pubsub) {
					switch v {
					case "nodrop":
						variants = append(variants, true)
					case "drop":
						variants = append(variants, false)
					default:
						check(fmt.Errorf("--pubsub: unknown variant %q", v))
					}
				}
			}
			for _, nodrop := range variants {
				for _, s := range split(*sizes) {
					n, err := strconv.Atoi(s)
					check(err)
					cases = append(cases, harness.Case{Pattern: p, Transport: t, Size: n, NoDrop: nodrop})
				}
			}
		}
	}
	var raw io.Writer = io.Discard
	if *rawOut != "" {
		f, err := os.Create(*rawOut)
		check(err)
		defer f.Close()
		raw = f
	}

	eps := &harness.Endpoints{}
	defer eps.Close()
	loadBefore := loadAvg()
	start := time.Now()
	total := len(cases) * *runs * len(impl)
	k := 0
	results := map[string]map[string][]map[string]float64{} // case -> impl -> runs
	hwms := map[string]int{}
	var failures []string
	for _, c := range cases {
		h := *hwm
		if h < 0 {
			h = autoHWM(c.Size)
		}
		hwms[c.String()] = h
		results[c.String()] = map[string][]map[string]float64{}
		for r := 0; r < *runs; r++ {
			for _, im := range impl {
				k++
				ep, err := eps.Next(c.Transport)
				check(err)
				t0 := time.Now()
				res, err := harness.Run(d, im, c, ep, *secs, h, nil, nil)
				if err != nil {
					fmt.Fprintf(os.Stderr, "[%d/%d] %s %s run %d: FAILED: %v\n", k, total, c, im, r+1, err)
					first, _, _ := strings.Cut(err.Error(), "\n")
					failures = append(failures, fmt.Sprintf("%s, %s, run %d: %s", c, im, r+1, first))
					continue
				}
				results[c.String()][im] = append(results[c.String()][im], res)
				fmt.Fprintf(os.Stderr, "[%d/%d %s] %s %s run %d: %s (%.1fs)\n", k, total,
					time.Since(start).Round(time.Second), c, im, r+1, summary(c, res), time.Since(t0).Seconds())
				rec := map[string]any{"case": c.String(), "pattern": c.Pattern, "transport": c.Transport,
					"size": c.Size, "impl": im, "run": r + 1, "hwm": h, "secs": *secs, "result": res}
				b, _ := json.Marshal(rec)
				fmt.Fprintf(raw, "%s\n", b)
			}
		}
	}
	elapsed := time.Since(start)
	printHeader(os.Stdout, d, *runs, *secs, *hwm, elapsed, loadBefore)
	for _, im := range impl {
		if _, rev, ok := harness.Baseline(im); ok {
			fmt.Fprintf(os.Stdout, "- baseline %s: %s\n", im, firstLine("git", "-C", d, "log", "-1", "--format=%h %cs %s", rev))
		}
	}
	fmt.Fprintln(os.Stdout)
	var plain, baselines []string
	for _, im := range impl {
		if _, _, ok := harness.Baseline(im); ok {
			baselines = append(baselines, im)
		} else {
			plain = append(plain, im)
		}
	}
	if len(baselines) == 0 || len(plain) > 1 {
		var ratios []ratioCol
		if slices.Contains(plain, "zmqgo") && slices.Contains(plain, "libzmq") {
			ratios = append(ratios, ratioCol{"zmqgo", "libzmq", "zmqgo/libzmq"})
		}
		printTable(os.Stdout, cases, plain, nil, ratios, results, hwms)
		printNotes(os.Stdout)
	}
	for _, b := range baselines {
		_, rev, _ := harness.Baseline(b)
		fmt.Fprintf(os.Stdout, "\n### Before/after: zmqgo (this tree) vs zmqgo@%s\n\n", rev)
		labels := map[string]string{"zmqgo": "after: zmqgo", b: "before: " + b}
		if !slices.Contains(impl, "zmqgo") {
			fmt.Fprintf(os.Stdout, "(no after/before ratio: zmqgo itself was not run)\n\n")
		}
		printTable(os.Stdout, cases, []string{"zmqgo", b}, labels,
			[]ratioCol{{"zmqgo", b, "after/before"}}, results, hwms)
		fmt.Fprintln(os.Stdout)
		fmt.Fprintf(os.Stdout, "after/before is the current tree's median over %s's (both zmqgo's peer, runs interleaved):\n", b)
		fmt.Fprintln(os.Stdout, "above 1 is faster now for msgs/s, below 1 is faster now for round trips.")
	}
	if len(failures) > 0 {
		fmt.Println("\nFailed runs:")
		for _, f := range failures {
			fmt.Println("-", f)
		}
	}
}

func autoHWM(size int) int { return max(1000, min(100000, (64<<20)/size)) }

func summary(c harness.Case, r map[string]float64) string {
	if c.Pattern == "reqrep" {
		return fmt.Sprintf("avg %.1fµs p50 %.1fµs p99 %.1fµs (%.0f round trips)", r["avg_us"], r["p50_us"], r["p99_us"], r["n"])
	}
	s := fmt.Sprintf("%s msgs/s, %.0f MB/s", human(r["rate"]), r["mbps"])
	if r["lost"] > 0 {
		s += fmt.Sprintf(", lost %.1f%%", 100*r["lost"]/r["sent"])
	}
	return s
}

// A row is one metric of one case.
type row struct {
	label  string
	metric func(map[string]float64) (float64, bool)
	format func(float64) string
	ratio  bool
}

// A ratioCol is a column of the ratio of two implementations' medians.
type ratioCol struct{ num, den, title string }

// printTable prints a column per implementation of impls (headed by
// labels[impl] if set) and a column per ratio.
func printTable(w io.Writer, cases []harness.Case, impls []string, labels map[string]string, ratios []ratioCol, results map[string]map[string][]map[string]float64, hwms map[string]int) {
	fmt.Fprintf(w, "| case | metric |")
	for _, im := range impls {
		if l, ok := labels[im]; ok {
			im = l
		}
		fmt.Fprintf(w, " %s |", im)
	}
	for _, rc := range ratios {
		fmt.Fprintf(w, " %s |", rc.title)
	}
	fmt.Fprintf(w, "\n|---|---|")
	for range impls {
		fmt.Fprintf(w, "---:|")
	}
	for range ratios {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintln(w)
	get := func(k string) func(map[string]float64) (float64, bool) {
		return func(m map[string]float64) (float64, bool) { v, ok := m[k]; return v, ok }
	}
	us := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	for _, c := range cases {
		var rows []row
		switch c.Pattern {
		case "reqrep":
			rows = []row{
				{"round trip avg µs", get("avg_us"), us, true},
				{"round trip p50 µs", get("p50_us"), us, true},
				{"round trip p99 µs", get("p99_us"), us, true},
			}
		case "pushpull":
			rows = []row{{"msgs/s", get("rate"), human, true}}
		case "pubsub":
			rows = []row{
				{"msgs/s received", get("rate"), human, true},
				{"loss %", func(m map[string]float64) (float64, bool) {
					if m["sent"] == 0 {
						return 0, false
					}
					return 100 * m["lost"] / m["sent"], true
				}, func(v float64) string { return fmt.Sprintf("%.1f", v) }, false},
			}
		}
		for i, r := range rows {
			label := ""
			if i == 0 {
				label = fmt.Sprintf("%s %s %s", patternName(c.Pattern), c.Transport, sizeName(c.Size))
				if c.Pattern == "pubsub" {
					if c.NoDrop {
						label = "PUB/SUB nodrop" + strings.TrimPrefix(label, "PUB/SUB")
					} else {
						label = "PUB/SUB drop" + strings.TrimPrefix(label, "PUB/SUB")
					}
				}
				if c.Pattern != "reqrep" {
					label += fmt.Sprintf(" (hwm %d)", hwms[c.String()])
				}
			}
			fmt.Fprintf(w, "| %s | %s |", label, r.label)
			med := map[string]float64{}
			for _, im := range impls {
				var vs []float64
				for _, res := range results[c.String()][im] {
					if v, ok := r.metric(res); ok {
						vs = append(vs, v)
					}
				}
				if len(vs) == 0 {
					fmt.Fprintf(w, " failed |")
					continue
				}
				slices.Sort(vs)
				m := median(vs)
				med[im] = m
				cell := r.format(m)
				if lo, hi := r.format(vs[0]), r.format(vs[len(vs)-1]); lo != hi {
					cell += fmt.Sprintf(" (%s–%s)", lo, hi)
				}
				fmt.Fprintf(w, " %s |", cell)
			}
			for _, rc := range ratios {
				z, ok1 := med[rc.num]
				l, ok2 := med[rc.den]
				if r.ratio && ok1 && ok2 && l > 0 {
					fmt.Fprintf(w, " %.2f× |", z/l)
				} else {
					fmt.Fprintf(w, " |")
				}
			}
			fmt.Fprintln(w)
		}
	}
}

func printNotes(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Throughput is messages per second as received (first message to end marker), median (min–max) of the runs;")
	fmt.Fprintln(w, "the ratio is zmqgo's median over libzmq's: above 1 is faster for msgs/s, below 1 is faster for round trips.")
	fmt.Fprintln(w, "PUB/SUB: the subscriber binds and subscribes to everything, the publisher connects and sends warm-up messages until")
	fmt.Fprintln(w, "the subscriber has one, then data. nodrop: the publisher waits at the HWM (ZMQ_XPUB_NODROP on the PUB socket),")
	fmt.Fprintln(w, "so nothing is lost -- except with zmq4, which has no such option: its PUB drops what exceeds its queue (HWM).")
	fmt.Fprintln(w, "drop: plain PUB, the publisher sends flat out and drops at the HWM; loss is what the subscriber missed.")
}

func patternName(p string) string {
	switch p {
	case "pushpull":
		return "PUSH/PULL"
	case "pubsub":
		return "PUB/SUB"
	case "reqrep":
		return "REQ/REP"
	}
	return p
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func printHeader(w io.Writer, dir string, runs int, secs float64, hwm int, elapsed time.Duration, loadBefore string) {
	fmt.Fprintf(w, "\n## zmqgo vs libzmq vs go-zeromq/zmq4\n\n")
	fmt.Fprintf(w, "- machine: %d CPUs (%s), %s\n", runtime.NumCPU(), cpuModel(), firstLine("uname", "-sr"))
	fmt.Fprintf(w, "- load average (1, 5, 15 min) before: %s; after: %s\n", loadBefore, loadAvg())
	fmt.Fprintf(w, "- %s; libzmq %s (gcc -O2); go-zeromq/zmq4 %s\n", firstLine("go", "version"),
		firstLine("pkg-config", "--modversion", "libzmq"), moduleVersion(dir, "github.com/go-zeromq/zmq4"))
	h := "64 MiB / size, kept within 1000..100000 (100000 at 16 and 256 B, 16384 at 4 KiB, 1024 at 64 KiB)"
	if hwm >= 0 {
		h = strconv.Itoa(hwm)
	}
	fmt.Fprintf(w, "- %d runs of each implementation per case, interleaved; senders send for %gs per run; HWM (send and receive): %s\n", runs, secs, h)
	fmt.Fprintf(w, "- one frame per message; receiver binds, sender connects, separate processes (inproc: one process, two threads)\n")
	fmt.Fprintf(w, "- took %s\n", elapsed.Round(time.Second))
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(l)
}

func moduleVersion(dir, mod string) string {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", mod)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}
