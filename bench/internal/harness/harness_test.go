package harness

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFields(t *testing.T) {
	f := Fields("RESULT rate=123.5 msgs=10 name=x secs=0.5")
	if f["rate"] != 123.5 || f["msgs"] != 10 || f["secs"] != 0.5 || len(f) != 3 {
		t.Errorf("fields %v", f)
	}
}

// One short run of each pattern over each transport with zmqgo's peer.
func TestRunZmqgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the peer")
	}
	dir, err := Dir("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Builds bin/peer-zmqgo, as compare does.
	if err := Build(dir, []string{"zmqgo"}, testWriter{t}); err != nil {
		t.Fatal(err)
	}
	eps := &Endpoints{}
	defer eps.Close()
	for _, tr := range []string{"tcp", "ipc", "inproc"} {
		for _, c := range []Case{
			{Pattern: "pushpull", Transport: tr, Size: 64},
			{Pattern: "pubsub", Transport: tr, Size: 64},
			{Pattern: "pubsub", Transport: tr, Size: 64, NoDrop: true},
			{Pattern: "reqrep", Transport: tr, Size: 16},
		} {
			ep, err := eps.Next(tr)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(dir, "zmqgo", c, ep, 0.05, 1000, nil, nil)
			if err != nil {
				t.Errorf("%s: %v", c, err)
				continue
			}
			switch {
			case c.Pattern == "reqrep" && (res["n"] == 0 || res["p50_us"] <= 0):
				t.Errorf("%s: %v", c, res)
			case c.Pattern != "reqrep" && (res["rate"] <= 0 || res["msgs"] == 0):
				t.Errorf("%s: %v", c, res)
			case c.Pattern == "pushpull" || c.NoDrop:
				if res["lost"] != 0 || res["msgs"] != res["sent"] {
					t.Errorf("%s: lost messages: %v", c, res)
				}
			}
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

func TestBaseline(t *testing.T) {
	for _, c := range []struct {
		impl, base, rev string
		ok              bool
	}{
		{"zmqgo@33e131b", "zmqgo", "33e131b", true},
		{"zmqgo@HEAD~2", "zmqgo", "HEAD~2", true},
		{"zmqgo", "zmqgo", "", false},
		{"zmqgo@", "zmqgo@", "", false},
		{"libzmq@v4", "libzmq@v4", "", false},
	} {
		base, rev, ok := Baseline(c.impl)
		if base != c.base || rev != c.rev || ok != c.ok {
			t.Errorf("Baseline(%q) = %q, %q, %v; want %q, %q, %v", c.impl, base, rev, ok, c.base, c.rev, c.ok)
		}
	}
}

// BuildAt builds the peer of a revision (HEAD here) and leaves no worktree
// behind.
func TestBuildAt(t *testing.T) {
	if testing.Short() {
		t.Skip("checks out a worktree and builds the peer")
	}
	dir, err := Dir("../..")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := ResolveRev(dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	before, err := git(dir, "worktree", "list", "--porcelain")
	if err != nil {
		t.Fatal(err)
	}
	if err := BuildAt(dir, rev, testWriter{t}); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(Bin(dir, "zmqgo@"+rev))
	if fi, err := os.Stat(Bin(dir, "zmqgo@"+rev)); err != nil || fi.Size() == 0 {
		t.Fatalf("no peer built: %v", err)
	}
	after, err := git(dir, "worktree", "list", "--porcelain")
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("worktrees before:\n%s\nafter:\n%s", before, after)
	}
	if _, err := ResolveRev(dir, "no-such-revision-xyz"); err == nil {
		t.Error("ResolveRev of a missing revision: no error")
	}
}
