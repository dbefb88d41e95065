package zmq

// ZAP, the ZeroMQ Authentication Protocol (RFC 27): a PLAIN or CURVE server
// (or a NULL socket with a ZAP domain) asks a handler in the same process
// whether to accept each peer. The handler is, in order: the socket's own
// (WithZAPHandler), the process-wide Go handler (SetZAPHandler, for example
// an *Authenticator), or a socket bound at inproc://zeromq.zap.01 that
// speaks RFC 27, as a libzmq application would bind it.

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/zmqgo/zmq/internal/zmtp"
)

// ZAPEndpoint is where a ZAP handler socket binds (RFC 27).
const ZAPEndpoint = "inproc://zeromq.zap.01"

// ZAP status codes (RFC 27).
const (
	ZAPStatusOK        = "200" // accept
	ZAPStatusTemporary = "300" // temporary failure: the server closes without ERROR
	ZAPStatusDenied    = "400" // authentication failure: the server sends ERROR
	ZAPStatusInternal  = "500" // handler failure: the server sends ERROR
)

// ZAPRequest is one authentication request (RFC 27).
type ZAPRequest struct {
	RequestID []byte
	// Domain is the server socket's ZAP domain (WithZAPDomain), often "".
	Domain string
	// Address is the client's IP address ("" for non-tcp transports).
	Address string
	// Identity is the server socket's own routing id, as libzmq sends it.
	Identity []byte
	// Mechanism is "NULL", "PLAIN" or "CURVE".
	Mechanism string
	// Credentials: PLAIN, user name and password; CURVE, the client's
	// 32-byte long-term public key; NULL, none.
	Credentials [][]byte
}

// PlainCredentials returns a PLAIN request's user name and password.
func (r *ZAPRequest) PlainCredentials() (user, password string, ok bool) {
	if r.Mechanism != zmtp.MechPlain || len(r.Credentials) != 2 {
		return "", "", false
	}
	return string(r.Credentials[0]), string(r.Credentials[1]), true
}

// CurveKey returns a CURVE request's client public key.
func (r *ZAPRequest) CurveKey() (CurvePublicKey, bool) {
	if r.Mechanism != zmtp.MechCurve || len(r.Credentials) != 1 || len(r.Credentials[0]) != 32 {
		return CurvePublicKey{}, false
	}
	return CurvePublicKey(r.Credentials[0]), true
}

// ZAPReply is a handler's answer.
type ZAPReply struct {
	StatusCode string // ZAPStatusOK, ZAPStatusTemporary, ZAPStatusDenied or ZAPStatusInternal
	StatusText string
	// UserID names the authenticated peer to the application (Msg.UserID).
	UserID string
	// Metadata is added to the properties of the peer's messages
	// (Msg.Property). Names must be valid ZMTP property names.
	Metadata map[string]string
}

// ZAPHandler decides on ZAP requests. HandleZAP may be called from many
// goroutines at once; ctx ends with the handshake's time limit.
type ZAPHandler interface {
	HandleZAP(ctx context.Context, req *ZAPRequest) ZAPReply
}

// ZAPHandlerFunc adapts a function to ZAPHandler.
type ZAPHandlerFunc func(ctx context.Context, req *ZAPRequest) ZAPReply

// HandleZAP calls f.
func (f ZAPHandlerFunc) HandleZAP(ctx context.Context, req *ZAPRequest) ZAPReply { return f(ctx, req) }

var zapGlobal struct {
	mu rwmutex[rankZAPGlobal]
	h  ZAPHandler
}

// SetZAPHandler installs the process-wide ZAP handler, the Go counterpart of
// binding a handler socket at inproc://zeromq.zap.01 (RFC 27 allows one per
// process), and returns the previous one. nil removes it. Sockets created
// with WithZAPHandler use their own instead. It applies to handshakes that
// start after the call.
func SetZAPHandler(h ZAPHandler) ZAPHandler {
	zapGlobal.mu.Lock()
	defer zapGlobal.mu.Unlock()
	old := zapGlobal.h
	zapGlobal.h = h
	return old
}

// zapHandler returns the handler this socket asks, or nil if there is none.
func (s *Socket) zapHandler() ZAPHandler {
	if h := s.opts.sec.zap; h != nil {
		return h
	}
	zapGlobal.mu.RLock()
	h := zapGlobal.h
	zapGlobal.mu.RUnlock()
	if h != nil {
		return h
	}
	if zapSocketBound() {
		return zapSocketHandler{}
	}
	return nil
}

// zapSocketBound reports whether some socket of this process is bound at
// inproc://zeromq.zap.01.
func zapSocketBound() bool {
	name := strings.TrimPrefix(ZAPEndpoint, "inproc://")
	inprocs.mu.Lock()
	defer inprocs.mu.Unlock()
	return inprocs.names[name] != nil
}

// zapSocketHandler asks the handler socket bound at inproc://zeromq.zap.01
// over RFC 27, from a REQ socket of its own per request.
type zapSocketHandler struct{}

func (zapSocketHandler) HandleZAP(ctx context.Context, req *ZAPRequest) ZAPReply {
	rep, err := zapRoundTrip(ctx, req)
	if err != nil {
		return ZAPReply{StatusCode: ZAPStatusInternal, StatusText: "ZAP handler: " + err.Error()}
	}
	return rep
}

func zapRoundTrip(ctx context.Context, req *ZAPRequest) (ZAPReply, error) {
	s, err := NewSocket(Req, WithLinger(0))
	if err != nil {
		return ZAPReply{}, err
	}
	defer s.Close()
	if err := s.Connect(ZAPEndpoint); err != nil {
		return ZAPReply{}, err
	}
	frames := [][]byte{[]byte("1.0"), req.RequestID, []byte(req.Domain), []byte(req.Address),
		req.Identity, []byte(req.Mechanism)}
	frames = append(frames, req.Credentials...)
	if err := s.Send(ctx, Msg{Frames: frames}); err != nil {
		return ZAPReply{}, err
	}
	m, err := s.Recv(ctx)
	if err != nil {
		return ZAPReply{}, err
	}
	f := m.Frames
	if len(f) != 6 {
		return ZAPReply{}, fmt.Errorf("%w: %d frames, want 6 after the delimiter", errZAPReply, len(f))
	}
	if string(f[0]) != "1.0" {
		return ZAPReply{}, fmt.Errorf("%w: version %q", errZAPReply, f[0])
	}
	if string(f[1]) != string(req.RequestID) {
		return ZAPReply{}, fmt.Errorf("%w: request id %q, want %q", errZAPReply, f[1], req.RequestID)
	}
	md, err := zmtp.ParseMetadata(f[5])
	if err != nil {
		return ZAPReply{}, fmt.Errorf("%w: %v", errZAPReply, err)
	}
	rep := ZAPReply{StatusCode: string(f[2]), StatusText: string(f[3]), UserID: string(f[4])}
	if len(md) > 0 {
		rep.Metadata = make(map[string]string, len(md))
		for _, p := range md {
			rep.Metadata[p.Name] = string(p.Value)
		}
	}
	return rep, nil
}

// zapVerdict is a checked ZAP reply.
type zapVerdict struct {
	status, text, userID string
	metadata             zmtp.Metadata
	mechanism, user      string
}

// authError turns a mechanism's rejection into an *AuthError.
func (v *zapVerdict) authError(err error) error {
	var rej *zmtp.AuthRejectedError
	if !errors.As(err, &rej) {
		return err
	}
	st, _ := strconv.Atoi(rej.Status)
	return &AuthError{Status: st, Text: v.text, User: v.user}
}

// zapAsk asks the socket's ZAP handler about a peer. With no handler, the
// answer is 500 (only PLAIN servers ask without one: they refuse everyone).
func (s *Socket) zapAsk(nc net.Conn, mech string, cred [][]byte) *zapVerdict {
	v := &zapVerdict{mechanism: mech}
	switch mech {
	case zmtp.MechPlain:
		if len(cred) > 0 {
			v.user = string(cred[0])
		}
	case zmtp.MechCurve:
		if len(cred) == 1 && len(cred[0]) == 32 {
			v.user = CurvePublicKey(cred[0]).String()
		}
	}
	h := s.zapHandler()
	if h == nil {
		v.status, v.text = ZAPStatusInternal, "no ZAP handler"
		s.opts.logger.Warn("zmq: "+mech+" server has no ZAP handler (SetZAPHandler, WithZAPHandler, or a socket bound at "+
			ZAPEndpoint+"); refusing the client", "socket", s.typ.String(), "peer", nc.RemoteAddr().String())
		return v
	}
	req := &ZAPRequest{
		RequestID:   strconv.AppendUint(nil, zapSeq.Add(1), 10),
		Domain:      s.opts.sec.zapDomain,
		Address:     peerIP(nc),
		Identity:    s.opts.routingID,
		Mechanism:   mech,
		Credentials: cred,
	}
	ctx, cancel := s.zapContext()
	rep := h.HandleZAP(ctx, req)
	cancel()
	v.status, v.text, v.userID = rep.StatusCode, rep.StatusText, rep.UserID
	if !validZAPStatus(v.status) {
		s.opts.logger.Warn("zmq: ZAP handler returned an invalid status; refusing the client",
			"status", v.status, "text", v.text, "peer", nc.RemoteAddr().String())
		v.status, v.text = ZAPStatusInternal, fmt.Sprintf("invalid ZAP status %q", rep.StatusCode)
		return v
	}
	if v.status != ZAPStatusOK {
		v.userID = ""
		return v
	}
	for name, val := range rep.Metadata {
		if !validPropName(name) {
			s.opts.logger.Warn("zmq: ZAP handler returned an invalid metadata name; ignored", "name", name)
			continue
		}
		v.metadata = append(v.metadata, zmtp.Property{Name: name, Value: []byte(val)})
	}
	return v
}

func validZAPStatus(s string) bool {
	switch s {
	case ZAPStatusOK, ZAPStatusTemporary, ZAPStatusDenied, ZAPStatusInternal:
		return true
	}
	return false
}

func validPropName(s string) bool {
	md, err := zmtp.ParseMetadata(zmtp.AppendMetadata(nil, zmtp.Metadata{{Name: s}}))
	return err == nil && len(md) == 1 && len(s) <= 255
}

// ServeZAP answers RFC 27 requests arriving on a REP or ROUTER socket
// (typically bound at ZAPEndpoint) with h, until ctx is done or the socket
// is closed. It lets a Go handler serve libzmq-style ZAP clients.
func ServeZAP(ctx context.Context, s *Socket, h ZAPHandler) error {
	if s.Type() != Rep && s.Type() != Router {
		return fmt.Errorf("%w: ServeZAP needs a REP or ROUTER socket", ErrNotSupported)
	}
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return err
		}
		var env [][]byte
		f := m.Frames
		if s.Type() == Router {
			i := 0
			for i < len(f) && len(f[i]) > 0 {
				i++
			}
			if i == len(f) {
				continue // no delimiter: not a request
			}
			env, f = f[:i+1], f[i+1:]
		}
		var rep ZAPReply
		var id []byte
		if len(f) < 6 || string(f[0]) != "1.0" {
			rep = ZAPReply{StatusCode: ZAPStatusInternal, StatusText: "malformed ZAP request"}
			if len(f) > 1 {
				id = f[1]
			}
		} else {
			id = f[1]
			rep = h.HandleZAP(ctx, &ZAPRequest{RequestID: f[1], Domain: string(f[2]), Address: string(f[3]),
				Identity: f[4], Mechanism: string(f[5]), Credentials: f[6:]})
		}
		var md zmtp.Metadata
		for k, v := range rep.Metadata {
			md = append(md, zmtp.Property{Name: k, Value: []byte(v)})
		}
		out := append(env, []byte("1.0"), id, []byte(rep.StatusCode), []byte(rep.StatusText),
			[]byte(rep.UserID), zmtp.AppendMetadata(nil, md))
		if err := s.Send(ctx, Msg{Frames: out}); err != nil {
			return err
		}
	}
}

// Authenticator is a ready-made ZAP handler, like czmq's zauth: it filters
// peers by IP address and ZAP domain, checks PLAIN user names and passwords,
// and accepts CURVE clients by public key (or any key). Install it with
// SetZAPHandler or WithZAPHandler. Its methods are safe for concurrent use,
// and changes apply to the next handshake.
//
// A request is refused (400) if its domain is not allowed (when any domains
// are listed), if its address is denied, or if allow-listed addresses exist
// and it is not one of them. Then NULL peers are accepted; PLAIN peers need
// a known user name with its password (the user id is the user name);
// CURVE peers need an allowed key (the user id is the key in Z85).
type Authenticator struct {
	mu        rwmutex[rankAuth]
	allow     []netip.Prefix
	deny      []netip.Prefix
	domains   map[string]bool
	users     map[string]string
	curveAny  bool
	curveKeys map[CurvePublicKey]bool
}

// NewAuthenticator returns an Authenticator that refuses every PLAIN and
// CURVE peer until told otherwise, and accepts NULL peers from any address.
func NewAuthenticator() *Authenticator {
	return &Authenticator{domains: map[string]bool{}, users: map[string]string{}, curveKeys: map[CurvePublicKey]bool{}}
}

func parsePrefixes(addrs []string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a); err == nil {
			ps = append(ps, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is neither an IP address nor a CIDR prefix", ErrInvalidArgument, a)
		}
		ip = ip.Unmap()
		ps = append(ps, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return ps, nil
}

// Allow adds IP addresses or CIDR prefixes ("10.0.0.0/8") to the allow
// list. Once it has entries, peers from other addresses are refused.
func (a *Authenticator) Allow(addrs ...string) error {
	ps, err := parsePrefixes(addrs)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.allow = append(a.allow, ps...)
	a.mu.Unlock()
	return nil
}

// Deny adds IP addresses or CIDR prefixes whose peers are refused.
func (a *Authenticator) Deny(addrs ...string) error {
	ps, err := parsePrefixes(addrs)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.deny = append(a.deny, ps...)
	a.mu.Unlock()
	return nil
}

// AllowDomains restricts the Authenticator to requests from sockets with
// these ZAP domains (WithZAPDomain). With none listed, any domain is fine.
func (a *Authenticator) AllowDomains(domains ...string) {
	a.mu.Lock()
	for _, d := range domains {
		a.domains[d] = true
	}
	a.mu.Unlock()
}

// AddUser accepts a PLAIN user name with its password, replacing any
// password it had.
func (a *Authenticator) AddUser(user, password string) {
	a.mu.Lock()
	a.users[user] = password
	a.mu.Unlock()
}

// RemoveUser forgets a PLAIN user.
func (a *Authenticator) RemoveUser(user string) {
	a.mu.Lock()
	delete(a.users, user)
	a.mu.Unlock()
}

// AllowCurveKeys accepts CURVE clients with these public keys.
func (a *Authenticator) AllowCurveKeys(keys ...CurvePublicKey) {
	a.mu.Lock()
	for _, k := range keys {
		a.curveKeys[k] = true
	}
	a.mu.Unlock()
}

// RemoveCurveKey stops accepting a CURVE client key.
func (a *Authenticator) RemoveCurveKey(k CurvePublicKey) {
	a.mu.Lock()
	delete(a.curveKeys, k)
	a.mu.Unlock()
}

// AllowAnyCurveKey accepts (on) or stops accepting (off) every CURVE client
// key: encryption and server authentication without client authentication.
func (a *Authenticator) AllowAnyCurveKey(on bool) {
	a.mu.Lock()
	a.curveAny = on
	a.mu.Unlock()
}

func deny(text string) ZAPReply { return ZAPReply{StatusCode: ZAPStatusDenied, StatusText: text} }

// HandleZAP implements ZAPHandler.
func (a *Authenticator) HandleZAP(_ context.Context, req *ZAPRequest) ZAPReply {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if len(a.domains) > 0 && !a.domains[req.Domain] {
		return deny("domain not allowed")
	}
	if len(a.allow) > 0 || len(a.deny) > 0 {
		ip, err := netip.ParseAddr(req.Address)
		ip = ip.Unmap()
		in := func(ps []netip.Prefix) bool {
			for _, p := range ps {
				if err == nil && p.Contains(ip) {
					return true
				}
			}
			return false
		}
		if in(a.deny) {
			return deny("address denied")
		}
		if len(a.allow) > 0 && !in(a.allow) {
			return deny("address not allowed")
		}
	}
	switch req.Mechanism {
	case zmtp.MechNull:
		return ZAPReply{StatusCode: ZAPStatusOK, StatusText: "OK"}
	case zmtp.MechPlain:
		user, pass, ok := req.PlainCredentials()
		want, known := a.users[user]
		// Compare even for unknown users, so timing does not tell them apart.
		match := subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
		if !ok || !known || !match {
			return deny("invalid user name or password")
		}
		return ZAPReply{StatusCode: ZAPStatusOK, StatusText: "OK", UserID: user}
	case zmtp.MechCurve:
		k, ok := req.CurveKey()
		if !ok || !a.curveAny && !a.curveKeys[k] {
			return deny("CURVE key not allowed")
		}
		return ZAPReply{StatusCode: ZAPStatusOK, StatusText: "OK", UserID: k.String()}
	}
	return deny("unsupported mechanism " + strconv.Quote(req.Mechanism))
}
