package zmq

import (
	"bytes"
	"testing"

	"github.com/zmqgo/zmq/internal/zmtp"
)

// TestCtlCmdFrame checks byte for byte that a typed control command, encoded
// where it is written, is the frame the zmtp codec defines.
func TestCtlCmdFrame(t *testing.T) {
	topic := []byte("weather")
	ctx := []byte("ctx")
	for _, c := range []struct {
		name  string
		cmd   ctlCmd
		minor byte
		want  []byte
	}{
		{"SUBSCRIBE", subCmd(true, topic), 1, zmtp.AppendSubscribe(nil, topic)},
		{"CANCEL", subCmd(false, topic), 1, zmtp.AppendCancel(nil, topic)},
		{"subscribe 3.0", subCmd(true, topic), 0, zmtp.AppendSubscription30(nil, true, topic)},
		{"cancel 3.0", subCmd(false, topic), 0, zmtp.AppendSubscription30(nil, false, topic)},
		{"PING", ctlCmd{kind: ctlPing, ttl: 300}, 1, zmtp.AppendPing(nil, 300, nil)},
		{"PONG", ctlCmd{kind: ctlPong, data: ctx}, 1, zmtp.AppendPong(nil, ctx)},
		{"probe", ctlCmd{kind: ctlProbe}, 1, zmtp.AppendFrame(nil, 0, nil)},
	} {
		flags, body := c.cmd.frame(c.minor)
		if got := zmtp.AppendFrame(nil, flags, body); !bytes.Equal(got, c.want) {
			t.Errorf("%s: % x, want % x", c.name, got, c.want)
		}
	}
}
