package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/zmqgo/zmq/broker"
)

// brokerOps are the operator's flags of `zmqgo broker`: the HTTP endpoint
// (metrics, status page, profiles) and the memory bounds.
type brokerOps struct {
	http                   string
	queueBytes, totalBytes byteSize
	heartbeat, hbTimeout   time.Duration
}

// byteSize is a flag of bytes: 8388608, 8MiB, 512KiB, 1GiB (or MB, KB, GB
// as the same powers of two).
type byteSize int64

func (b *byteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n := int64(*b); n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("want a number of bytes such as 8388608 or 8MiB, got %q", s)
	}
	*b = byteSize(n * mult)
	return nil
}

func (o *brokerOps) register(fs *flag.FlagSet) {
	o.queueBytes, o.totalBytes = broker.DefaultQueueBytes, broker.DefaultTotalBytes
	fs.DurationVar(&o.heartbeat, "heartbeat", broker.DefaultHeartbeat, "send a ZMTP PING to each client every `D`; a client whose connection\nis gone is forgotten within --heartbeat + --heartbeat-timeout; 0: no PINGs")
	fs.DurationVar(&o.hbTimeout, "heartbeat-timeout", broker.DefaultHBTimeout, "drop a client that sends nothing for `D` after a PING")
	fs.Var(&o.queueBytes, "queue-bytes", "queue at most `N` bytes per client (e.g. 8MiB); drop beyond; 0: no bound")
	fs.Var(&o.totalBytes, "total-bytes", "queue at most `N` bytes for all clients together; drop beyond;\n0: no bound")
	fs.StringVar(&o.http, "http", "", "serve Prometheus metrics at /metrics, a live status page at /,\n"+
		"its JSON at /api/status and Go profiles at /debug/pprof/ on `ADDR`\n(e.g. 127.0.0.1:8222; default: off)")
}

func (o *brokerOps) validate() error {
	if o.heartbeat < 0 || o.hbTimeout < 0 || o.heartbeat > 0 && o.hbTimeout == 0 {
		return fmt.Errorf("--heartbeat and --heartbeat-timeout must not be negative, and the timeout not 0 with PINGs on (got %v, %v)", o.heartbeat, o.hbTimeout)
	}
	if o.http != "" {
		if _, _, err := net.SplitHostPort(o.http); err != nil {
			return fmt.Errorf("--http: %w (want HOST:PORT, e.g. 127.0.0.1:8222)", err)
		}
	}
	return nil
}

// apply sets the operator's settings in cfg.
func (o *brokerOps) apply(cfg *broker.Config) {
	cfg.QueueBytes, cfg.TotalBytes = int64(o.queueBytes), int64(o.totalBytes)
	cfg.Heartbeat, cfg.HeartbeatTimeout = o.heartbeat, o.hbTimeout
	if o.heartbeat == 0 {
		cfg.Heartbeat = -1
	}
	if o.queueBytes == 0 {
		cfg.QueueBytes = -1
	}
	if o.totalBytes == 0 {
		cfg.TotalBytes = -1
	}
}

// serve starts the HTTP endpoint of b, if asked for, and returns its
// address ("" if not); stop shuts it down.
func (o *brokerOps) serve(e *env, b *broker.Broker) (addr string, stop func(), err error) {
	if o.http == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", o.http)
	if err != nil {
		return "", nil, fmt.Errorf("--http: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", b.HTTPHandler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.warnf("http: %v", err)
		}
	}()
	return "http://" + ln.Addr().String() + "/", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
