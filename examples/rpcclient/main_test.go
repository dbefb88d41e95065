package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAgainstPythonThing runs the example against rpc/testdata/holo_server.py,
// a pyzmq server that replies as hololinked's does.
func TestAgainstPythonThing(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import zmq, msgpack").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import zmq, msgpack (install python3-zmq python3-msgpack): %v", python, err)
		}
		t.Skipf("%s cannot import zmq, msgpack: %v", python, err)
	}
	cmd := exec.Command(python, "../../rpc/testdata/holo_server.py", "--bind", "tcp://127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var eps struct{ Requests string }
	if err := json.Unmarshal([]byte(line), &eps); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, []string{"-connect", eps.Requests}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := `thing demo: actions [emit fail get_thing_model ping sleep_for]
count is now 2
slept 0.05 s
fail raised ValueError: deliberate failure from Demo.fail (`
	if !bytes.HasPrefix(out.Bytes(), []byte(want)) || !bytes.Contains(out.Bytes(), []byte("values add up to 45\nevent demo/tick: value 42\n")) {
		t.Fatalf("got\n%s", out.String())
	}
}
