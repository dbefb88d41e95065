package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/zmqgo/zmq/broker"
)

// brokerOps are the operator's flags of `zmqgo broker`: the HTTP endpoint
// (metrics, status page, profiles) and the memory bounds.
type brokerOps struct {
	http string
}

func (o *brokerOps) register(fs *flag.FlagSet) {
	fs.StringVar(&o.http, "http", "", "serve Prometheus metrics at /metrics, a live status page at /,\n"+
		"its JSON at /api/status and Go profiles at /debug/pprof/ on `ADDR`\n(e.g. 127.0.0.1:8222; default: off)")
}

func (o *brokerOps) validate() error {
	if o.http != "" {
		if _, _, err := net.SplitHostPort(o.http); err != nil {
			return fmt.Errorf("--http: %w (want HOST:PORT, e.g. 127.0.0.1:8222)", err)
		}
	}
	return nil
}

// serve starts the HTTP endpoint of b, if asked for; stop shuts it down.
func (o *brokerOps) serve(e *env, b *broker.Broker) (stop func(), err error) {
	if o.http == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", o.http)
	if err != nil {
		return nil, fmt.Errorf("--http: %w", err)
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
	e.warnf("http on http://%s", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
