package broker

import (
	"embed"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// The live status page: static/status.html (plain HTML, CSS and JS in the
// binary, no build step, no CDN) polls /api/status every second.

//go:embed static/status.html
var static embed.FS

// Status is what /api/status serves: the broker at a glance.
type Status struct {
	Name      string    `json:"name"`
	Bind      []string  `json:"bind"`
	Started   time.Time `json:"started"`
	Now       time.Time `json:"now"`
	Connected int       `json:"connected"` // ROUTER connections
	// Rates are per second over the last minute (or since the first look
	// at the status, if that is more recent).
	Rates struct {
		Received float64 `json:"received"`
		Sent     float64 `json:"sent"`
		Errors   float64 `json:"errors"`
		Window   float64 `json:"window_seconds"`
	} `json:"rates"`
	Stats      Stats            `json:"stats"`
	Clients    []ClientStatus   `json:"clients"`
	Federation FederationStatus `json:"federation"`
}

// ClientStatus is one registered client on the status page.
type ClientStatus struct {
	Name           string    `json:"name"`
	ID             string    `json:"id"` // its routing id, as text or hex
	ConnectedSince time.Time `json:"connected_since"`
	LastActivity   time.Time `json:"last_activity"`
	Messages       int       `json:"messages"`
	QueueMessages  int       `json:"queue_messages"`
	QueueBytes     int64     `json:"queue_bytes"`
}

// FederationStatus lists the broker's neighbours in its federation.
type FederationStatus struct {
	Upstreams  []UpstreamStatus   `json:"upstreams"`
	Downstream []DownstreamStatus `json:"downstream"`
}

type UpstreamStatus struct {
	Addr      string `json:"addr"`
	Connected bool   `json:"connected"`
}

type DownstreamStatus struct {
	Node   string    `json:"node"`
	Since  time.Time `json:"since"`
	Routes int       `json:"routes"`
}

// Status returns the broker's state as the status page shows it.
func (b *Broker) Status() Status {
	st := Status{Name: b.cfg.Name, Bind: b.Addrs(), Started: b.ops.start, Now: time.Now(), Connected: b.ops.connected()}
	ids := map[string][]byte{}
	ok := b.do(func() {
		s := b.st
		st.Stats = s.snapshot()
		for _, p := range s.names {
			st.Clients = append(st.Clients, ClientStatus{Name: p.name, ID: clientID(p.id),
				ConnectedSince: p.since, LastActivity: p.last, Messages: p.count})
			ids[p.name] = p.id
		}
		for _, p := range s.peers {
			if p.kind == kindBroker {
				st.Federation.Downstream = append(st.Federation.Downstream,
					DownstreamStatus{Node: p.name, Since: p.since, Routes: len(p.routes)})
			}
		}
		for i, up := range s.ups {
			st.Federation.Upstreams = append(st.Federation.Upstreams, UpstreamStatus{Addr: b.cfg.Upstream[i], Connected: up})
		}
	})
	if !ok {
		st.Stats = b.lastStats
	}
	for i := range st.Clients { // off the loop: the socket has its own lock
		c := &st.Clients[i]
		c.QueueMessages, c.QueueBytes, _ = b.router.PeerQueue(ids[c.Name])
	}
	slices.SortFunc(st.Clients, func(a, b ClientStatus) int { return cmpString(a.Name, b.Name) })
	slices.SortFunc(st.Federation.Downstream, func(a, b DownstreamStatus) int { return cmpString(a.Node, b.Node) })
	r := b.ops.rates.add(st.Now, st.Stats)
	st.Rates.Received, st.Rates.Sent, st.Rates.Errors, st.Rates.Window = r.received, r.sent, r.errors, r.window
	return st
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (b *Broker) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(b.Status())
}

func (b *Broker) statusPage() http.Handler {
	page, _ := static.ReadFile("static/status.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
}

// rateRing keeps the counters as the status saw them over the last
// minute, to give rates without a timer on the loop.
type rateRing struct {
	mu      sync.Mutex
	samples []rateSample
}

type rateSample struct {
	at                     time.Time
	received, sent, errors uint64
}

type rates struct{ received, sent, errors, window float64 }

func (rr *rateRing) add(now time.Time, st Stats) rates {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.samples = append(rr.samples, rateSample{now, st.Received, st.Sent, st.Errors})
	i := 0
	for i < len(rr.samples)-2 && now.Sub(rr.samples[i+1].at) >= time.Minute {
		i++
	}
	rr.samples = rr.samples[i:]
	first := rr.samples[0]
	secs := now.Sub(first.at).Seconds()
	if secs <= 0 {
		return rates{}
	}
	return rates{float64(st.Received-first.received) / secs, float64(st.Sent-first.sent) / secs,
		float64(st.Errors-first.errors) / secs, secs}
}
