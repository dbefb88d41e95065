package ztest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Python is Debian's interpreter: Debian's python3-* packages (pyzmq,
// txZMQ, msgpack, django, channels) load only there, not under the python3
// first on PATH.
const Python = "/usr/bin/python3"

var pyChecks sync.Map // import line -> func() error (sync.OnceValue)

// NeedPython skips the test unless Python can import every module in
// modules, or fails it when CI=true, where scripts/test.sh installed them.
// install names the Debian packages to install, for the message. Each set
// of modules is checked once per test binary.
func NeedPython(t testing.TB, install string, modules ...string) {
	t.Helper()
	line := "import " + strings.Join(modules, ", ")
	check, _ := pyChecks.LoadOrStore(line, sync.OnceValue(func() error {
		out, err := exec.Command(Python, "-c", line).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s cannot %s (install %s): %v: %s", Python, line, install, err, bytes.TrimSpace(out))
		}
		return nil
	}))
	if err := check.(func() error)(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Python peer missing on CI: %v", err)
		}
		t.Skipf("skipping Python interop: %v", err)
	}
}
