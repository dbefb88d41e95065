package broker

import (
	"math"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestLatencyHist checks the plain histogram against what Prometheus's
// own gave: buckets 1 µs to 0.26 s by 4s, cumulative, upper bounds
// inclusive, the sum in seconds.
func TestLatencyHist(t *testing.T) {
	var h latencyHist
	for _, d := range []time.Duration{0, time.Microsecond, time.Microsecond + 1, 3 * time.Microsecond, 5 * time.Millisecond, time.Second} {
		h.observe(d)
	}
	var m dto.Metric
	if err := h.metric().Write(&m); err != nil {
		t.Fatal(err)
	}
	hist := m.GetHistogram()
	if hist.GetSampleCount() != 6 {
		t.Errorf("count %d, want 6", hist.GetSampleCount())
	}
	if want := 1.005005001; math.Abs(hist.GetSampleSum()-want) > 1e-12 {
		t.Errorf("sum %v, want %v", hist.GetSampleSum(), want)
	}
	want := map[float64]uint64{1e-6: 2, 4e-6: 4, 16e-6: 4, 64e-6: 4, 256e-6: 4, 1024e-6: 4, 4096e-6: 4, 16384e-6: 5, 65536e-6: 5, 262144e-6: 5}
	if len(hist.GetBucket()) != len(want) {
		t.Fatalf("%d buckets, want %d", len(hist.GetBucket()), len(want))
	}
	for _, b := range hist.GetBucket() {
		if n, ok := want[b.GetUpperBound()]; !ok || n != b.GetCumulativeCount() {
			t.Errorf("bucket le=%v: %d, want %d (known: %v)", b.GetUpperBound(), b.GetCumulativeCount(), n, ok)
		}
	}
}

func BenchmarkLatencyObserve(b *testing.B) {
	b.ReportAllocs()
	var h latencyHist
	for i := 0; b.Loop(); i++ {
		h.observe(time.Duration(i&4095) * time.Nanosecond)
	}
}
