package channels

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHTTPMetricsAndStatus(t *testing.T) {
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 10*time.Second)
	if err := l.GroupAdd(ctx, "room", "member"); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, "member", Message{"type": "x"}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	get := func(path string) string {
		r, err := hs.Client().Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	m := get("/metrics")
	for _, want := range []string{"zmqgo_channels_messages_in_total 1", "zmqgo_channels_queued 1", "zmqgo_channels_group_members 1"} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	var st struct {
		Stats   Stats
		Group   struct{ Channels []string }
		Channel ChannelInfo
	}
	if err := json.Unmarshal([]byte(get("/api/status?group=room&channel=member")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Stats.Received != 1 || len(st.Group.Channels) != 1 || st.Channel.Queued != 1 || st.Channel.Groups[0] != "room" {
		t.Fatalf("%+v", st)
	}
	hs.Client().CloseIdleConnections()
}
