package main

// Security of `zmqgo broker`: who may connect (--curve-server,
// --plain-server, as for the socket subcommands), which names each
// identity may register (--names), which peers may join as downstream
// brokers (--federation-peers), and how the broker logs in upstream
// (--upstream-curve, --upstream-plain).

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zmqgo/zmq"
	"github.com/zmqgo/zmq/broker"
)

const brokerSecurityHelp = `Security (see "Security" in the README):
	--curve-server FILE   clients must connect with CURVE to the key pair whose
	                      secret key is in FILE (zmqgo keygen --out); any client
	                      key is let in, and is the client's identity
	--plain-server FILE   clients must log in with PLAIN as one of the
	                      user:password lines of FILE; the user is the identity
	--names FILE          lines "IDENTITY: PATTERN, ..." (IDENTITY a PLAIN user,
	                      a Z85 client key or *; '*' in a pattern stands for any
	                      run): a client registers only names its identity is
	                      allowed; without --names any free name
	--federation-peers FILE  the identities (one a line) admitted as downstream
	                      brokers; without it no broker may join from below
	--upstream-curve KEY  log in to --upstream brokers with CURVE, whose public
	                      key is KEY (Z85 or a file); the identity is this
	                      broker's --curve-server key pair (or one made for the run)
	--upstream-plain USER:PASS  log in to --upstream brokers with PLAIN
	Names that look alike ("dup", "DUP", "dup ", fullwidth "ｄup") are one name.
`

// brokerSec holds the broker's security flags and, after validate, what
// they load.
type brokerSec struct {
	server           secFlags // only --curve-server and --plain-server
	upCurve, upPlain string
	names, fedPeers  string

	security, upSecurity []zmq.Option
	rules                *broker.NameRules
	peers                []string
}

func (f *brokerSec) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server.curveServer, "curve-server", "", "clients connect with CURVE to the secret key in `FILE` (see keygen)")
	fs.StringVar(&f.server.plainServer, "plain-server", "", "clients log in with PLAIN as a user:password line of `FILE`")
	fs.StringVar(&f.names, "names", "", "let each identity register only the names `FILE` allows\n(lines IDENTITY: PATTERN, ...)")
	fs.StringVar(&f.fedPeers, "federation-peers", "", "admit the identities listed in `FILE` as downstream brokers")
	fs.StringVar(&f.upCurve, "upstream-curve", "", "log in upstream with CURVE to the public `KEY` (Z85 or a file)")
	fs.StringVar(&f.upPlain, "upstream-plain", "", "log in upstream with PLAIN as `USER:PASS`")
}

// maxPolicyFile bounds the names and federation-peers files: they are
// read whole, and a mistaken /dev/zero must not exhaust memory.
const maxPolicyFile = 4 << 20

// readPolicyFile reads a regular file of at most limit bytes.
func readPolicyFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes", path, limit)
	}
	return b, nil
}

func (f *brokerSec) validate() error {
	if err := f.server.validate(); err != nil {
		return err
	}
	f.security = f.server.opts
	var own zmq.CurveSecretKey
	if f.server.curveServer != "" {
		// A ZAP handler that lets every key in gives each connection its
		// key as user id: the identity --names and --federation-peers go by.
		auth := zmq.NewAuthenticator()
		auth.AllowAnyCurveKey(true)
		f.security = append(f.security, zmq.WithZAPHandler(auth))
		own, _ = readSecretKey(f.server.curveServer) // read by validate above
	}
	switch {
	case f.upCurve != "" && f.upPlain != "":
		return errors.New("--upstream-curve and --upstream-plain exclude each other")
	case f.upCurve != "":
		key, err := parseUpstreamKey(f.upCurve)
		if err != nil {
			return err
		}
		if own == (zmq.CurveSecretKey{}) {
			_, own, err = zmq.NewCurveKeypair()
			if err != nil {
				return err
			}
		}
		f.upSecurity = []zmq.Option{zmq.WithCurveClient(key, own.Public(), own)}
	case f.upPlain != "":
		up := secFlags{plain: f.upPlain}
		if err := up.validate(); err != nil {
			return fmt.Errorf("--upstream-plain: %s", strings.TrimPrefix(err.Error(), "--plain: "))
		}
		f.upSecurity = up.opts
	}
	if f.names != "" {
		b, err := readPolicyFile(f.names, maxPolicyFile)
		if err != nil {
			return fmt.Errorf("--names: %w", err)
		}
		if f.rules, err = broker.ParseNameRules(bytes.NewReader(b)); err != nil {
			return fmt.Errorf("--names %s: %w", f.names, err)
		}
	}
	if f.fedPeers != "" {
		if f.server.curveServer == "" && f.server.plainServer == "" {
			return errors.New("--federation-peers needs --curve-server or --plain-server: brokers are admitted by the identity they authenticate with")
		}
		b, err := readPolicyFile(f.fedPeers, maxPolicyFile)
		if err != nil {
			return fmt.Errorf("--federation-peers: %w", err)
		}
		if f.peers, err = broker.ParseIdentities(bytes.NewReader(b)); err != nil {
			return fmt.Errorf("--federation-peers %s: %w", f.fedPeers, err)
		}
		if len(f.peers) == 0 {
			return fmt.Errorf("--federation-peers %s: no identities", f.fedPeers)
		}
	}
	return nil
}

// parseUpstreamKey reads --upstream-curve: a file holding the key wins
// over the argument as Z85 (a 40-character path is valid Z85 too).
func parseUpstreamKey(arg string) (zmq.CurvePublicKey, error) {
	if b, ferr := readPolicyFile(arg, 64<<10); ferr == nil {
		k, err := parseKeyFile(b, "public-key")
		if err != nil {
			return k, fmt.Errorf("--upstream-curve %s: %w", arg, err)
		}
		return k, nil
	} else if k, err := zmq.ParseCurvePublicKey(strings.TrimSpace(arg)); err == nil {
		return k, nil
	} else {
		return k, fmt.Errorf("--upstream-curve: %q is neither a Z85 public key (%v) nor a readable key file (%v)", arg, err, ferr)
	}
}

func (f *brokerSec) apply(cfg *broker.Config) {
	cfg.Security, cfg.UpstreamSecurity = f.security, f.upSecurity
	cfg.Names, cfg.FederationPeers = f.rules, f.peers
}
