package zmq

// Security mechanisms (ZMTP PLAIN and CURVE) on the socket side: keys,
// options, building the mechanism for a connection, running its handshake
// with ZAP, and the metadata received messages carry. The wire codecs are in
// internal/zmtp; ZAP is in zap.go.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/zmqgo/zmq/internal/zmtp"
	"github.com/zmqgo/zmq/z85"
	"golang.org/x/crypto/nacl/box"
)

// CurvePublicKey is a CURVE long-term public key. It prints as its
// 40-character Z85 form (ZeroMQ RFC 32), the form libzmq's tools use.
type CurvePublicKey [32]byte

// CurveSecretKey is a CURVE long-term secret key. It prints as its
// 40-character Z85 form; keep it out of logs.
type CurveSecretKey [32]byte

// NewCurveKeypair returns a new CURVE key pair from crypto/rand
// (libzmq's zmq_curve_keypair).
func NewCurveKeypair() (CurvePublicKey, CurveSecretKey, error) {
	pub, sec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return CurvePublicKey{}, CurveSecretKey{}, err
	}
	return CurvePublicKey(*pub), CurveSecretKey(*sec), nil
}

func parseKey(s string) ([32]byte, error) {
	if len(s) != 40 {
		return [32]byte{}, fmt.Errorf("%w: %d characters, want 40 (Z85)", ErrInvalidKey, len(s))
	}
	b, err := z85.Decode(s)
	if err != nil {
		return [32]byte{}, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return [32]byte(b), nil
}

func keyString(k [32]byte) string {
	s, _ := z85.Encode(k[:]) // 32 is a multiple of 4
	return s
}

// ParseCurvePublicKey decodes a 40-character Z85 public key.
func ParseCurvePublicKey(s string) (CurvePublicKey, error) {
	k, err := parseKey(s)
	return CurvePublicKey(k), err
}

// ParseCurveSecretKey decodes a 40-character Z85 secret key.
func ParseCurveSecretKey(s string) (CurveSecretKey, error) {
	k, err := parseKey(s)
	return CurveSecretKey(k), err
}

// String returns the key in Z85.
func (k CurvePublicKey) String() string { return keyString(k) }

// String returns the key in Z85.
func (k CurveSecretKey) String() string { return keyString(k) }

// Public returns the public key that goes with k (libzmq's zmq_curve_public).
func (k CurveSecretKey) Public() CurvePublicKey {
	s := [32]byte(k)
	return CurvePublicKey(zmtp.CurvePublicKey(&s))
}

// MarshalText encodes the key in Z85.
func (k CurvePublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a Z85 key.
func (k *CurvePublicKey) UnmarshalText(b []byte) (err error) {
	*k, err = ParseCurvePublicKey(string(b))
	return err
}

// MarshalText encodes the key in Z85.
func (k CurveSecretKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a Z85 key.
func (k *CurveSecretKey) UnmarshalText(b []byte) (err error) {
	*k, err = ParseCurveSecretKey(string(b))
	return err
}

// secOptions is the socket's security configuration; the zero value is NULL.
type secOptions struct {
	mech      string // zmtp.MechNull (""), MechPlain or MechCurve
	server    bool
	user      string
	pass      string
	serverKey CurvePublicKey // CURVE client: the server's public key
	publicKey CurvePublicKey // CURVE: our long-term key pair
	secretKey CurveSecretKey
	zapDomain string
	zap       ZAPHandler // WithZAPHandler
	errorText bool       // WithZAPErrorText
}

func (o *secOptions) mechanism() string {
	if o.mech == "" {
		return zmtp.MechNull
	}
	return o.mech
}

// WithPlainServer makes the socket a PLAIN server (ZMQ_PLAIN_SERVER): peers
// must connect as PLAIN clients, and each one's user name and password go to
// the ZAP handler (see SetZAPHandler, WithZAPHandler and Authenticator).
// Without a ZAP handler every client is refused; PLAIN never lets everyone
// in. PLAIN sends passwords in clear text: use it only on trusted networks.
// Either side may bind. The last security option given wins.
func WithPlainServer() Option {
	return func(o *options) error {
		o.sec.mech, o.sec.server = zmtp.MechPlain, true
		return nil
	}
}

// WithPlainClient makes the socket a PLAIN client with these credentials
// (ZMQ_PLAIN_USERNAME, ZMQ_PLAIN_PASSWORD), each at most 255 bytes.
func WithPlainClient(user, password string) Option {
	return func(o *options) error {
		if len(user) > zmtp.MaxPlainField || len(password) > zmtp.MaxPlainField {
			return fmt.Errorf("%w: PLAIN user name and password must be at most 255 bytes", ErrInvalidOption)
		}
		o.sec.mech, o.sec.server = zmtp.MechPlain, false
		o.sec.user, o.sec.pass = user, password
		return nil
	}
}

// WithCurveServer makes the socket a CURVE server with this long-term secret
// key (ZMQ_CURVE_SERVER with ZMQ_CURVE_SECRETKEY). Clients need the matching
// public key (secret.Public()). Every connection is encrypted and the server
// authenticated; clients are authenticated by the ZAP handler if there is
// one (see Authenticator), and otherwise any client key is accepted, as with
// libzmq.
func WithCurveServer(secret CurveSecretKey) Option {
	return func(o *options) error {
		if secret == (CurveSecretKey{}) {
			return fmt.Errorf("%w: zero CURVE secret key", ErrInvalidOption)
		}
		o.sec.mech, o.sec.server = zmtp.MechCurve, true
		o.sec.secretKey, o.sec.publicKey = secret, secret.Public()
		return nil
	}
}

// WithCurveClient makes the socket a CURVE client of the server whose
// public key is serverPublic (ZMQ_CURVE_SERVERKEY), authenticating itself
// with the pair clientPublic, clientSecret (ZMQ_CURVE_PUBLICKEY,
// ZMQ_CURVE_SECRETKEY), which must belong together.
func WithCurveClient(serverPublic, clientPublic CurvePublicKey, clientSecret CurveSecretKey) Option {
	return func(o *options) error {
		if serverPublic == (CurvePublicKey{}) || clientSecret == (CurveSecretKey{}) {
			return fmt.Errorf("%w: zero CURVE key", ErrInvalidOption)
		}
		if clientSecret.Public() != clientPublic {
			return fmt.Errorf("%w: CURVE client public key %s does not match its secret key", ErrInvalidOption, clientPublic)
		}
		o.sec.mech, o.sec.server = zmtp.MechCurve, false
		o.sec.serverKey, o.sec.publicKey, o.sec.secretKey = serverPublic, clientPublic, clientSecret
		return nil
	}
}

// WithZAPDomain sets the domain sent in ZAP requests (ZMQ_ZAP_DOMAIN), at
// most 255 bytes. With NULL security a non-empty domain makes the socket ask
// the ZAP handler, if there is one, about every peer (for address filtering),
// as libzmq does.
func WithZAPDomain(domain string) Option {
	return func(o *options) error {
		if len(domain) > 255 {
			return fmt.Errorf("%w: ZAP domain over 255 bytes", ErrInvalidOption)
		}
		o.sec.zapDomain = domain
		return nil
	}
}

// WithZAPErrorText makes a server tell refused clients why: the ERROR
// command carries the ZAP status code and text ("400 unknown user") instead
// of the bare code. A zmqgo client reports both (AuthError.Status and
// AuthError.Text, EventHandshakeFailedAuth). Leave it off when libzmq
// clients connect: libzmq reports an ERROR as an authentication failure
// (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH with the code) only when its reason is a
// bare code; for any other reason its monitor shows just the disconnection
// (libzmq 4.3.4, tested). Without the option, as with libzmq, the text stays
// on the server: its log and the *AuthError of its EventHandshakeFailedAuth.
func WithZAPErrorText() Option {
	return func(o *options) error {
		o.sec.errorText = true
		return nil
	}
}

// WithZAPHandler gives the socket its own ZAP handler, used instead of the
// process-wide one (SetZAPHandler, or a socket bound at
// inproc://zeromq.zap.01). libzmq has no such option; it is handy for tests
// and for processes whose sockets need different rules.
func WithZAPHandler(h ZAPHandler) Option {
	return func(o *options) error {
		o.sec.zap = h
		return nil
	}
}

// AuthError describes a handshake refused by authentication. Monitors
// receive it in Event.Err with EventHandshakeFailedAuth.
type AuthError struct {
	// Status is the ZAP status code: 300 (temporary: closed without ERROR),
	// 400 (refused) or 500 (handler failure). On a client it is taken from
	// the server's ERROR reason, which libzmq and zmqgo servers set to the
	// code; 0 if the reason is not a code.
	Status int
	// Text is the handler's status text (server side). On a client it is
	// the reason of the server's ERROR: the status text if the server sent
	// one (WithZAPErrorText), else the bare code, as libzmq sends it.
	Text string
	// Remote is true on the client: the server refused us.
	Remote bool
	// User is the PLAIN user name, or the Z85 CURVE client key (server side).
	User string
}

func (e *AuthError) Error() string {
	if e.Remote {
		if e.Status != 0 && e.Text != strconv.Itoa(e.Status) {
			return fmt.Sprintf("%v: server sent ERROR %d %q", ErrAuthFailed, e.Status, e.Text)
		}
		return fmt.Sprintf("%v: server sent ERROR %q", ErrAuthFailed, e.Text)
	}
	s := fmt.Sprintf("%v: ZAP status %d", ErrAuthFailed, e.Status)
	if e.Text != "" {
		s += fmt.Sprintf(" %q", e.Text)
	}
	if e.User != "" {
		s += fmt.Sprintf(" for %q", e.User)
	}
	return s
}

// Is makes errors.Is(err, ErrAuthFailed) hold, and on a client
// errors.Is(err, zmtp's ErrPeerError) too.
func (e *AuthError) Is(target error) bool {
	return target == ErrAuthFailed || e.Remote && target == zmtp.ErrPeerError
}

// newMechanism builds this socket's mechanism for one connection.
func (s *Socket) newMechanism(md zmtp.Metadata) zmtp.Mechanism {
	o := &s.opts.sec
	switch {
	case o.mech == zmtp.MechPlain && o.server:
		return &zmtp.PlainServer{Local: md}
	case o.mech == zmtp.MechPlain:
		return &zmtp.PlainClient{Username: o.user, Password: o.pass, Local: md}
	case o.mech == zmtp.MechCurve && o.server:
		// Without a ZAP handler libzmq accepts every client key.
		return &zmtp.CurveServer{SecretKey: o.secretKey, Local: md, NoAuth: s.zapHandler() == nil}
	case o.mech == zmtp.MechCurve:
		return &zmtp.CurveClient{ServerKey: o.serverKey, PublicKey: o.publicKey, SecretKey: o.secretKey, Local: md}
	}
	if o.zapDomain != "" && s.zapHandler() != nil {
		return &zmtp.NullAuth{Null: zmtp.Null{Local: md}}
	}
	return &zmtp.Null{Local: md}
}

// runMechanism drives mech's handshake over nc: sends, reads commands, and
// asks the ZAP handler when the mechanism needs a verdict. It returns the
// verdict (nil if none was needed).
func (s *Socket) runMechanism(nc net.Conn, fr *zmtp.Reader, mech zmtp.Mechanism) (*zapVerdict, error) {
	out, err := mech.Start(nil)
	if err != nil {
		return nil, err
	}
	var verdict *zapVerdict
	for done := false; ; {
		if a, ok := mech.(zmtp.Authenticating); ok {
			if name, cred, pending := a.AuthPending(); pending {
				verdict = s.zapAsk(nc, name, cred)
				reason := "" // the bare status code
				if s.opts.sec.errorText && verdict.text != "" {
					reason = verdict.status + " " + verdict.text
				}
				out, done, err = a.Authenticated(out, verdict.status, reason)
				if err != nil {
					if len(out) > 0 {
						nc.Write(out) // ERROR; the connection closes anyway
					}
					return nil, verdict.authError(err)
				}
			}
		}
		if len(out) > 0 {
			if _, err := nc.Write(out); err != nil {
				return nil, err
			}
		}
		if done {
			return verdict, nil
		}
		flags, body, _, err := fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		if flags&zmtp.FlagCommand == 0 {
			return nil, fmt.Errorf("%w: data frame during handshake", ErrProtocol)
		}
		out, done, err = mech.Next(out[:0], body)
		if err != nil {
			if errors.Is(err, zmtp.ErrPeerError) {
				// The server refused us. A ZAP status code as the reason is
				// an authentication failure under any mechanism (libzmq's
				// NULL with ZAP sends one too); under PLAIN and CURVE any
				// ERROR is.
				reason := peerReason(err, body)
				st, text := splitStatus(reason)
				if st != 0 || s.opts.sec.mech != "" {
					return nil, &AuthError{Status: st, Text: text, Remote: true}
				}
			}
			return nil, err
		}
	}
}

// splitStatus reads an ERROR reason that starts with a ZAP status code:
// the bare code (libzmq) or the code, a space and the status text (a zmqgo
// server with WithZAPErrorText). Any other reason gives 0 and the reason.
func splitStatus(reason string) (status int, text string) {
	if len(reason) < 3 || len(reason) > 3 && reason[3] != ' ' {
		return 0, reason
	}
	st, err := strconv.Atoi(reason[:3])
	if err != nil || st < 300 || st > 599 {
		return 0, reason
	}
	if len(reason) == 3 {
		return st, reason
	}
	return st, reason[4:]
}

// peerReason is the reason of the ERROR command that made a mechanism fail.
func peerReason(err error, body []byte) string {
	var pe *zmtp.PeerError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	if name, data, perr := zmtp.ParseCommand(body); perr == nil && string(name) == zmtp.CmdError {
		if r, perr := zmtp.ParseError(data); perr == nil {
			return r
		}
	}
	return ""
}

// msgMeta is what every message received on one connection can tell about
// it: the peer's handshake metadata, what the ZAP handler said, and the
// peer's address (libzmq's zmq_msg_gets properties).
type msgMeta struct {
	userID string
	props  zmtp.Metadata
}

// Property names libzmq adds to the peer's own metadata.
const (
	propPeerAddress = "Peer-Address"
	propUserID      = zmtp.PropUserID
)

func newMsgMeta(nc net.Conn, peer zmtp.Metadata, v *zapVerdict) *msgMeta {
	m := &msgMeta{}
	m.props = append(m.props, peer...)
	if v != nil {
		m.userID = v.userID
		m.props = append(m.props, v.metadata...)
	}
	if m.userID != "" {
		m.props = append(m.props, zmtp.Property{Name: propUserID, Value: []byte(m.userID)})
	}
	if ip := peerIP(nc); ip != "" {
		m.props = append(m.props, zmtp.Property{Name: propPeerAddress, Value: []byte(ip)})
	}
	return m
}

// peerIP is the peer's IP address for tcp connections, "" otherwise.
func peerIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ""
}

// UserID returns the user id the ZAP handler gave the peer that sent the
// message: with Authenticator, the PLAIN user name or the Z85 CURVE client
// key. It is "" for messages not received from a peer, or when the peer was
// not authenticated (libzmq's zmq_msg_gets(msg, "User-Id")).
func (m Msg) UserID() string {
	if m.meta == nil {
		return ""
	}
	return m.meta.userID
}

// Property returns a property of the connection the message arrived on
// (libzmq's zmq_msg_gets): the metadata the peer sent in its handshake
// ("Socket-Type", "Identity" and any others), the metadata its ZAP reply
// carried, "User-Id" (see UserID) and "Peer-Address" (the peer's IP for tcp).
// Names are compared case-insensitively. Messages not received from a peer
// have no properties.
func (m Msg) Property(name string) (string, bool) {
	if m.meta == nil {
		return "", false
	}
	v, ok := m.meta.props.Get(name)
	return string(v), ok
}

// Reconnect backoff after failed secure handshakes: a client that is refused
// (wrong password, unknown key, wrong server key) waits at least the
// reconnect interval, then twice as long each time, up to the larger of
// WithReconnectIntervalMax and authBackoffMax, instead of hammering the
// server every 100 ms.
const (
	authBackoffMin = 100 * time.Millisecond
	authBackoffMax = 5 * time.Second
)

// handshakeBackoff reports whether a failed handshake should slow down
// reconnection: any failure of a PLAIN or CURVE handshake, or an ERROR from
// the peer.
func (s *Socket) handshakeBackoff(err error) bool {
	if err == nil {
		return false
	}
	return s.opts.sec.mech != "" || errors.Is(err, ErrAuthFailed) || errors.Is(err, zmtp.ErrPeerError) || errors.Is(err, errMechanism)
}

// nextAuthBackoff returns the wait after another failed handshake, given
// the previous one (0 after a success).
func (s *Socket) nextAuthBackoff(prev time.Duration) time.Duration {
	base := max(s.opts.reconnectIvl, authBackoffMin)
	limit := max(s.opts.reconnectIvlMax, authBackoffMax)
	if prev == 0 {
		return min(base, limit)
	}
	return min(prev*2, limit)
}

// zapSeq numbers ZAP requests.
var zapSeq atomic.Uint64

// zapContext bounds a ZAP request by the handshake interval and the
// socket's life.
func (s *Socket) zapContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	if d := s.opts.handshakeIvl; d > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), d)
	}
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
