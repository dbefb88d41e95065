package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
)

func gogcNow() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestHeapFloor: with a floor far above the live heap, GOGC goes up at
// once and stays up across collections; the last stop puts it back.
func TestHeapFloor(t *testing.T) {
	before := gogcNow()
	stop1 := startHeapFloor(256 << 20)
	stop2 := startHeapFloor(64 << 20) // a second broker: the highest floor holds
	if g := gogcNow(); g <= before {
		t.Fatalf("GOGC %d with a floor of 256 MiB, want above %d", g, before)
	}
	for range 3 {
		runtime.GC()
	}
	runtime.GC() // the finalizers of the earlier cycles have run
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(goal)
	// About the floor (GOGC is only moved by a tenth at a time).
	if g := goal[0].Value.Uint64(); g < 200<<20 || g > 256<<20 {
		t.Errorf("heap goal %d MiB (GOGC %d), want about 256 MiB", g>>20, gogcNow())
	}
	stop1()
	stop1() // twice is harmless
	if gogcNow() == before {
		t.Errorf("GOGC back to %d while a broker still runs with a floor", before)
	}
	stop2()
	if g := gogcNow(); g != before {
		t.Errorf("GOGC %d after the last stop, want %d", g, before)
	}
	runtime.GC()
	runtime.GC() // a hook left from the run must not set it again
	if g := gogcNow(); g != before {
		t.Errorf("GOGC %d after collections, want %d", g, before)
	}
}

// TestHeapFloorOff: with the GC off (GOGC=off), the floor changes nothing.
func TestHeapFloorOff(t *testing.T) {
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	stop := startHeapFloor(64 << 20)
	runtime.GC()
	runtime.GC()
	stop()
	if v := debug.SetGCPercent(-1); v != -1 {
		t.Errorf("GOGC %d, want off", v)
	}
}

// TestHeapFloorFlag: --heap-floor 0, or GOGC in the environment, leaves
// Go's GC as it is; a floor raises GOGC until stopped. Both broker and
// broker-load take the flag.
func TestHeapFloorFlag(t *testing.T) {
	before := gogcNow()
	byteSize(0).start()()
	if g := gogcNow(); g != before {
		t.Fatalf("GOGC %d after a floor of 0, want %d", g, before)
	}
	stop := byteSize(64 << 20).start()
	if g := gogcNow(); g <= before {
		t.Fatalf("GOGC %d with a floor, want above %d", g, before)
	}
	stop()
	t.Setenv("GOGC", "100")
	stop = byteSize(64 << 20).start()
	if g := gogcNow(); g != before {
		t.Fatalf("GOGC %d with GOGC set, want %d", g, before)
	}
	stop()
	for _, cmd := range []string{"broker", "broker-load"} {
		if code, out, errOut := runSync("help", cmd); code != 0 || !strings.Contains(out+errOut, "--heap-floor") {
			t.Errorf("zmqgo help %s: exit %d, no --heap-floor", cmd, code)
		}
	}
}

// TestHeapFloorPrefault: the floor's memory is mapped at start, free for
// the heap to use without a page fault, and not handed back meanwhile.
func TestHeapFloorPrefault(t *testing.T) {
	stop := startHeapFloor(48 << 20)
	defer stop()
	free := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(free)
	if f := free[0].Value.Uint64(); f < 40<<20 {
		t.Fatalf("%d MiB of the heap free and mapped after a 48 MiB floor started, want about 48", f>>20)
	}
}
