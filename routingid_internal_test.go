package zmq

import "testing"

// A wrapped counter skips ids that live peers still hold.
func TestGenerateIDSkipsLiveIDs(t *testing.T) {
	s, err := NewSocket(Router)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID = 0xffffffff
	held := []string{"\x00\xff\xff\xff\xff", "\x00\x00\x00\x00\x00", "\x00\x00\x00\x00\x01"}
	for _, id := range held {
		s.byID[id] = &pipe{}
	}
	if got := string(s.generateIDLocked()); got != "\x00\x00\x00\x00\x02" {
		t.Fatalf("generated %x", got)
	}
}
