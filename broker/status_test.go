package broker

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium is Debian's package (scripts/test.sh installs it).
const chromium = "/usr/bin/chromium"

// dumpDOM loads url in headless Chromium and returns the DOM once the
// page's scripts have run for a while (virtual time: polls included).
func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=3000", "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
}

var receivedRE = regexp.MustCompile(`<b id="received">([0-9,]+)</b>`)

func receivedOnPage(t *testing.T, dom string) int {
	t.Helper()
	m := receivedRE.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no received counter in the page:\n%s", dom)
	}
	n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
	return n
}

// The status page in a real browser: a client registers and sends; its row
// and the counters appear, and the counters move.
func TestStatusPageChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium missing on CI: %v", err)
		}
		t.Skipf("skipping the browser test: %v (install Debian's chromium)", err)
	}
	ctx := testCtx(t)
	b := startBroker(t, Config{Rate: -1})
	srv := httptest.NewServer(b.HTTPHandler())
	defer srv.Close()
	alice, _ := client(t, b.Addr(), "alice-in-browser")
	_, bobIn := client(t, b.Addr(), "bob")
	send := func(n int) {
		for range n {
			if _, err := alice.Send(ctx, "bob", "hi"); err != nil {
				t.Fatal(err)
			}
			bobIn.next(t, TypeDirectMessage)
		}
	}
	send(5)
	dom := dumpDOM(t, srv.URL+"/")
	if !strings.Contains(dom, `<tr data-name="alice-in-browser"><td>alice-in-browser</td>`) ||
		!strings.Contains(dom, `<tr data-name="bob">`) {
		t.Fatalf("no client rows in the page:\n%s", dom)
	}
	first := receivedOnPage(t, dom)
	if first < 7 { // 2 registrations, 5 messages
		t.Fatalf("received %d on the page, want at least 7", first)
	}
	// One page load while the client keeps sending: the page's own record
	// of the counter at each poll shows it moving without a reload.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := alice.Send(ctx, "bob", "hi"); err != nil {
				return
			}
			<-bobIn
		}
	}()
	dom = dumpDOM(t, srv.URL+"/")
	close(stop)
	<-done
	m := regexp.MustCompile(`data-received="([0-9 ]*)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no history in the page:\n%s", dom)
	}
	var seen []int
	for _, f := range strings.Fields(m[1]) {
		n, _ := strconv.Atoi(f)
		if len(seen) == 0 || n != seen[len(seen)-1] {
			seen = append(seen, n)
		}
	}
	if len(seen) < 2 || seen[0] < first || receivedOnPage(t, dom) != seen[len(seen)-1] {
		t.Fatalf("the counter did not move within one page load: polls saw %q", m[1])
	}
	t.Logf("received on the page: %d, then within one load %v", first, seen)
}
