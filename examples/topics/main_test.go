package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMostSpecificPrefix(t *testing.T) {
	var got []string
	r := NewsRouter(func(s string) { got = append(got, s) })
	for _, tag := range []string{"news.world", "news.sport", "news.sport.tennis", "weather.oslo", "stocks.X", "newsletter"} {
		if !r.Dispatch([]byte("m"), []byte(tag)) {
			t.Fatalf("%s not dispatched", tag)
		}
	}
	want := []string{
		"news desk: news.world: m", "sport desk: news.sport: m", "sport desk: news.sport.tennis: m",
		"weather desk: weather.oslo: m", "everything else: stocks.X: m", "everything else: newsletter: m",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := r.Prefixes(); fmt.Sprint(p) != "[ news. news.sport weather.]" {
		t.Fatalf("prefixes %q", p)
	}
	empty := NewTopicRouter()
	if empty.Dispatch([]byte("m"), []byte("x")) {
		t.Fatal("empty router dispatched")
	}
}

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, nil); err != nil {
		t.Fatal(err)
	}
	want := `[news]
  news.world: Summit opens in Geneva
  news.sport: Local team wins 3-1
  news.sport.tennis: Final starts at 3pm
[weather]
  weather.london: 12C, light rain
  weather.paris: 17C, sunny
[stocks]
  stocks.ACME: 101.25
  stocks.GLOBEX: 54.10
[router]
  news desk: news.world: Summit opens in Geneva
  weather desk: weather.london: 12C, light rain
  everything else: stocks.ACME: 101.25
  sport desk: news.sport: Local team wins 3-1
  weather desk: weather.paris: 17C, sunny
  sport desk: news.sport.tennis: Final starts at 3pm
  everything else: stocks.GLOBEX: 54.10
  everything else: traffic.m25: Queues at junction 10
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// The roles as separate programs would run them.
func TestRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubCtx, stopPub := context.WithCancel(ctx)
	pubOut := make(ztest.ChanWriter, 1)
	pubErr := make(chan error, 1)
	go func() {
		pubErr <- run(pubCtx, pubOut, []string{"-role", "publisher", "-bind", "tcp://127.0.0.1:0", "-interval", "20ms"})
	}()
	var addr string
	select {
	case line := <-pubOut:
		addr = strings.TrimSpace(strings.TrimPrefix(line, "publishing on "))
	case <-ctx.Done():
		t.Fatal("publisher did not start")
	}
	var subOut, routerOut bytes.Buffer
	var wg sync.WaitGroup
	var subErr, routerErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		subErr = run(ctx, &subOut, []string{"-role", "subscriber", "-connect", addr, "-topics", "weather.", "-count", "4"})
	}()
	go func() {
		defer wg.Done()
		routerErr = run(ctx, &routerOut, []string{"-role", "router", "-connect", addr, "-count", "16"})
	}()
	wg.Wait()
	stopPub()
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	if subErr != nil || routerErr != nil {
		t.Fatal(subErr, routerErr)
	}
	lines := strings.Split(strings.TrimSpace(subOut.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("subscriber printed %q", subOut.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "weather.") {
			t.Fatalf("subscriber got %q", l)
		}
	}
	if n := strings.Count(routerOut.String(), "sport desk: "); n < 3 {
		t.Fatalf("router printed %q", routerOut.String())
	}
	if err := run(ctx, &bytes.Buffer{}, []string{"-role", "nobody"}); err == nil {
		t.Fatal("unknown role accepted")
	}
}
