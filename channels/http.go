package channels

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the server's metrics at /metrics (Prometheus text) and
// its status at /api/status (JSON: the Stats, and with ?group=NAME the
// group's channels, with ?channel=NAME the channel's presence).
func (s *Server) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/api/status", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{"stats": s.Stats(), "data": s.Addr(), "signalling": s.SignalAddr()}
		if g := r.URL.Query().Get("group"); g != "" {
			l := s.GroupChannels(g)
			if l == nil {
				l = []string{}
			}
			out["group"] = map[string]any{"name": g, "channels": l}
		}
		if c := r.URL.Query().Get("channel"); c != "" {
			out["channel"] = s.ChannelInfo(c)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	return mux
}

type collector struct{ s *Server }

var (
	descCounters = map[string]*prometheus.Desc{}
	descGauges   = map[string]*prometheus.Desc{}
)

func init() {
	for _, n := range []string{"messages_in", "messages_out", "group_sends", "dropped_full", "expired", "errors", "bad_frames", "gone_peers",
		"store_errors", "store_outages", "forwarded", "unrouted"} {
		descCounters[n] = prometheus.NewDesc("zmqgo_channels_"+n+"_total", "channels server: "+n+" since start", nil, nil)
	}
	for _, n := range []string{"channels", "queued", "subscribers", "groups", "group_members", "store_up"} {
		descGauges[n] = prometheus.NewDesc("zmqgo_channels_"+n, "channels server: "+n+" now", nil, nil)
	}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descCounters {
		ch <- d
	}
	for _, d := range descGauges {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for n, v := range map[string]uint64{"messages_in": st.Received, "messages_out": st.Delivered, "group_sends": st.GroupSends,
		"dropped_full": st.DroppedFull, "expired": st.Expired, "errors": st.Errors, "bad_frames": st.BadFrames, "gone_peers": st.GonePeers,
		"store_errors": st.StoreErrors, "store_outages": st.StoreOutages, "forwarded": st.Forwarded, "unrouted": st.Unrouted} {
		ch <- prometheus.MustNewConstMetric(descCounters[n], prometheus.CounterValue, float64(v))
	}
	for n, v := range map[string]int{"channels": st.Channels, "queued": st.Queued, "subscribers": st.Subscribers, "groups": st.Groups, "group_members": st.Members, "store_up": b2i(st.StoreUp)} {
		ch <- prometheus.MustNewConstMetric(descGauges[n], prometheus.GaugeValue, float64(v))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
