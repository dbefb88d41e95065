package zmtp

import "fmt"

// PLAIN (RFC 24): the client sends HELLO with a user name and password; the
// server asks its ZAP handler and answers WELCOME (or ERROR); the client
// sends INITIATE with its metadata and the server answers READY with its own.
// Nothing is encrypted.

// MaxPlainField is the longest PLAIN user name or password (one length byte).
const MaxPlainField = 255

// libzmq's PLAIN ERROR. Since 4.3.0 libzmq writes the PLAIN ERROR prefix as
// the C string "\x05ERROR", which C reads as the hex escape \x05E (0x5E)
// followed by "RROR": its PLAIN servers send "^RROR" + reason-length +
// reason (a command whose name-length byte is 94), and its PLAIN clients
// recognise only that form. NULL and CURVE are not affected. We send
// libzmq's form, so libzmq clients report an authentication failure, and
// accept both forms.
const plainErrorLibzmq = "\x5eRROR"

// AppendPlainError appends a PLAIN ERROR command frame in libzmq's form
// (see plainErrorLibzmq). Reasons are cut at 255 bytes.
func AppendPlainError(dst []byte, reason string) []byte {
	reason = reason[:min(len(reason), 255)]
	dst = AppendFrameHeader(dst, FlagCommand, len(plainErrorLibzmq)+1+len(reason))
	dst = append(dst, plainErrorLibzmq...)
	dst = append(dst, byte(len(reason)))
	return append(dst, reason...)
}

// parsePlainError recognises libzmq's PLAIN ERROR form.
func parsePlainError(body []byte) (error, bool) {
	if len(body) < len(plainErrorLibzmq) || string(body[:len(plainErrorLibzmq)]) != plainErrorLibzmq {
		return nil, false
	}
	return peerError(body[len(plainErrorLibzmq):]), true
}

const (
	plainWaitHello = iota
	plainWaitAuth
	plainWaitWelcome
	plainWaitInitiate
	plainWaitReady
	plainDone
	plainFailed
)

// PlainClient is the client side of PLAIN.
type PlainClient struct {
	Username, Password string
	Local              Metadata
	state              int
	peer               Metadata
}

func (m *PlainClient) Name() string { return MechPlain }

// AppendPlainHello appends a PLAIN HELLO command frame. Fields longer than
// 255 bytes are cut (options reject them before this point).
func AppendPlainHello(dst []byte, user, pass string) []byte {
	user, pass = user[:min(len(user), MaxPlainField)], pass[:min(len(pass), MaxPlainField)]
	dst = AppendFrameHeader(dst, FlagCommand, 1+len(CmdHello)+1+len(user)+1+len(pass))
	dst = append(dst, byte(len(CmdHello)))
	dst = append(dst, CmdHello...)
	dst = append(dst, byte(len(user)))
	dst = append(dst, user...)
	dst = append(dst, byte(len(pass)))
	return append(dst, pass...)
}

// ParsePlainHello decodes a HELLO command's data into user name and
// password (both alias data). Like libzmq it insists that nothing follows
// the password.
func ParsePlainHello(data []byte) (user, pass []byte, err error) {
	if len(data) < 1 || len(data) < 1+int(data[0]) {
		return nil, nil, fmt.Errorf("%w: PLAIN HELLO user name truncated", ErrMalformedCommand)
	}
	user = data[1 : 1+int(data[0])]
	rest := data[1+int(data[0]):]
	if len(rest) < 1 || len(rest) != 1+int(rest[0]) {
		return nil, nil, fmt.Errorf("%w: PLAIN HELLO password truncated or followed by extra bytes", ErrMalformedCommand)
	}
	return user, rest[1:], nil
}

func (m *PlainClient) Start(dst []byte) ([]byte, error) {
	if len(m.Username) > MaxPlainField || len(m.Password) > MaxPlainField {
		return dst, fmt.Errorf("zmtp: PLAIN user name and password must be at most %d bytes", MaxPlainField)
	}
	m.state = plainWaitWelcome
	return AppendPlainHello(dst, m.Username, m.Password), nil
}

func (m *PlainClient) Next(dst []byte, body []byte) ([]byte, bool, error) {
	if err, ok := parsePlainError(body); ok && (m.state == plainWaitWelcome || m.state == plainWaitReady) {
		m.state = plainFailed
		return dst, false, err
	}
	name, data, err := parseHandshakeCommand(MechPlain, body)
	if err != nil {
		return dst, false, err
	}
	switch {
	case name == CmdWelcome && m.state == plainWaitWelcome:
		if len(data) != 0 {
			return dst, false, fmt.Errorf("%w: PLAIN WELCOME with %d bytes of data", ErrMalformedCommand, len(data))
		}
		m.state = plainWaitReady
		dst = AppendCommandFrame(dst, CmdInitiate, AppendMetadata(nil, m.Local))
		return dst, false, nil
	case name == CmdReady && m.state == plainWaitReady:
		md, err := ParseMetadata(data)
		if err != nil {
			return dst, false, err
		}
		m.peer, m.state = md, plainDone
		return dst, true, nil
	case name == CmdError && (m.state == plainWaitWelcome || m.state == plainWaitReady):
		m.state = plainFailed
		return dst, false, peerError(data)
	}
	return dst, false, unexpected(MechPlain, name, "client")
}

func (m *PlainClient) PeerMetadata() Metadata { return m.peer }

// PlainServer is the server side of PLAIN. It always asks for a ZAP verdict
// (see Authenticating) after HELLO.
type PlainServer struct {
	Local      Metadata
	state      int
	user, pass []byte
	peer       Metadata
}

func (m *PlainServer) Name() string { return MechPlain }

func (m *PlainServer) Start(dst []byte) ([]byte, error) {
	m.state = plainWaitHello
	return dst, nil
}

func (m *PlainServer) Next(dst []byte, body []byte) ([]byte, bool, error) {
	name, data, err := parseHandshakeCommand(MechPlain, body)
	if err != nil {
		return dst, false, err
	}
	switch {
	case name == CmdHello && m.state == plainWaitHello:
		user, pass, err := ParsePlainHello(data)
		if err != nil {
			return dst, false, err
		}
		m.user = append([]byte(nil), user...)
		m.pass = append([]byte(nil), pass...)
		m.state = plainWaitAuth
		return dst, false, nil
	case name == CmdInitiate && m.state == plainWaitInitiate:
		md, err := ParseMetadata(data)
		if err != nil {
			return dst, false, err
		}
		m.peer, m.state = md, plainDone
		return AppendReady(dst, m.Local), true, nil
	}
	return dst, false, unexpected(MechPlain, name, "server")
}

func (m *PlainServer) AuthPending() (string, [][]byte, bool) {
	if m.state != plainWaitAuth {
		return "", nil, false
	}
	return MechPlain, [][]byte{m.user, m.pass}, true
}

func (m *PlainServer) Authenticated(dst []byte, status, reason string) ([]byte, bool, error) {
	if m.state != plainWaitAuth {
		return dst, false, fmt.Errorf("zmtp: PLAIN: no authentication pending")
	}
	m.user, m.pass = nil, nil // the handler may keep the slices it was given
	if status != StatusOK {
		m.state = plainFailed
		if !validStatus(status) {
			return dst, false, fmt.Errorf("zmtp: invalid ZAP status %q", status)
		}
		err := &AuthRejectedError{Status: status}
		if status == StatusTemporary {
			return dst, false, err
		}
		if reason == "" {
			reason = status
		}
		return AppendPlainError(dst, reason), false, err
	}
	m.state = plainWaitInitiate
	return AppendCommandFrame(dst, CmdWelcome, nil), false, nil
}

func (m *PlainServer) PeerMetadata() Metadata { return m.peer }
