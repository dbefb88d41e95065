package proto

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseArgs(t *testing.T) {
	a, err := ParseArgs([]string{"send", "pubsub", "tcp://127.0.0.1:5555", "16", "0.5", "1000", "fresh=1", "delay_us=20", "nodrop=1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Role != "send" || a.Pattern != "pubsub" || a.Endpoint != "tcp://127.0.0.1:5555" || a.Size != 16 ||
		a.Duration != 500*time.Millisecond || a.HWM != 1000 || !a.Fresh || a.Delay != 20*time.Microsecond || !a.NoDrop {
		t.Errorf("parsed %+v", a)
	}
	for _, bad := range [][]string{
		{"send", "pubsub", "ep", "16", "1"},
		{"talk", "pubsub", "ep", "16", "1", "0"},
		{"send", "pair", "ep", "16", "1", "0"},
		{"send", "pubsub", "ep", "8", "1", "0"},
		{"send", "pubsub", "ep", "16", "0", "0"},
		{"send", "pubsub", "ep", "16", "1", "-1"},
		{"send", "pubsub", "ep", "16", "1", "0", "frob=1"},
		{"send", "pubsub", "ep", "16", "1", "0", "fresh"},
		{"send", "pubsub", "ep", "16", "1", "0", "delay_us=x"},
	} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMarkers(t *testing.T) {
	if Kind(Data(16)) != KindData || Kind(Warm(16)) != KindWarm || Kind(nil) != KindData {
		t.Error("bad kinds")
	}
	e := End(16, 1234567890123)
	if Kind(e) != KindEnd || Sent(e) != 1234567890123 || len(e) != 16 {
		t.Errorf("end marker %x", e)
	}
}
