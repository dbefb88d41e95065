package channels

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

var djangoCheck = sync.OnceValue(func() error {
	out, err := exec.Command(python, "-c", "import django, channels, asgiref, zmq.asyncio, msgpack").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import Django Channels (install python3-django python3-django-channels): %v: %s", python, err, bytes.TrimSpace(out))
	}
	return nil
})

// A Django Channels consumer (Debian's Django 3.2, Channels 4.0) chats
// through the server: two websocket clients in one group, and a group
// message from the Go client reaching them.
func TestInteropDjangoConsumer(t *testing.T) {
	if err := djangoCheck(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Django Channels missing on CI: %v", err)
		}
		t.Skipf("skipping Django interop: %v", err)
	}
	s := startServer(t, Config{})
	l := dial(t, s)
	ctx := ctxT(t, 60*time.Second)
	cmd := exec.CommandContext(ctx, python, "testdata/django_consumer.py", s.Addr())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "joined" {
		cmd.Wait()
		t.Fatalf("consumer: %q\n%s", lines.Text(), stderr.Bytes())
	}
	if got, err := l.GroupChannels(ctx, "room"); err != nil || len(got) != 2 || !strings.HasPrefix(got[0], "specific.py") {
		t.Fatalf("room: %v %v", got, err)
	}
	if err := l.GroupSend(ctx, "room", Message{"type": "chat.message", "text": "from go"}); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("go\n"))
	ok := lines.Scan() && lines.Text() == "ok"
	if err := cmd.Wait(); err != nil || !ok {
		t.Fatalf("consumer: %v %q\n%s", err, lines.Text(), stderr.Bytes())
	}
}
