package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmqgo/zmq"
)

// TestKeyFileAttacks replays issue 17's attack: `zmqgo pull --curve-server
// /dev/zero` read the file whole and grew to 24 GB. Every flag that reads a
// file must refuse /dev/zero, a FIFO nobody writes to (opening one for
// reading normally waits for a writer), a directory and an oversized file at
// once, with exit 2 and a message naming the problem. The binary runs under
// a 2 GiB address-space limit and a timeout, so that a regression fails the
// test instead of the machine.
func TestKeyFileAttacks(t *testing.T) {
	bin := zmqgoBinary(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, make([]byte, maxKeyFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	bigList := filepath.Join(dir, "users")
	if err := os.WriteFile(bigList, []byte(strings.Repeat("u:p\n", maxListFile/4+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag, file, want string
	}{
		{"--curve-server", "/dev/zero", "/dev/zero: not a regular file (it is a character device)"},
		{"--curve-client", "/dev/zero", "/dev/zero: not a regular file (it is a character device)"},
		{"--plain-server", "/dev/zero", "/dev/zero: not a regular file (it is a character device)"},
		{"--curve-server", fifo, "not a regular file (it is a named pipe)"},
		{"--curve-client", fifo, "not a regular file (it is a named pipe)"},
		{"--plain-server", fifo, "not a regular file (it is a named pipe)"},
		{"--curve-server", dir, "not a regular file (it is a directory)"},
		{"--curve-server", big, "too large (8193 bytes; at most 8 KiB)"},
		{"--curve-client", big, "too large"},
		{"--plain-server", bigList, "too large"},
	} {
		t.Run(c.flag+" "+filepath.Base(c.file), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stderr strings.Builder
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `ulimit -v 2097152 && exec "$0" "$@"`,
				bin, "pull", "--bind", anyPort, c.flag, c.file)
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
				t.Fatalf("exit %v after %v (want 2); stderr:\n%s", err, took, &stderr)
			}
			if took > 5*time.Second {
				t.Errorf("took %v to refuse", took)
			}
			if !strings.Contains(stderr.String(), c.flag) || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr %q; want it to name %s and say %q", &stderr, c.flag, c.want)
			}
		})
	}
}

func TestReadSmallFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("12345"), 0o600)
	if b, err := readSmallFile(p, 5); err != nil || string(b) != "12345" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	if _, err := readSmallFile(p, 4); err == nil || !strings.Contains(err.Error(), "too large (5 bytes; at most 4 bytes)") {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := readSmallFile("/dev/null", 5); !errors.Is(err, errNotRegular) {
		t.Errorf("/dev/null: %v", err)
	}
	if _, err := readSmallFile(filepath.Join(dir, "missing"), 5); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	// A symbolic link to a regular file is fine; to a device it is not.
	os.Symlink(p, filepath.Join(dir, "link"))
	if _, err := readSmallFile(filepath.Join(dir, "link"), 5); err != nil {
		t.Errorf("link: %v", err)
	}
	os.Symlink("/dev/zero", filepath.Join(dir, "zero.key"))
	if _, err := readSmallFile(filepath.Join(dir, "zero.key"), 5); !errors.Is(err, errNotRegular) {
		t.Errorf("link to /dev/zero: %v", err)
	}
}

// TestPublicKeyAsSecret: a public key given where the secret key belongs
// (and the other way round) is refused, naming the mistake, instead of
// every handshake failing later with "handshake failed ... EOF".
func TestPublicKeyAsSecret(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "srv")
	if code, _, stderr := runSync("keygen", "--out", prefix); code != exitOK {
		t.Fatal(stderr)
	}
	pubText, _ := os.ReadFile(prefix + ".pub")
	secText, _ := os.ReadFile(prefix + ".key")
	pub, _ := zmq.ParseCurvePublicKey(strings.TrimSpace(string(pubText)))
	sec, _ := zmq.ParseCurveSecretKey(strings.TrimSpace(string(secText)))
	otherPub, otherSec, _ := zmq.NewCurveKeypair()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A public key copied into NAME.key, next to the NAME.pub it came from.
	copied := write("copy.key", pub.String()+"\n")
	write("copy.pub", pub.String()+"\n")
	// A key in NAME.key that is not the secret key of NAME.pub.
	mismatched := write("mism.key", otherPub.String()+"\n")
	write("mism.pub", pub.String()+"\n")
	cert := func(pub zmq.CurvePublicKey, sec *zmq.CurveSecretKey) string {
		s := "metadata\ncurve\n    public-key = \"" + pub.String() + "\"\n"
		if sec != nil {
			s += "    secret-key = \"" + sec.String() + "\"\n"
		}
		return s
	}
	czmqPublic := write("server.cert", cert(pub, nil))
	czmqBad := write("bad.cert", cert(pub, &otherSec))
	czmqGood := write("good.cert", cert(pub, &sec))
	// czmq saves a pair as NAME (public) and NAME_secret.
	write("pair", cert(otherPub, nil))
	czmqPairBad := write("pair_secret", sec.String()+"\n")

	for _, c := range []struct {
		flag, file, want string
	}{
		{"--curve-server", prefix + ".pub", "srv.pub is a public key file: --curve-server needs the secret key"},
		{"--curve-server", copied, "copy.key holds a public key, the same as " + filepath.Join(dir, "copy.pub")},
		{"--curve-server", mismatched, "mism.key is not the secret key of the public key in " + filepath.Join(dir, "mism.pub")},
		{"--curve-server", czmqPublic, "server.cert is a public certificate (public-key, no secret-key)"},
		{"--curve-server", czmqBad, "bad.cert: the secret-key does not match the certificate's public-key"},
		{"--curve-server", czmqPairBad, "pair_secret is not the secret key of the public key in " + filepath.Join(dir, "pair")},
		{"--curve-client", prefix + ".key", "srv.key is the server's secret key (its public key is in " + prefix + ".pub)"},
		{"--curve-server", sec.String(), "--curve-server takes a FILE holding the secret key, not a key"},
	} {
		code, _, stderr := runSync("pull", "--bind", anyPort, c.flag, c.file)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q", c.flag, filepath.Base(c.file), code, stderr, c.want)
		}
	}
	// The right files are accepted.
	for _, args := range [][]string{
		{"--curve-server", prefix + ".key"},
		{"--curve-server", czmqGood},
		{"--curve-client", prefix + ".pub"},
		{"--curve-client", czmqGood},
	} {
		parse(t, append([]string{"pull", "--bind", anyPort}, args...)...)
	}
}
