package broker

import "net/http"

// HTTPHandler returns the broker's operator endpoint: Prometheus metrics at
// /metrics (metrics.go), a live status page at / and its data as JSON at
// /api/status (status.go). Serve it on an address of your choosing, as
// `zmqgo broker --http` does.
func (b *Broker) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", b.metricsHandler())
	mux.HandleFunc("GET /api/status", b.serveStatus)
	mux.Handle("GET /", b.statusPage())
	return mux
}
