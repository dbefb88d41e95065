// Command rpcbench compares zmqgo's hololinked RPC server (package rpc)
// with a hololinked-style Python server, side by side, with the same Go
// client load: readproperty and invokeaction round trips with 1, 16 and 256
// requests in flight, over tcp and ipc.
//
// hololinked itself is not installable here (no PyPI), so the Python side
// is rpc/testdata/holo_server.py: pyzmq + asyncio doing hololinked 0.3.12's
// per-request work (JSON header parse and strict key check, an invocation
// timeout task, a queued job, an execution timeout task, payload
// deserialize, execute, serialize, ROUTER reply), with the stdlib json
// module where hololinked uses msgspec.
//
// Each server is its own process; the load generator is this process. For
// each case the servers take turns (A B A B ...) --runs times; the table
// shows the median ops/s and the server's CPU time per request (from
// /proc/PID/stat), which is less sensitive to a shared machine than ops/s.
//
// First (--floor) it measures what one request in flight cannot go below:
// the round trip of the same frames to a bare ROUTER that echoes them, in
// Go (zmqgo) and in Python (pyzmq under asyncio, holo_server.py --echo),
// beside the two RPC servers' readproperty round trip, taking turns too.
//
//	go run ./cmd/rpcbench [--secs 2] [--runs 3] [--transports tcp,ipc] [--inflight 1,16,256] [--floor=false]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/rpc"
)

func main() {
	serve := flag.String("serve", "", "internal: serve the demo Thing at `ADDR` and print its endpoints")
	echo := flag.String("echo", "", "internal: echo every message of a ROUTER bound at `ADDR`")
	floor := flag.Bool("floor", true, "first measure the bare round trip to a Go and a pyzmq ROUTER echoing the same frames")
	secs := flag.Float64("secs", 2, "seconds per run")
	runs := flag.Int("runs", 3, "runs per server and case (median)")
	transports := flag.String("transports", "tcp,ipc", "transports")
	inflight := flag.String("inflight", "1,16,256", "requests in flight")
	ops := flag.String("ops", "readproperty,invokeaction", "operations")
	python := flag.String("python", "/usr/bin/python3", "Python with pyzmq")
	holo := flag.String("holo", "../rpc/testdata/holo_server.py", "the hololinked-style server")
	flag.Parse()
	if *echo != "" {
		if err := serveEcho(*echo); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if *serve != "" {
		if err := serveDemo(*serve); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	dir, err := os.MkdirTemp("", "rpcbench")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	fmt.Printf("rpcbench: %g s per run, %d runs per server and case, servers alternating\n\n", *secs, *runs)
	if *floor {
		printFloor(self, *python, *holo, dir, *transports, *runs, time.Duration(*secs*float64(time.Second)))
	}
	fmt.Println("| transport | operation | in flight | zmqgo ops/s | python ops/s | ratio | zmqgo server CPU µs/op | python server CPU µs/op | CPU ratio |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, tr := range strings.Split(*transports, ",") {
		addr := func(name string) string {
			if tr == "ipc" {
				return "ipc://" + filepath.Join(dir, name+".ipc")
			}
			return "tcp://127.0.0.1:0"
		}
		goSrv := start(exec.Command(self, "-serve", addr("zmqgo")))
		pySrv := start(exec.Command(*python, *holo, "--bind", addr("python")))
		servers := []*server{goSrv, pySrv}
		for _, s := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			s.client, err = rpc.Dial(ctx, s.ep, "demo")
			cancel()
			if err != nil {
				fail(err)
			}
		}
		for _, op := range strings.Split(*ops, ",") {
			for _, k := range strings.Split(*inflight, ",") {
				n, _ := strconv.Atoi(k)
				var res [2][]result
				for range *runs {
					for i, s := range servers {
						res[i] = append(res[i], s.run(op, n, time.Duration(*secs*float64(time.Second))))
					}
				}
				g, p := median(res[0]), median(res[1])
				fmt.Printf("| %s | %s | %d | %.0f | %.0f | %.1fx | %.1f | %.1f | %.1fx |\n", tr, op, n,
					g.ops, p.ops, g.ops/p.ops, g.cpu, p.cpu, p.cpu/g.cpu)
			}
		}
		for _, s := range servers {
			s.client.Close()
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	}
	l, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nload average after the run: %s", l)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rpcbench:", err)
	os.Exit(1)
}

func serveDemo(addr string) error {
	s, err := rpc.NewServer("demo")
	if err != nil {
		return err
	}
	s.AddThing(rpc.NewDemoThing("demo"))
	ep, err := s.Listen(addr)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]string{"requests": ep, "events": s.EventEndpointFor(ep)})
	fmt.Printf("%s\n", b)
	return s.Serve(context.Background())
}

type server struct {
	cmd    *exec.Cmd
	ep     string
	client *rpc.Client
}

func start(cmd *exec.Cmd) *server {
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		fail(fmt.Errorf("%v: %w", cmd.Args, err))
	}
	var eps struct{ Requests string }
	if err := json.Unmarshal([]byte(line), &eps); err != nil {
		fail(err)
	}
	return &server{cmd: cmd, ep: eps.Requests}
}

type result struct {
	ops float64 // per second
	cpu float64 // server CPU µs per op
}

// cpuTicks returns a process's user+system CPU time in clock ticks.
func cpuTicks(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return u + s
}

const ticksPerSecond = 100 // USER_HZ on Linux

func (s *server) run(op string, inflight int, d time.Duration) result {
	objekt, payload := "count", any(nil)
	if op == rpc.OpInvokeAction {
		objekt, payload = "emit", map[string]any{"value": 1}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t0 := cpuTicks(s.cmd.Process.Pid)
	start := time.Now()
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.client.Do(ctx, "demo", objekt, op, payload); err != nil {
					fail(err)
				}
				n.Add(1)
			}
		}()
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	el := time.Since(start)
	cpu := (cpuTicks(s.cmd.Process.Pid) - t0) / ticksPerSecond
	ops := float64(n.Load())
	return result{ops: ops / el.Seconds(), cpu: cpu / ops * 1e6}
}

func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].ops < rs[j].ops })
	m := rs[len(rs)/2]
	cpus := make([]float64, len(rs))
	for i, r := range rs {
		cpus[i] = r.cpu
	}
	sort.Float64s(cpus)
	m.cpu = cpus[len(cpus)/2]
	return m
}

// The floor: one message in flight between two processes, with nothing
// done to it but receiving and sending it back. A DEALER sends the four
// frames of a readproperty request (empty delimiter, header, payload,
// preencoded) to a ROUTER, which returns them as they came: the same
// sockets, frame sizes and wake-ups as an RPC round trip at 1 in flight,
// without the RPC. The Go echo is zmqgo; the Python one is pyzmq under
// asyncio, as the stand-in server.
func printFloor(self, python, holo, dir, transports string, runs int, d time.Duration) {
	fmt.Println("Round trip with 1 in flight, µs (median of the runs): bare ROUTER echo of the same frames vs the RPC server")
	fmt.Println()
	fmt.Println("| transport | zmqgo echo | pyzmq echo | zmqgo RPC readproperty | Python RPC readproperty |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, tr := range strings.Split(transports, ",") {
		addr := func(name string) string {
			if tr == "ipc" {
				return "ipc://" + filepath.Join(dir, name+".ipc")
			}
			return "tcp://127.0.0.1:0"
		}
		procs := []*server{
			start(exec.Command(self, "-echo", addr("goecho"))),
			start(exec.Command(python, holo, "--echo", "--bind", addr("pyecho"))),
			start(exec.Command(self, "-serve", addr("gofloor"))),
			start(exec.Command(python, holo, "--bind", addr("pyfloor"))),
		}
		for _, p := range procs[2:] {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var err error
			p.client, err = rpc.Dial(ctx, p.ep, "demo")
			cancel()
			if err != nil {
				fail(err)
			}
		}
		var us [4][]float64
		for range runs {
			for i, p := range procs {
				if i < 2 {
					us[i] = append(us[i], echoRTT(p.ep, d))
				} else {
					r := p.run(rpc.OpReadProperty, 1, d)
					us[i] = append(us[i], 1e6/r.ops)
				}
			}
		}
		med := func(x []float64) float64 { sort.Float64s(x); return x[len(x)/2] }
		fmt.Printf("| %s | %.1f | %.1f | %.1f | %.1f |\n", tr, med(us[0]), med(us[1]), med(us[2]), med(us[3]))
		for _, p := range procs {
			if p.client != nil {
				p.client.Close()
			}
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	}
	fmt.Println()
}

// echoRTT returns the mean round trip in µs to the echo at ep over d.
func echoRTT(ep string, d time.Duration) float64 {
	s, err := zmq.NewSocket(zmq.Dealer)
	if err != nil {
		fail(err)
	}
	defer s.Close()
	if err := s.Connect(ep); err != nil {
		fail(err)
	}
	req := &rpc.Request{Header: rpc.RequestHeader{MessageType: rpc.MsgOperation,
		MessageID: "8e1ea2d6-8b1a-4c2e-9a53-2f4b1e7c0d11", SenderID: "demo|zmqgo|0123abcd", ReceiverID: "demo",
		ServerExecutionContext: rpc.EncodeExecContext(5, 5, false), ThingExecutionContext: []byte(`{"fetch_execution_logs":false}`),
		ThingID: "demo", Objekt: "count", Operation: rpc.OpReadProperty,
		PayloadContentType: rpc.ContentJSON, PreencodedPayloadContentType: rpc.ContentText}}
	frames := req.Frames(nil)[1:] // "", header, payload, preencoded
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if err := s.Send(ctx, zmq.NewMsg(frames...)); err != nil {
			fail(err)
		}
		if _, err := s.Recv(ctx); err != nil {
			fail(err)
		}
		n++
	}
	return float64(time.Since(start).Microseconds()) / float64(n)
}

func serveEcho(addr string) error {
	s, err := zmq.NewSocket(zmq.Router)
	if err != nil {
		return err
	}
	if err := s.Bind(addr); err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]string{"requests": s.LastEndpoint()})
	fmt.Printf("%s\n", b)
	ctx := context.Background()
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(ctx, m); err != nil {
			return err
		}
	}
}
