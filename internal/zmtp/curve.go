package zmtp

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// CURVE (RFC 25, CurveZMQ RFC 26), laid out as libzmq 4.3 does it:
//
//	HELLO    (200)      05 HELLO, version 01 00, 72 zero bytes, C' (32),
//	                    short nonce (8), Box[64 zeros](C'->S) (80)
//	WELCOME  (168)      07 WELCOME, long nonce (16), Box[S' + cookie](S->C') (144)
//	INITIATE (257 + md) 08 INITIATE, cookie (96), short nonce (8),
//	                    Box[C + vouch nonce (16) + vouch (80) + md](C'->S')
//	READY    (30 + md)  05 READY, short nonce (8), Box[md](S'->C')
//	MESSAGE             07 MESSAGE, short nonce (8), Box[flags + data]
//
// cookie = nonce (16) + SecretBox[C' + s'](cookie key) (80); vouch =
// Box[C' + S](C->S'). Short nonces count up per direction from 1 (client:
// HELLO 1, INITIATE 2, messages from 3; server: READY 1, messages from 2)
// and must strictly increase. A MESSAGE travels as an ordinary data frame;
// the MORE and COMMAND bits (0x01, 0x02) are inside the box, so commands
// such as SUBSCRIBE and PING are encrypted too.

// CurveKeySize is the size of CURVE public and secret keys.
const CurveKeySize = 32

// Sizes of CURVE commands (frame bodies).
const (
	CurveHelloSize       = 200
	CurveWelcomeSize     = 168
	CurveInitiateMinSize = 257
	CurveReadyMinSize    = 30
	// CurveMessageOverhead is what a MESSAGE adds to a frame's body:
	// name (8), short nonce (8), MAC (16), flags (1).
	CurveMessageOverhead = 8 + 8 + box.Overhead + 1
)

const (
	prefixHello    = "CurveZMQHELLO---"
	prefixWelcome  = "WELCOME-"
	prefixCookie   = "COOKIE--"
	prefixVouch    = "VOUCH---"
	prefixInitiate = "CurveZMQINITIATE"
	prefixReady    = "CurveZMQREADY---"
	prefixMsgC     = "CurveZMQMESSAGEC" // client -> server
	prefixMsgS     = "CurveZMQMESSAGES" // server -> client
	messageName    = "\x07MESSAGE"

	innerMore    = 0x01
	innerCommand = 0x02
)

// CurvePublicKey derives the public key that goes with a secret key.
func CurvePublicKey(secret *[32]byte) [32]byte {
	var pub [32]byte
	// curve25519 scalar multiplication of the base point, as box.GenerateKey.
	boxPublic(&pub, secret)
	return pub
}

func shortNonce(prefix string, n uint64) *[24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	binary.BigEndian.PutUint64(nonce[16:], n)
	return &nonce
}

func longNonce(prefix string, tail []byte) *[24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	copy(nonce[8:], tail)
	return &nonce
}

// curveCodec encrypts and decrypts MESSAGEs once the handshake is done. The
// writer uses send* and the reader recv*: they share only the key.
type curveCodec struct {
	key        [32]byte // precomputed from the transient keys
	sendPrefix string
	recvPrefix string
	sendKey    boxKey // data phase: XSalsa20 subkeys per direction (curvebox.go)
	recvKey    boxKey
	sendNonce  uint64 // next short nonce we send
	recvNonce  uint64 // last short nonce we accepted
}

// dataPhase derives the MESSAGE subkeys once the box key is known.
func (c *curveCodec) dataPhase() {
	c.sendKey = newBoxKey(c.sendPrefix, &c.key)
	c.recvKey = newBoxKey(c.recvPrefix, &c.key)
}

func (c *curveCodec) Overhead() int { return CurveMessageOverhead }

// nextNonce returns the next short nonce to send.
func (c *curveCodec) nextNonce() (uint64, error) {
	if c.sendNonce == math.MaxUint64 {
		return 0, fmt.Errorf("zmtp: CURVE short nonces exhausted")
	}
	n := c.sendNonce
	c.sendNonce++
	return n, nil
}

// checkNonce accepts a peer's short nonce only if it is above the last one.
func (c *curveCodec) checkNonce(n uint64) error {
	if n <= c.recvNonce {
		return fmt.Errorf("%w: got %d after %d", ErrNonce, n, c.recvNonce)
	}
	return nil
}

func (c *curveCodec) AppendMessage(dst []byte, flags byte, body []byte) ([]byte, error) {
	n, err := c.nextNonce()
	if err != nil {
		return dst, err
	}
	var inner byte
	if flags&FlagMore != 0 {
		inner |= innerMore
	}
	if flags&FlagCommand != 0 {
		inner |= innerCommand
	}
	dst = AppendFrameHeader(dst, 0, CurveMessageOverhead+len(body))
	dst = append(dst, messageName...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	return boxSeal(dst, inner, body, n, &c.sendKey), nil
}

func (c *curveCodec) OpenMessage(body []byte) (byte, []byte, error) {
	if len(body) < len(messageName) || string(body[:len(messageName)]) != messageName {
		name := body
		if n, _, err := ParseCommand(body); err == nil {
			name = n
		}
		return 0, nil, fmt.Errorf("%w: want MESSAGE, got %.20q", ErrMalformedCommand, name)
	}
	if len(body) < CurveMessageOverhead {
		return 0, nil, fmt.Errorf("%w: MESSAGE of %d bytes", ErrMalformedCommand, len(body))
	}
	n := binary.BigEndian.Uint64(body[8:16])
	if err := c.checkNonce(n); err != nil {
		return 0, nil, err
	}
	// In place: the plaintext aliases the input (and stays owned if it was).
	plain, ok := boxOpen(body[16:], n, &c.recvKey)
	if !ok {
		return 0, nil, fmt.Errorf("%w: MESSAGE %d", ErrCryptographic, n)
	}
	c.recvNonce = n
	var flags byte
	if plain[0]&innerMore != 0 {
		flags |= FlagMore
	}
	if plain[0]&innerCommand != 0 {
		flags |= FlagCommand
	}
	if flags == FlagMore|FlagCommand {
		return 0, nil, ErrCommandMore
	}
	return flags, plain[1:], nil
}

const (
	curveStart = iota
	curveWaitHello
	curveWaitWelcome
	curveWaitInitiate
	curveWaitAuth
	curveWaitReady
	curveDone
	curveFailed
)

// CurveClient is the client side of CURVE. ServerKey is the server's
// long-term public key; PublicKey and SecretKey are the client's long-term
// pair. Rand (crypto/rand if nil) supplies the transient key and nonces.
type CurveClient struct {
	ServerKey, PublicKey, SecretKey [32]byte
	Local                           Metadata
	Rand                            io.Reader

	curveCodec
	state              int
	cnPublic, cnSecret [32]byte // C', c'
	cnServer           [32]byte // S'
	cookie             [96]byte
	peer               Metadata
}

func (m *CurveClient) Name() string { return MechCurve }

func (m *CurveClient) rand() io.Reader {
	if m.Rand != nil {
		return m.Rand
	}
	return rand.Reader
}

func (m *CurveClient) Start(dst []byte) ([]byte, error) {
	if m.state != curveStart {
		return dst, fmt.Errorf("zmtp: CURVE client started twice")
	}
	pub, sec, err := box.GenerateKey(m.rand())
	if err != nil {
		return dst, err
	}
	m.cnPublic, m.cnSecret = *pub, *sec
	m.sendPrefix, m.recvPrefix = prefixMsgC, prefixMsgS
	m.sendNonce = 1
	n, _ := m.nextNonce()
	dst = AppendFrameHeader(dst, FlagCommand, CurveHelloSize)
	dst = append(dst, 5)
	dst = append(dst, CmdHello...)
	dst = append(dst, 1, 0) // CurveZMQ version 1.0
	dst = append(dst, make([]byte, 72)...)
	dst = append(dst, m.cnPublic[:]...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	var zeros [64]byte
	dst = box.Seal(dst, zeros[:], shortNonce(prefixHello, n), &m.ServerKey, &m.cnSecret)
	m.state = curveWaitWelcome
	return dst, nil
}

func (m *CurveClient) Next(dst []byte, body []byte) ([]byte, bool, error) {
	name, data, err := parseHandshakeCommand(MechCurve, body)
	if err != nil {
		return dst, false, err
	}
	switch {
	case name == CmdWelcome && m.state == curveWaitWelcome:
		return m.welcome(dst, body, data)
	case name == CmdReady && m.state == curveWaitReady:
		if len(body) < CurveReadyMinSize {
			return dst, false, fmt.Errorf("%w: CURVE READY of %d bytes", ErrMalformedCommand, len(body))
		}
		n := binary.BigEndian.Uint64(data[:8])
		md, ok := box.OpenAfterPrecomputation(nil, data[8:], shortNonce(prefixReady, n), &m.key)
		if !ok {
			return dst, false, fmt.Errorf("%w: READY", ErrCryptographic)
		}
		peer, err := ParseMetadata(md)
		if err != nil {
			return dst, false, err
		}
		m.recvNonce, m.peer, m.state = n, peer, curveDone
		m.dataPhase()
		return dst, true, nil
	case name == CmdError && (m.state == curveWaitWelcome || m.state == curveWaitReady):
		m.state = curveFailed
		return dst, false, peerError(data)
	}
	return dst, false, unexpected(MechCurve, name, "client")
}

func (m *CurveClient) welcome(dst, body, data []byte) ([]byte, bool, error) {
	if len(body) != CurveWelcomeSize {
		return dst, false, fmt.Errorf("%w: CURVE WELCOME of %d bytes, want %d", ErrMalformedCommand, len(body), CurveWelcomeSize)
	}
	var pt [128]byte
	if _, ok := box.Open(pt[:0], data[16:], longNonce(prefixWelcome, data[:16]), &m.ServerKey, &m.cnSecret); !ok {
		return dst, false, fmt.Errorf("%w: WELCOME (wrong server key?)", ErrCryptographic)
	}
	copy(m.cnServer[:], pt[:32])
	copy(m.cookie[:], pt[32:])
	box.Precompute(&m.key, &m.cnServer, &m.cnSecret)

	// vouch = Box[C' + S](C->S')
	var vn [16]byte
	if _, err := io.ReadFull(m.rand(), vn[:]); err != nil {
		return dst, false, err
	}
	var vouchPlain [64]byte
	copy(vouchPlain[:], m.cnPublic[:])
	copy(vouchPlain[32:], m.ServerKey[:])
	vouch := box.Seal(make([]byte, 0, 80), vouchPlain[:], longNonce(prefixVouch, vn[:]), &m.cnServer, &m.SecretKey)

	plain := make([]byte, 0, 128+MetadataSize(m.Local))
	plain = append(plain, m.PublicKey[:]...)
	plain = append(plain, vn[:]...)
	plain = append(plain, vouch...)
	plain = AppendMetadata(plain, m.Local)

	n, err := m.nextNonce()
	if err != nil {
		return dst, false, err
	}
	dst = AppendFrameHeader(dst, FlagCommand, 1+len(CmdInitiate)+96+8+box.Overhead+len(plain))
	dst = append(dst, byte(len(CmdInitiate)))
	dst = append(dst, CmdInitiate...)
	dst = append(dst, m.cookie[:]...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	dst = box.SealAfterPrecomputation(dst, plain, shortNonce(prefixInitiate, n), &m.key)
	clear(plain)
	m.state = curveWaitReady
	return dst, false, nil
}

func (m *CurveClient) PeerMetadata() Metadata { return m.peer }

// CurveServer is the server side of CURVE. SecretKey is the server's
// long-term secret key. After INITIATE it asks for a ZAP verdict (see
// Authenticating) unless NoAuth is set, which accepts any client key (what
// libzmq does when no ZAP handler is installed). Rand (crypto/rand if nil)
// supplies the transient key, the cookie key and nonces.
type CurveServer struct {
	SecretKey [32]byte
	Local     Metadata
	NoAuth    bool
	Rand      io.Reader

	curveCodec
	state              int
	publicKey          [32]byte // S
	cnPublic, cnSecret [32]byte // S', s'
	cnClient           [32]byte // C'
	cookieKey          [32]byte
	clientKey          [32]byte // C, once INITIATE is verified
	peer               Metadata
}

func (m *CurveServer) Name() string { return MechCurve }

func (m *CurveServer) rand() io.Reader {
	if m.Rand != nil {
		return m.Rand
	}
	return rand.Reader
}

func (m *CurveServer) Start(dst []byte) ([]byte, error) {
	if m.state != curveStart {
		return dst, fmt.Errorf("zmtp: CURVE server started twice")
	}
	m.publicKey = CurvePublicKey(&m.SecretKey)
	pub, sec, err := box.GenerateKey(m.rand())
	if err != nil {
		return dst, err
	}
	m.cnPublic, m.cnSecret = *pub, *sec
	if _, err := io.ReadFull(m.rand(), m.cookieKey[:]); err != nil {
		return dst, err
	}
	m.sendPrefix, m.recvPrefix = prefixMsgS, prefixMsgC
	m.sendNonce = 1
	m.state = curveWaitHello
	return dst, nil
}

func (m *CurveServer) Next(dst []byte, body []byte) ([]byte, bool, error) {
	name, data, err := parseHandshakeCommand(MechCurve, body)
	if err != nil {
		return dst, false, err
	}
	switch {
	case name == CmdHello && m.state == curveWaitHello:
		return m.hello(dst, body, data)
	case name == CmdInitiate && m.state == curveWaitInitiate:
		return m.initiate(dst, body, data)
	}
	return dst, false, unexpected(MechCurve, name, "server")
}

func (m *CurveServer) hello(dst, body, data []byte) ([]byte, bool, error) {
	if len(body) != CurveHelloSize {
		return dst, false, fmt.Errorf("%w: CURVE HELLO of %d bytes, want %d", ErrMalformedCommand, len(body), CurveHelloSize)
	}
	if data[0] != 1 || data[1] != 0 {
		return dst, false, fmt.Errorf("%w: CURVE HELLO version %d.%d, want 1.0", ErrMalformedCommand, data[0], data[1])
	}
	copy(m.cnClient[:], data[74:106])
	n := binary.BigEndian.Uint64(data[106:114])
	var zeros [64]byte
	pt, ok := box.Open(zeros[:0], data[114:], shortNonce(prefixHello, n), &m.cnClient, &m.SecretKey)
	if !ok {
		return dst, false, fmt.Errorf("%w: HELLO (client has the wrong server key?)", ErrCryptographic)
	}
	_ = pt
	m.recvNonce = n

	// cookie = nonce + SecretBox[C' + s'](cookie key)
	var cn [16]byte
	if _, err := io.ReadFull(m.rand(), cn[:]); err != nil {
		return dst, false, err
	}
	var cookiePlain [64]byte
	copy(cookiePlain[:], m.cnClient[:])
	copy(cookiePlain[32:], m.cnSecret[:])
	plain := make([]byte, 0, 128)
	plain = append(plain, m.cnPublic[:]...)
	plain = append(plain, cn[:]...)
	plain = secretbox.Seal(plain, cookiePlain[:], longNonce(prefixCookie, cn[:]), &m.cookieKey)
	clear(cookiePlain[:])

	var wn [16]byte
	if _, err := io.ReadFull(m.rand(), wn[:]); err != nil {
		return dst, false, err
	}
	dst = AppendFrameHeader(dst, FlagCommand, CurveWelcomeSize)
	dst = append(dst, byte(len(CmdWelcome)))
	dst = append(dst, CmdWelcome...)
	dst = append(dst, wn[:]...)
	dst = box.Seal(dst, plain, longNonce(prefixWelcome, wn[:]), &m.cnClient, &m.SecretKey)
	m.state = curveWaitInitiate
	return dst, false, nil
}

func (m *CurveServer) initiate(dst, body, data []byte) ([]byte, bool, error) {
	if len(body) < CurveInitiateMinSize {
		return dst, false, fmt.Errorf("%w: CURVE INITIATE of %d bytes, want at least %d", ErrMalformedCommand, len(body), CurveInitiateMinSize)
	}
	// The cookie must be ours and name this connection's keys.
	var cookie [64]byte
	if _, ok := secretbox.Open(cookie[:0], data[16:96], longNonce(prefixCookie, data[:16]), &m.cookieKey); !ok {
		return dst, false, fmt.Errorf("%w: INITIATE cookie", ErrCryptographic)
	}
	if subtle.ConstantTimeCompare(cookie[:32], m.cnClient[:]) != 1 || subtle.ConstantTimeCompare(cookie[32:], m.cnSecret[:]) != 1 {
		return dst, false, fmt.Errorf("%w: INITIATE cookie names other keys", ErrCryptographic)
	}
	n := binary.BigEndian.Uint64(data[96:104])
	if err := m.checkNonce(n); err != nil {
		return dst, false, err
	}
	box.Precompute(&m.key, &m.cnClient, &m.cnSecret)
	plain, ok := box.OpenAfterPrecomputation(nil, data[104:], shortNonce(prefixInitiate, n), &m.key)
	if !ok {
		return dst, false, fmt.Errorf("%w: INITIATE", ErrCryptographic)
	}
	m.recvNonce = n
	var clientKey [32]byte
	copy(clientKey[:], plain[:32])
	var vouch [64]byte
	if _, ok := box.Open(vouch[:0], plain[48:128], longNonce(prefixVouch, plain[32:48]), &clientKey, &m.cnSecret); !ok {
		return dst, false, fmt.Errorf("%w: INITIATE vouch", ErrCryptographic)
	}
	if !bytes.Equal(vouch[:32], m.cnClient[:]) || !bytes.Equal(vouch[32:], m.publicKey[:]) {
		return dst, false, fmt.Errorf("%w: INITIATE vouch names other keys", ErrCryptographic)
	}
	md, err := ParseMetadata(plain[128:])
	if err != nil {
		return dst, false, err
	}
	m.clientKey, m.peer = clientKey, md
	if m.NoAuth {
		return m.ready(dst)
	}
	m.state = curveWaitAuth
	return dst, false, nil
}

func (m *CurveServer) ready(dst []byte) ([]byte, bool, error) {
	n, err := m.nextNonce()
	if err != nil {
		return dst, false, err
	}
	md := AppendMetadata(nil, m.Local)
	dst = AppendFrameHeader(dst, FlagCommand, 1+len(CmdReady)+8+box.Overhead+len(md))
	dst = append(dst, byte(len(CmdReady)))
	dst = append(dst, CmdReady...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	dst = box.SealAfterPrecomputation(dst, md, shortNonce(prefixReady, n), &m.key)
	m.state = curveDone
	m.dataPhase()
	return dst, true, nil
}

func (m *CurveServer) AuthPending() (string, [][]byte, bool) {
	if m.state != curveWaitAuth {
		return "", nil, false
	}
	return MechCurve, [][]byte{append([]byte(nil), m.clientKey[:]...)}, true
}

func (m *CurveServer) Authenticated(dst []byte, status, reason string) ([]byte, bool, error) {
	if m.state != curveWaitAuth {
		return dst, false, fmt.Errorf("zmtp: CURVE: no authentication pending")
	}
	if status != StatusOK {
		m.state = curveFailed
		if !validStatus(status) {
			return dst, false, fmt.Errorf("zmtp: invalid ZAP status %q", status)
		}
		return appendStatusError(dst, status, reason)
	}
	return m.ready(dst)
}

// ClientKey is the client's long-term public key, valid once INITIATE has
// been verified.
func (m *CurveServer) ClientKey() [32]byte { return m.clientKey }

func (m *CurveServer) PeerMetadata() Metadata { return m.peer }
