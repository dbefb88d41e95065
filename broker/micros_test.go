package broker

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestAppendMicros checks the timestamps' quick form against
// encoding/json's: whole microseconds from 1 µs to 2^33 s,
// trailing zeros, whole seconds, today's and the edges.
func TestAppendMicros(t *testing.T) {
	check := func(f float64) {
		t.Helper()
		want, _ := json.Marshal(f)
		if got := appendFloat([]byte{}, f); string(got) != string(want) {
			t.Fatalf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, us := range []int64{1, 9, 10, 100000, 999999, 1000000, 1000001, 1000010, 1700000000000000, 1796390000123450, 1<<33*1e6 - 1} {
		check(float64(us) / 1e6)
	}
	now := time.Now()
	for i := range 200000 {
		check(unix(now.Add(time.Duration(i) * 1237 * time.Nanosecond)))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500000 {
		us := r.Int64N(1<<33*1e6-1) + 1
		if r.IntN(4) == 0 {
			us -= us % int64([]int{10, 100, 1000, 1000000}[r.IntN(4)]) // trailing zeros
			us = max(us, 1)
		}
		check(float64(us) / 1e6)
	}
	// Not whole microseconds, or out of range: strconv's way.
	for _, f := range []float64{0.5e-6, 1.0000005, 1 << 34, 1e21, 3.14159265358979} {
		check(f)
	}
}

func BenchmarkAppendFloat(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 32)
	f := unix(time.Now())
	for b.Loop() {
		buf = appendFloat(buf[:0], f)
	}
}

func BenchmarkAppendFloatStrconv(b *testing.B) {
	buf := make([]byte, 0, 32)
	f := float64(time.Now().UnixNano()) / 1e9
	for b.Loop() {
		buf = strconv.AppendFloat(buf[:0], f, 'f', -1, 64)
	}
}
