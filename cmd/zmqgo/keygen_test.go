package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zmqgo/zmq"
)

func TestKeygen(t *testing.T) {
	code, stdout, stderr := runSync("keygen")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var pub, sec string
	if n, err := fmtSscanf(stdout, &pub, &sec); n != 2 || err != nil {
		t.Fatalf("output %q: want \"public KEY\\nsecret KEY\\n\"", stdout)
	}
	p, err1 := zmq.ParseCurvePublicKey(pub)
	s, err2 := zmq.ParseCurveSecretKey(sec)
	if err1 != nil || err2 != nil || s.Public() != p {
		t.Fatalf("keys %q %q do not form a pair: %v %v", pub, sec, err1, err2)
	}

	prefix := filepath.Join(t.TempDir(), "server")
	code, stdout, stderr = runSync("keygen", "--out", prefix)
	if code != exitOK || !strings.Contains(stderr, "wrote "+prefix+".key and "+prefix+".pub") {
		t.Fatalf("--out: exit %d, stderr %q", code, stderr)
	}
	for _, f := range []struct {
		ext  string
		mode os.FileMode
	}{{".key", 0o600}, {".pub", 0o644}} {
		st, err := os.Stat(prefix + f.ext)
		if err != nil || st.Mode().Perm() != f.mode {
			t.Errorf("%s: %v, mode %v, want %v", f.ext, err, st.Mode().Perm(), f.mode)
		}
	}
	secKey, err := readSecretKey(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	pubText, _ := os.ReadFile(prefix + ".pub")
	if strings.TrimSpace(string(pubText)) != secKey.Public().String() || stdout != "public "+secKey.Public().String()+"\n" {
		t.Errorf("PREFIX.pub %q and stdout %q do not match the secret key", pubText, stdout)
	}
	// Never overwrites a key.
	if code, _, stderr := runSync("keygen", "--out", prefix); code != exitFailure || !strings.Contains(stderr, "exists") {
		t.Errorf("second --out: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := runSync("keygen", "extra"); code != exitUsage {
		t.Errorf("keygen extra: exit %d", code)
	}
	code, stdout, _ = runSync("help", "keygen")
	if code != exitOK || !strings.Contains(stdout, "--out PREFIX") {
		t.Errorf("help keygen: exit %d:\n%s", code, stdout)
	}
}

func fmtSscanf(s string, pub, sec *string) (int, error) {
	f := strings.Fields(s)
	if len(f) != 4 || f[0] != "public" || f[2] != "secret" || !strings.HasSuffix(s, "\n") {
		return 0, os.ErrInvalid
	}
	*pub, *sec = f[1], f[3]
	return 2, nil
}

func TestCurveFlags(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "srv")
	if code, _, stderr := runSync("keygen", "--out", prefix); code != exitOK {
		t.Fatal(stderr)
	}
	pubText, _ := os.ReadFile(prefix + ".pub")
	pub := strings.TrimSpace(string(pubText))
	// The server binds or connects: both work, and the client may name the
	// key or the .pub file.
	for _, c := range []struct {
		name            string
		serverBinds     bool
		clientKeyOrFile string
	}{
		{"server binds, key", true, pub},
		{"client binds, .pub file", false, prefix + ".pub"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var pull, push *proc
			if c.serverBinds {
				pull = start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "2", "--curve-server", prefix+".key")
				push = start(t, nil, "push", "--connect", pull.endpoint(t), "--curve-client", c.clientKeyOrFile)
			} else {
				push = start(t, nil, "push", "--bind", anyPort, "--curve-client", c.clientKeyOrFile)
				pull = start(t, strings.NewReader(""), "pull", "--connect", push.endpoint(t), "--count", "2", "--curve-server", prefix+".key")
			}
			push.write(t, "secret", "two\tframes")
			pull.expectExit(t, exitOK)
			expectLines(t, "pull", pull.stdout, "secret", "two\tframes")
			push.closeStdin()
			push.expectExit(t, exitOK)
		})
	}
	t.Run("wrong server key", func(t *testing.T) {
		other, _, _ := zmq.NewCurveKeypair()
		pull := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "1", "--timeout", "1s", "--curve-server", prefix+".key")
		push := start(t, nil, "push", "--connect", pull.endpoint(t), "--curve-client", other.String(), "--linger", "0")
		push.write(t, "lost")
		pull.expectExit(t, exitFailure)
		if s := pull.stdout.String(); s != "" {
			t.Errorf("pull printed %q", s)
		}
		push.closeStdin()
		push.expectExit(t, exitFailure) // the message was not delivered (TestUndeliveredWrongKey)
	})
}

func TestPlainFlags(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("# users\nadmin:s3cret:x\n\nbob:pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pull := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "1", "--plain-server", users)
	push := start(t, nil, "push", "--connect", pull.endpoint(t), "--plain", "admin:s3cret:x")
	push.write(t, "hello")
	pull.expectExit(t, exitOK)
	expectLines(t, "pull", pull.stdout, "hello")
	push.closeStdin()
	push.expectExit(t, exitOK)

	// A wrong password delivers nothing.
	pull = start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "1", "--timeout", "1s", "--plain-server", users)
	push = start(t, nil, "push", "--connect", pull.endpoint(t), "--plain", "bob:wrong", "--linger", "0", "--verbose")
	push.write(t, "lost")
	pull.expectExit(t, exitFailure)
	if s := pull.stdout.String(); s != "" {
		t.Errorf("pull printed %q", s)
	}
	push.stderr.waitLine(t, "authentication failure logged", func(l string) bool {
		return strings.Contains(l, "authentication failed")
	})
	push.closeStdin()
	push.expectExit(t, exitFailure)
	if s := push.stderr.String(); !strings.Contains(s, "zmqgo: 1 message was not delivered: the handshake failed (zmq: authentication failed") {
		t.Errorf("push does not say why its message was lost:\n%s", s)
	}
}

func TestSecurityFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--plain", "nopassword"}, "USER:PASS"},
		{[]string{"--plain", "a:b", "--curve-client", "x"}, "exclude each other"},
		{[]string{"--curve-server", filepath.Join(dir, "missing")}, "--curve-server"},
		{[]string{"--curve-server", bad}, "no key found"},
		{[]string{"--curve-client", "tooshort"}, "neither a Z85 public key"},
		{[]string{"--plain-server", empty}, "no user:password lines"},
		{[]string{"--plain-server", bad}, "want user:password"},
	} {
		args := append([]string{"push", "--connect", "tcp://127.0.0.1:1"}, c.args...)
		code, _, stderr := runSync(args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, stderr, c.want)
		}
	}
	code, stdout, _ := runSync("help", "push")
	for _, s := range []string{"--curve-server FILE", "--curve-client KEY", "--plain USER:PASS", "--plain-server FILE"} {
		if code != exitOK || !strings.Contains(stdout, s) {
			t.Errorf("help push does not mention %q", s)
		}
	}
}

func TestParseKeyFile(t *testing.T) {
	const key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7" // has no '='
	const keyEq = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	for _, c := range []struct{ text, name, want string }{
		{key + "\n", "public-key", key},
		{"# comment\n\n" + keyEq + "\r\n", "secret-key", keyEq},
		{"x=y=1234567890123456789012345678901234567890\n", "public-key", ""},
		{"metadata\ncurve\n    public-key = \"" + key + "\"\n    secret-key = \"" + keyEq + "\"\n", "secret-key", keyEq},
		{"curve\n    public-key = \"" + key + "\"\n", "public-key", key},
	} {
		k, err := parseKeyFile([]byte(c.text), c.name)
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: got %s, want an error", c.text, k)
			}
			continue
		}
		if err != nil || k.String() != c.want {
			t.Errorf("%q: %s, %v; want %s", c.text, k, err, c.want)
		}
	}
	// Keys containing '=' (Z85 has it) parse as bare lines.
	for range 50 {
		pub, sec, _ := zmq.NewCurveKeypair()
		if k, err := parseKeyFile([]byte(sec.String()+"\n"), "secret-key"); err != nil || k.String() != sec.String() {
			t.Fatalf("%s: %v", sec, err)
		}
		if k, err := parseKeyFile([]byte(pub.String()+"\n"), "public-key"); err != nil || k != pub {
			t.Fatalf("%s: %v", pub, err)
		}
	}
}

// TestCurveClientKeyFile40: a .pub file whose path is 40 characters, all of
// them Z85, is read as a file, not decoded as a key. (t.TempDir paths are
// sometimes exactly that long, which once made TestCurveFlags flaky.)
func TestCurveClientKeyFile40(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, _, stderr := runSync("keygen", "--out", "srv"); code != exitOK {
		t.Fatal(stderr)
	}
	name := strings.Repeat("k", 36) + ".pub"
	if len(name) != 40 {
		t.Fatal(len(name))
	}
	if _, err := zmq.ParseCurvePublicKey(name); err != nil {
		t.Fatalf("the name must be valid Z85 for this test: %v", err)
	}
	if err := os.Rename("srv.pub", name); err != nil {
		t.Fatal(err)
	}
	pull := start(t, strings.NewReader(""), "pull", "--bind", anyPort, "--count", "1", "--curve-server", "srv.key")
	push := start(t, nil, "push", "--connect", pull.endpoint(t), "--curve-client", name)
	push.write(t, "via a 40-character file name")
	pull.expectExit(t, exitOK)
	expectLines(t, "pull", pull.stdout, "via a 40-character file name")
	push.closeStdin()
	push.expectExit(t, exitOK)
}
