package ztest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis is a redis-server child process on a loopback port, with no
// persistence, owned by one test. Start it with StartRedis.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	logs *syncLog
}

// redisStartTimeout bounds how long a start may take on a loaded machine.
const redisStartTimeout = 20 * time.Second

// RedisBinary returns the path of redis-server, or an error saying why
// there is none.
func RedisBinary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	const debian = "/usr/bin/redis-server"
	if _, err := os.Stat(debian); err != nil {
		return "", fmt.Errorf("redis-server not on PATH nor at %s (scripts/test.sh installs it)", debian)
	}
	return debian, nil
}

// NeedRedis returns redis-server's path. Without one it fails the test when
// CI=true (scripts/test.sh installs it there) and skips it otherwise, giving
// the reason.
func NeedRedis(t testing.TB) string {
	t.Helper()
	bin, err := RedisBinary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server missing on CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	return bin
}

// StartRedis starts a redis-server on a free 127.0.0.1 port with no
// persistence (--save "" --appendonly no, working directory in t.TempDir)
// and returns once it answers PING. It is stopped by t.Cleanup. A missing
// redis-server skips the test, or fails it when CI=true.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: NeedRedis(t), dir: t.TempDir()}
	var err error
	// Another process can take the port between our probe and redis-server's
	// bind (several engineers run tests at once), so try a few ports.
	for range 3 {
		if r.port, err = freePort(); err != nil {
			break
		}
		if err = r.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("ztest: start redis-server: %v", err)
	}
	t.Cleanup(r.stop)
	return r
}

// Addr is "127.0.0.1:port".
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL is "redis://127.0.0.1:port/0".
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Logs returns what redis-server wrote so far (for failure messages).
func (r *Redis) Logs() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logs == nil {
		return ""
	}
	return r.logs.String()
}

// Kill sends SIGKILL and waits for the process to exit: clients see their
// connections reset, as when the Redis host dies.
func (r *Redis) Kill() {
	r.t.Helper()
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart stops the server (SIGTERM, as an operator's restart) and starts a
// new one on the same port; everything stored is gone, since nothing is
// persisted. It returns once the new server answers PING.
func (r *Redis) Restart() {
	r.t.Helper()
	r.stop()
	var err error
	// The old listening socket can linger a moment; redis-server sets
	// SO_REUSEADDR, so a retry after a failed bind is plenty.
	for i := range 3 {
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond) // backoff, not synchronisation
	}
	r.t.Fatalf("ztest: restart redis-server on port %d: %v", r.port, err)
}

// Start starts the server again after Kill, on the same port.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("ztest: start redis-server on port %d: %v", r.port, err)
	}
}

func (r *Redis) start() error {
	r.mu.Lock()
	if r.cmd != nil {
		r.mu.Unlock()
		return errors.New("already running")
	}
	r.mu.Unlock()
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", r.dir,
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "notice",
	)
	cmd.Dir = r.dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	logs := &syncLog{}
	ready := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		// Readiness is an event redis-server logs; no polling needed.
		defer close(copied)
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			logs.add(sc.Text())
			if !once && strings.Contains(sc.Text(), "Ready to accept connections") {
				once = true
				close(ready)
			}
		}
		io.Copy(io.Discard, out)
	}()
	done := make(chan struct{})
	go func() {
		<-copied // Wait must follow the last read of the pipe
		cmd.Wait()
		close(done)
	}()
	select {
	case <-ready:
	case <-done:
		return fmt.Errorf("redis-server exited: %s", logs.String())
	case <-time.After(redisStartTimeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server not ready within %v: %s", redisStartTimeout, logs.String())
	}
	if err := ping(net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))); err != nil {
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server up but PING failed: %v: %s", err, logs.String())
	}
	r.mu.Lock()
	r.cmd, r.done, r.logs = cmd, done, logs
	r.mu.Unlock()
	return nil
}

func (r *Redis) stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// ping sends an inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncLog struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *syncLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sb.Len() < 64<<10 {
		l.sb.WriteString(line)
		l.sb.WriteByte('\n')
	}
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}
