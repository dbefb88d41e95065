package broker

import (
	"strings"
	"testing"
)

// Issue 17, attack 6: "dup", "DUP", "dup " and "ｄup" were four clients.
// Now they are one name: the first holds it, the look-alikes are taken.
func TestLookAlikeNames(t *testing.T) {
	h := newHarness(t, Config{}, 0)
	h.register("A", "dup")
	for _, name := range []string{"DUP", "dup ", " dup", "ｄup", "ＤＵＰ", "Dup\u3000"} {
		h.send("B", `{"type":"register","name":"`+name+`"}`)
		if m := h.replyType("B", TypeError); !strings.Contains(m["message"].(string), "is taken") {
			t.Errorf("%q: %v", name, m)
		}
	}
	for _, name := range []string{"dup\u200b", "d\u00adup", "dup\u2028", "   "} {
		h.send("B", `{"type":"register","name":"`+name+`"}`)
		if m := h.replyType("B", TypeError); strings.Contains(m["message"].(string), "Welcome") {
			t.Errorf("%q registered", name)
		}
	}
	// A direct message to a look-alike reaches the holder, who keeps the
	// name it registered.
	h.register("C", "Carol")
	h.send("C", `{"type":"direct_message","target":"ＤＵＰ","content":"hi"}`)
	if m := h.replyType("C", TypeDeliveryConfirmation); m["status"] != StatusDelivered {
		t.Fatal(m)
	}
	if m := h.replyType("A", TypeDirectMessage); m["from"] != "Carol" {
		t.Fatal(m)
	}
	if infos := h.st.clientInfos(); len(infos) != 2 || infos[0].Name != "Carol" || infos[1].Name != "dup" {
		t.Fatalf("%+v", infos)
	}
	// The holder may re-register under a variant of its own name.
	h.register("A", "Dup")
	if infos := h.st.clientInfos(); len(infos) != 2 || infos[1].Name != "Dup" {
		t.Fatalf("%+v", infos)
	}
}

func TestNameKey(t *testing.T) {
	for in, want := range map[string]string{
		"dup": "dup", "DUP": "dup", "dup ": "dup", "ｄup": "dup", "Straße": "strasse", "ﬁle": "file",
		"Ⅻ": "xii", "sensor-1": "sensor-1",
	} {
		if got := nameKey(in); got != want {
			t.Errorf("nameKey(%q) = %q, want %q", in, got, want)
		}
	}
	// The common case costs nothing on the message path.
	if n := testing.AllocsPerRun(100, func() { nameKey("client-42") }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
