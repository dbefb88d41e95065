package broker

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/zmqgo/zmq"
)

// ops is what the operator's endpoint (HTTPHandler) needs beyond the
// state: the connections of the ROUTER, the request latency, the start.
type ops struct {
	start   time.Time
	latency latencyHist // guarded by Broker.mu, as the state

	mu    sync.Mutex
	conns map[string]time.Time // ROUTER connections by routing id, since when

	rates rateRing // status.go
}

func (o *ops) init() {
	o.start = time.Now()
	o.conns = make(map[string]time.Time)
}

// latencyHist is the request-handling latency histogram, counted with plain
// integers under the broker's mutex, which every request holds anyway, and
// turned into Prometheus's at scrape time: a prometheus.Histogram's atomic
// adds cost each request more than this (cache lines shared by the
// handlers' threads).
type latencyHist struct {
	counts [len(latencyBounds)]uint64 // per bucket, not cumulative; last: over the top bound
	count  uint64
	sum    time.Duration
}

// latencyBounds are the buckets' upper bounds: 1 µs to 0.26 s, by 4s.
var latencyBounds = [...]time.Duration{1e3, 4e3, 16e3, 64e3, 256e3, 1024e3, 4096e3, 16384e3, 65536e3, 262144e3, 1 << 62}

var dLatency = desc("request_duration_seconds", "Time the broker took to handle a request of a client or downstream broker.")

func (h *latencyHist) observe(d time.Duration) {
	i := 0
	for d > latencyBounds[i] { // the top bound ends the loop
		i++
	}
	h.counts[i]++
	h.count++
	h.sum += d
}

// metric is h as a Prometheus histogram (cumulative buckets, seconds).
func (h *latencyHist) metric() prometheus.Metric {
	buckets := make(map[float64]uint64, len(latencyBounds)-1)
	var n uint64
	for i, b := range latencyBounds[:len(latencyBounds)-1] {
		n += h.counts[i]
		buckets[b.Seconds()] = n
	}
	return prometheus.MustNewConstHistogram(dLatency, h.count, h.sum.Seconds(), buckets)
}

// connection follows the ROUTER's connections from its monitor events.
func (o *ops) connection(e zmq.Event) {
	if len(e.RoutingID) == 0 {
		return // a handshake that failed: never a connection
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch e.Type {
	case zmq.EventHandshakeSucceeded:
		o.conns[string(e.RoutingID)] = e.Time
	case zmq.EventDisconnected:
		delete(o.conns, string(e.RoutingID))
	}
}

func (o *ops) connected() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.conns)
}

// metricsHandler serves the Prometheus metrics: the broker's counters,
// read from the loop at scrape time (so counting costs the loop nothing
// more), and the Go runtime's and the process's.
func (b *Broker) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{b: b},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

type collector struct{ b *Broker }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("zmqgo_broker_"+name, help, labels, nil)
}

var (
	dConnected   = desc("clients_connected", "Connections to the broker's ROUTER (clients, downstream brokers, peers yet to register).")
	dRegistered  = desc("clients_registered", "Clients registered under a name.")
	dPeers       = desc("peers", "Routing ids the broker knows: clients, downstream brokers, peers yet to register.")
	dReceived    = desc("messages_received_total", "Messages received, by type (other: unknown or malformed).", "type")
	dSent        = desc("messages_sent_total", "Messages sent, by type.", "type")
	dDropped     = desc("messages_dropped_total", "Messages dropped because the recipient's queue was full (in messages or bytes), by type.", "type")
	dErrors      = desc("errors_total", "Requests refused and messages lost, by reason.", "reason")
	dRateLimited = desc("rate_limited_total", "Requests refused by the rate limit.")
	dExpired     = desc("expired_total", "Peers forgotten after --expire of silence.")
	dCut         = desc("connections_cut_total", "Connections cut for a message over the hard cap (16 x --max-msg-size).")
	dBroadcasts  = desc("broadcasts_total", "Broadcasts of clients of this broker.")
	dFanOut      = desc("broadcast_recipients_total", "Clients of this broker the broadcasts reached, all together.")
	dForwarded   = desc("forwarded_total", "Messages passed to other brokers of the federation.")
	dQueueMsgs   = desc("queue_depth_messages", "Messages queued for clients, all queues together.")
	dQueueBytes  = desc("queue_depth_bytes", "Bytes queued for clients, all queues together.")
	dQueueMaxM   = desc("queue_depth_max_messages", "Messages queued for the client with the most.")
	dQueueMaxB   = desc("queue_depth_max_bytes", "Bytes queued for the client with the most.")
	dUpstreams   = desc("federation_upstreams", "Upstream brokers configured (--upstream).")
	dUpsUp       = desc("federation_upstreams_connected", "Upstream brokers connected.")
	dDownstream  = desc("federation_downstream_brokers", "Downstream brokers that announced their clients.")
	dRoutes      = desc("federation_routes", "Client names reachable through downstream brokers.")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	b := c.b
	var st Stats
	var lat latencyHist
	if !b.do(func() { st, lat = b.st.snapshot(), b.ops.latency }) {
		st, lat = b.Stats(), b.finalLatency
	}
	ch <- lat.metric()
	q := b.router.SendQueues()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(dConnected, float64(b.ops.connected()))
	gauge(dRegistered, float64(st.Clients))
	gauge(dPeers, float64(st.Peers))
	// Every label value, zeros too, so that rate() sees a series from its
	// first increment.
	for _, t := range msgTypeNames {
		counter(dReceived, st.ReceivedByType[t], t)
		counter(dSent, st.SentByType[t], t)
		counter(dDropped, st.DroppedByType[t], t)
	}
	for _, r := range reasonNames {
		counter(dErrors, st.ErrorsByReason[r], r)
	}
	counter(dRateLimited, st.RateLimited)
	counter(dExpired, st.Expired)
	counter(dCut, st.Cut)
	counter(dBroadcasts, st.Broadcasts)
	counter(dFanOut, st.FanOut)
	counter(dForwarded, st.Forwarded)
	gauge(dQueueMsgs, float64(q.Messages))
	gauge(dQueueBytes, float64(q.Bytes))
	gauge(dQueueMaxM, float64(q.MaxMessages))
	gauge(dQueueMaxB, float64(q.MaxBytes))
	gauge(dUpstreams, float64(len(b.ups)))
	gauge(dUpsUp, float64(st.Upstreams))
	gauge(dDownstream, float64(st.Brokers))
	gauge(dRoutes, float64(st.Routes))
	if st.Cluster.Enabled {
		collectCluster(ch, st.Cluster) // redis.go
	}
}
