package main

// Security for the socket subcommands (--curve-server, --curve-client,
// --plain, --plain-server) and the keygen subcommand.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/zmqgo/zmq"
)

const securityHelp = `Security (any socket subcommand, whichever side binds):
	--curve-server FILE     be a CURVE server with the secret key in FILE (as
	                        written by 'zmqgo keygen --out'); any client key is
	                        accepted, every message is encrypted
	--curve-client KEY      be a CURVE client of the server whose public key
	                        is KEY (40 Z85 characters, or a file holding it);
	                        the client's own key pair is made for the run
	--plain USER:PASS       be a PLAIN client with these credentials
	--plain-server FILE     be a PLAIN server accepting the user:password lines
	                        of FILE (# comments and blank lines ignored)
	A refused client gets an error from the server, delivers nothing and
	retries with growing pauses; --verbose shows why. Key files must be
	regular files of at most 8 KiB, user files of at most 4 MiB; a public
	key given to --curve-server (PREFIX.pub, or a key that does not match
	the public key stored beside it) is refused.
`

// secFlags are the security flags of a socket subcommand.
type secFlags struct {
	curveServer, curveClient, plain, plainServer string
	opts                                         []zmq.Option // set by validate
}

func (f *secFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.curveServer, "curve-server", "", "be a CURVE server with the secret key in `FILE` (see keygen)")
	fs.StringVar(&f.curveClient, "curve-client", "", "be a CURVE client of the server with public `KEY`\n(40 Z85 characters, or a file holding it)")
	fs.StringVar(&f.plain, "plain", "", "be a PLAIN client with credentials `USER:PASS`")
	fs.StringVar(&f.plainServer, "plain-server", "", "be a PLAIN server accepting the user:password lines of `FILE`")
}

// validate checks the flags and loads the files they name.
func (f *secFlags) validate() error {
	n := 0
	for _, v := range []string{f.curveServer, f.curveClient, f.plain, f.plainServer} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return errors.New("--curve-server, --curve-client, --plain and --plain-server exclude each other")
	}
	switch {
	case f.curveServer != "":
		sec, err := readSecretKey(f.curveServer)
		_, zerr := zmq.ParseCurvePublicKey(f.curveServer)
		if _, serr := os.Stat(f.curveServer); err != nil && serr != nil && zerr == nil {
			return errors.New("--curve-server takes a FILE holding the secret key, not a key: a key on the command line is visible to every user (ps); see 'zmqgo keygen --out'")
		}
		if err != nil {
			return fmt.Errorf("--curve-server: %w", err)
		}
		f.opts = []zmq.Option{zmq.WithCurveServer(sec)}
	case f.curveClient != "":
		// A file wins: a 40-character path can also be valid Z85.
		var server zmq.CurvePublicKey
		var err error
		if _, serr := os.Stat(f.curveClient); serr == nil {
			if server, err = readPublicKey(f.curveClient); err != nil {
				return fmt.Errorf("--curve-client: %w", err)
			}
		} else if server, err = zmq.ParseCurvePublicKey(strings.TrimSpace(f.curveClient)); err != nil {
			return fmt.Errorf("--curve-client: %q is neither a Z85 public key (%v) nor a readable file (%v)", f.curveClient, err, serr)
		}
		pub, sec, err := zmq.NewCurveKeypair()
		if err != nil {
			return err
		}
		f.opts = []zmq.Option{zmq.WithCurveClient(server, pub, sec)}
	case f.plain != "":
		user, pass, ok := strings.Cut(f.plain, ":")
		if !ok {
			return fmt.Errorf("--plain: want USER:PASS")
		}
		if len(user) > 255 || len(pass) > 255 {
			return fmt.Errorf("--plain: user name and password must be at most 255 bytes")
		}
		f.opts = []zmq.Option{zmq.WithPlainClient(user, pass)}
	case f.plainServer != "":
		auth, err := readUsers(f.plainServer)
		if err != nil {
			return fmt.Errorf("--plain-server: %w", err)
		}
		f.opts = []zmq.Option{zmq.WithPlainServer(), zmq.WithZAPHandler(auth)}
	}
	return nil
}

// readSecretKey reads a secret key file: the Z85 key on a line of its own
// (as keygen writes it), or a czmq certificate's secret-key = "..." line.
// A public key given by mistake is refused, naming the mistake, when it can
// be told apart: a PREFIX.pub file (keygen's public half), a czmq public
// certificate, or a key that does not match the public key stored with it
// (a czmq certificate's public-key, or PREFIX.pub beside PREFIX.key, or the
// czmq pair NAME and NAME_secret). Without the check every client would fail
// with a bare "handshake failed".
func readSecretKey(path string) (zmq.CurveSecretKey, error) {
	b, err := readSmallFile(path, maxKeyFile)
	if err != nil {
		return zmq.CurveSecretKey{}, err
	}
	const hint = "--curve-server needs the secret key ('zmqgo keygen --out PREFIX' writes it to PREFIX.key)"
	if strings.HasSuffix(path, ".pub") {
		return zmq.CurveSecretKey{}, fmt.Errorf("%s is a public key file: %s", path, hint)
	}
	pubEntry, hasPub := certEntry(b, "public-key")
	if _, hasSec := certEntry(b, "secret-key"); hasPub && !hasSec {
		return zmq.CurveSecretKey{}, fmt.Errorf("%s is a public certificate (public-key, no secret-key): %s", path, hint)
	}
	k, err := parseKeyFile(b, "secret-key")
	if err != nil {
		return zmq.CurveSecretKey{}, fmt.Errorf("%s: %w", path, err)
	}
	sec := zmq.CurveSecretKey(k)
	if hasPub {
		stored, err := zmq.ParseCurvePublicKey(pubEntry)
		if err == nil && stored != sec.Public() {
			return zmq.CurveSecretKey{}, fmt.Errorf("%s: the secret-key does not match the certificate's public-key", path)
		}
	}
	for _, sib := range publicSiblings(path) {
		sb, err := readSmallFile(sib, maxKeyFile)
		if err != nil {
			continue // no public key stored beside it: nothing to compare
		}
		stored, err := parseKeyFile(sb, "public-key")
		switch {
		case err != nil:
		case stored == k:
			return zmq.CurveSecretKey{}, fmt.Errorf("%s holds a public key, the same as %s: %s", path, sib, hint)
		case stored != sec.Public():
			return zmq.CurveSecretKey{}, fmt.Errorf("%s is not the secret key of the public key in %s beside it (a public key given by mistake?): %s", path, sib, hint)
		}
	}
	return sec, nil
}

// publicSiblings are the files that may hold the public key of the secret
// key file path: keygen's PREFIX.pub for PREFIX.key, czmq's NAME for
// NAME_secret.
func publicSiblings(path string) []string {
	if p, ok := strings.CutSuffix(path, ".key"); ok {
		return []string{p + ".pub"}
	}
	if p, ok := strings.CutSuffix(path, "_secret"); ok && p != "" {
		return []string{p}
	}
	return nil
}

// readPublicKey reads the server's public key for --curve-client, refusing
// a secret key given by mistake when the public key beside it shows it.
func readPublicKey(path string) (zmq.CurvePublicKey, error) {
	b, err := readSmallFile(path, maxKeyFile)
	if err != nil {
		return zmq.CurvePublicKey{}, err
	}
	k, err := parseKeyFile(b, "public-key")
	if err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	if _, hasSec := certEntry(b, "secret-key"); hasSec {
		return k, nil // a czmq secret certificate: its public-key is the right one
	}
	for _, sib := range publicSiblings(path) {
		if sb, err := readSmallFile(sib, maxKeyFile); err == nil {
			if stored, err := parseKeyFile(sb, "public-key"); err == nil && stored != k && stored == zmq.CurveSecretKey(k).Public() {
				return k, fmt.Errorf("%s is the server's secret key (its public key is in %s): --curve-client needs the public key, and the secret key must stay on the server", path, sib)
			}
		}
	}
	return k, nil
}

// certEntry returns the value of a czmq certificate's "name = "VALUE"" line.
func certEntry(b []byte, name string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Trim(strings.TrimSpace(v), `"`), true
		}
	}
	return "", false
}

// parseKeyFile finds a Z85 key in a key file: the first line that is a key
// by itself, or a czmq certificate's "name = "KEY"" line.
func parseKeyFile(b []byte, name string) (zmq.CurvePublicKey, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Z85 has '=' in its alphabet: a bare key may contain one.
		if k, err := zmq.ParseCurvePublicKey(line); err == nil {
			return k, nil
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != name {
			continue
		}
		return zmq.ParseCurvePublicKey(strings.Trim(strings.TrimSpace(v), `"`))
	}
	return zmq.CurvePublicKey{}, errors.New("no key found (want 40 Z85 characters)")
}

// readUsers loads a PLAIN users file into an Authenticator.
func readUsers(path string) (*zmq.Authenticator, error) {
	b, err := readSmallFile(path, maxListFile)
	if err != nil {
		return nil, err
	}
	a := zmq.NewAuthenticator()
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		user, pass, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want user:password", path, line)
		}
		a.AddUser(user, pass)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no user:password lines", path)
	}
	return a, sc.Err()
}

// keygenCmd is "zmqgo keygen".
type keygenCmd struct {
	out string
}

func keygenCommand() *command {
	return &command{
		name:    "keygen",
		summary: "make a CURVE key pair",
		help: "Prints a new CURVE key pair in Z85 (40 characters each), the public key on a\n" +
			"line \"public KEY\" and the secret key on a line \"secret KEY\". With --out\n" +
			"PREFIX it writes the secret key to PREFIX.key (mode 0600) and the public key\n" +
			"to PREFIX.pub instead, refusing to overwrite either, and prints only the\n" +
			"public key. A server uses --curve-server PREFIX.key; its clients\n" +
			"--curve-client with the public key (or PREFIX.pub).",
		flags: func(fs *flag.FlagSet) action {
			c := &keygenCmd{}
			fs.StringVar(&c.out, "out", "", "write `PREFIX`.key (secret, mode 0600) and PREFIX.pub")
			return c
		},
	}
}

func (c *keygenCmd) validate(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	return nil
}

func (c *keygenCmd) run(_ context.Context, e *env) error {
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		return err
	}
	if c.out == "" {
		fmt.Fprintf(e.stdout, "public %s\nsecret %s\n", pub, sec)
		return nil
	}
	keyPath, pubPath := c.out+".key", c.out+".pub"
	if err := writeNew(keyPath, sec.String()+"\n", 0o600); err != nil {
		return err
	}
	if err := writeNew(pubPath, pub.String()+"\n", 0o644); err != nil {
		os.Remove(keyPath)
		return err
	}
	fmt.Fprintf(e.stdout, "public %s\n", pub)
	e.warnf("wrote %s and %s", keyPath, pubPath)
	return nil
}

// writeNew creates path with perm and data, failing if it exists.
func writeNew(path, data string, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil { // whatever the umask
		f.Close()
		os.Remove(path)
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
