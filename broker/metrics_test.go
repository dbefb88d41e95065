package broker

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// noKeepAlive leaves no connection (and goroutine) behind a test.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := noKeepAlive.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// scrape returns the metrics of the text exposition as series → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, line := range strings.Split(get(t, url+"/metrics"), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		m[line[:i]] = v
	}
	return m
}

// The metrics move with what the broker does.
func TestMetrics(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{Rate: -1})
	srv := httptest.NewServer(b.HTTPHandler())
	defer srv.Close()
	before := scrape(t, srv.URL)
	for _, name := range []string{"zmqgo_broker_clients_registered", "zmqgo_broker_clients_connected",
		`zmqgo_broker_messages_received_total{type="direct_message"}`, `zmqgo_broker_errors_total{reason="invalid_json"}`,
		"zmqgo_broker_queue_depth_messages", "zmqgo_broker_queue_depth_max_bytes", "zmqgo_broker_request_duration_seconds_count",
		"zmqgo_broker_broadcasts_total", "zmqgo_broker_broadcast_recipients_total", "zmqgo_broker_federation_upstreams_connected",
		"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := before[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	alice, _ := client(t, b.Addr(), "alice")
	_, bobIn := client(t, b.Addr(), "bob")
	for range 3 {
		if _, err := alice.Send(ctx, "bob", "hi"); err != nil {
			t.Fatal(err)
		}
		bobIn.next(t, TypeDirectMessage)
	}
	if _, err := alice.Broadcast(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.call(ctx, TypeError, json.RawMessage(`{"type":"nonsense"}`)); err == nil {
		t.Fatal("nonsense accepted")
	}
	after := scrape(t, srv.URL)
	for name, want := range map[string]float64{
		"zmqgo_broker_clients_registered":                                2,
		"zmqgo_broker_clients_connected":                                 2,
		`zmqgo_broker_messages_received_total{type="direct_message"}`:    3,
		`zmqgo_broker_messages_received_total{type="register"}`:          2,
		`zmqgo_broker_messages_received_total{type="other"}`:             1,
		`zmqgo_broker_messages_sent_total{type="direct_message"}`:        3,
		`zmqgo_broker_messages_sent_total{type="delivery_confirmation"}`: 3,
		`zmqgo_broker_messages_sent_total{type="error"}`:                 1,
		`zmqgo_broker_errors_total{reason="unknown_type"}`:               1,
		"zmqgo_broker_broadcasts_total":                                  1,
		"zmqgo_broker_broadcast_recipients_total":                        1,
		"zmqgo_broker_request_duration_seconds_count":                    7,
		`zmqgo_broker_messages_dropped_total{type="direct_message"}`:     0,
		"zmqgo_broker_federation_upstreams":                              0,
	} {
		if got := after[name] - before[name]; got != want {
			t.Errorf("%s moved by %v, want %v", name, got, want)
		}
	}
}

// /api/status: the clients, counters and rates.
func TestStatusJSON(t *testing.T) {
	ctx := testCtx(t)
	b := startBroker(t, Config{Rate: -1})
	srv := httptest.NewServer(b.HTTPHandler())
	defer srv.Close()
	alice, _ := client(t, b.Addr(), "alice")
	if _, err := alice.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/api/status")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Clients) != 1 || st.Clients[0].Name != "alice" || st.Clients[0].Messages != 2 || st.Stats.Received != 2 ||
		st.Connected != 1 || st.Name != b.Name() {
		t.Fatalf("status %+v", st)
	}
	if page := get(t, srv.URL+"/"); !strings.Contains(page, "api/status") {
		t.Fatal("no status page")
	}
	resp, err := noKeepAlive.Get(srv.URL + "/nothing")
	if err != nil || resp.StatusCode != 404 {
		t.Fatal(resp, err)
	}
	resp.Body.Close()
}
