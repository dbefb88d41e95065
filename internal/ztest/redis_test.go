package ztest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// inline sends one inline command and returns the first reply line.
func inline(t *testing.T, addr, cmd string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		line, err = br.ReadString('\n')
	}
	return strings.TrimSuffix(line, "\r\n"), err
}

func TestRedisStartRestartKill(t *testing.T) {
	r := StartRedis(t)
	if !strings.HasPrefix(r.URL(), "redis://127.0.0.1:") || !strings.HasSuffix(r.URL(), "/0") {
		t.Fatalf("URL = %q", r.URL())
	}
	if got, err := inline(t, r.Addr(), "SET k v"); err != nil || got != "+OK" {
		t.Fatalf("SET: %q %v", got, err)
	}
	// No persistence: the configuration says so and a restart loses the key.
	if got, err := inline(t, r.Addr(), "CONFIG GET appendonly"); err != nil || got != "*2" {
		t.Fatalf("CONFIG GET: %q %v", got, err)
	}
	r.Restart()
	if got, err := inline(t, r.Addr(), "GET k"); err != nil || got != "$-1" {
		t.Fatalf("GET after restart: %q %v (want nil: nothing persisted)", got, err)
	}
	r.Kill()
	if _, err := inline(t, r.Addr(), "PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	r.Start()
	if got, err := inline(t, r.Addr(), "PING"); err != nil || got != "+PONG" {
		t.Fatalf("PING after Start: %q %v", got, err)
	}
	if !strings.Contains(r.Logs(), "Ready to accept connections") {
		t.Fatalf("logs: %s", r.Logs())
	}
}

func TestRedisTwoAtOnce(t *testing.T) {
	a, b := StartRedis(t), StartRedis(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("same address %s", a.Addr())
	}
	for _, r := range []*Redis{a, b} {
		if got, err := inline(t, r.Addr(), "CONFIG GET save"); err != nil || got != "*2" {
			t.Fatalf("CONFIG GET save: %q %v", got, err)
		}
	}
}

// The server is gone after the test that started it.
func TestRedisStoppedByCleanup(t *testing.T) {
	var addr string
	t.Run("inner", func(t *testing.T) { addr = StartRedis(t).Addr() })
	if _, err := inline(t, addr, "PING"); err == nil {
		t.Fatal("redis-server still answers after its test ended")
	}
}
