package broker

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmqgo/zmq/internal/ztest"
)

// startSentinel runs a redis-server in Sentinel mode watching the master
// at masterAddr as "mymaster", and returns its address.
func startSentinel(t *testing.T, masterAddr string) string {
	t.Helper()
	bin := ztest.NeedRedis(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	host, mport, _ := net.SplitHostPort(masterAddr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	err = os.WriteFile(conf, fmt.Appendf(nil, "port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster %s %s 1\n"+
		"sentinel down-after-milliseconds mymaster 5000\n", port, dir, host, mport), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "+monitor master mymaster") {
				once = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(waitTimeout):
		t.Fatal("sentinel did not start monitoring")
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// Nodes that find Redis through Sentinel (?master_name=) and a node given
// the master directly are one broker.
func TestRedisSentinel(t *testing.T) {
	ctx := testCtx(t)
	r := ztest.StartRedis(t)
	s := startSentinel(t, r.Addr())
	viaSentinel := "redis://" + s + "?master_name=mymaster"
	n0 := startNode(t, viaSentinel, RedisConfig{})
	n1 := startNode(t, r.URL(), RedisConfig{})
	alice, _ := client(t, n0.Addr(), "alice")
	_, bobIn := client(t, n1.Addr(), "bob")
	if st, err := alice.Send(ctx, "bob", "through sentinel"); err != nil || st != StatusDelivered {
		t.Fatalf("alice to bob: %q, %v", st, err)
	}
	if m := bobIn.next(t, TypeDirectMessage); m.Text() != "through sentinel" {
		t.Fatalf("bob got %+v", m)
	}
	if l, err := alice.List(ctx); err != nil || len(l) != 2 {
		t.Fatalf("list: %v, %v", l, err)
	}
}

// startClusterRedis runs a one-node Redis Cluster holding every slot and
// returns its address.
func startClusterRedis(t *testing.T) string {
	t.Helper()
	bin := ztest.NeedRedis(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready, ok := make(chan struct{}), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		r, o := false, false
		for sc.Scan() {
			if !r && strings.Contains(sc.Text(), "Ready to accept connections") {
				r = true
				close(ready)
			}
			if !o && strings.Contains(sc.Text(), "Cluster state changed: ok") {
				o = true
				close(ok)
			}
		}
	}()
	for _, ch := range []chan struct{}{ready, ok} {
		select {
		case <-ch:
		case <-time.After(waitTimeout):
			t.Fatal("cluster redis-server not ready")
		}
		if ch == ready {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "CLUSTER ADDSLOTSRANGE 0 16383\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if line != "+OK\r\n" {
				t.Fatalf("CLUSTER ADDSLOTSRANGE: %q", line)
			}
		}
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// Nodes on a Redis Cluster (redis+cluster://): the scripts' keys share the
// {b} slot.
func TestRedisClusterMode(t *testing.T) {
	ctx := testCtx(t)
	addr := startClusterRedis(t)
	url := "redis+cluster://" + addr
	n0 := startNode(t, url, RedisConfig{})
	n1 := startNode(t, url, RedisConfig{})
	alice, _ := client(t, n0.Addr(), "alice")
	bob, bobIn := client(t, n1.Addr(), "bob")
	if st, err := alice.Send(ctx, "bob", "on a cluster"); err != nil || st != StatusDelivered {
		t.Fatalf("alice to bob: %q, %v", st, err)
	}
	if m := bobIn.next(t, TypeDirectMessage); m.Text() != "on a cluster" {
		t.Fatalf("bob got %+v", m)
	}
	if n, err := alice.Broadcast(ctx, "all"); err != nil || n != 1 {
		t.Fatalf("broadcast: %d, %v", n, err)
	}
	if l, err := bob.List(ctx); err != nil || len(l) != 2 {
		t.Fatalf("list: %v, %v", l, err)
	}
	var e *Error
	dup, _ := client(t, n1.Addr(), "")
	if _, err := dup.Register(ctx, "alice"); !errors.As(err, &e) {
		t.Fatalf("alice twice: %v", err)
	}
}
