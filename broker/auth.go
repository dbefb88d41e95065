package broker

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/zmqgo/zmq"
)

// AnyIdentity in NameRules stands for every identity, an unauthenticated
// peer (user id "") included.
const AnyIdentity = "*"

// NameRules say which names each identity may register: the identity is
// the user id the broker's ZAP handler gave the client's connection (a
// PLAIN user name, or a CURVE public key in Z85, with zmq.Authenticator),
// and each rule is a pattern in which '*' stands for any run of
// characters ("alice", "sensor-*", "*"). Patterns are compared with the
// name's key (see Names in the package documentation), so "Alice" allows
// "alice" and "ＡＬＩＣＥ" alike. An identity without rules, and an
// unauthenticated client, may register nothing, unless the AnyIdentity
// rules allow it. NameRules are not safe for changes while a broker uses
// them.
type NameRules struct {
	rules map[string][]string // identity -> pattern keys
}

// NewNameRules returns rules that allow nothing.
func NewNameRules() *NameRules { return &NameRules{rules: map[string][]string{}} }

// Allow lets identity register the names matching patterns.
func (r *NameRules) Allow(identity string, patterns ...string) {
	for _, p := range patterns {
		r.rules[identity] = append(r.rules[identity], patternKey(p))
	}
}

// Allowed reports whether identity may register name.
func (r *NameRules) Allowed(identity, name string) bool {
	key := nameKey(name)
	for _, id := range []string{identity, AnyIdentity} {
		for _, p := range r.rules[id] {
			if globMatch(p, key) {
				return true
			}
		}
	}
	return false
}

// patternKey normalises a pattern as names are, piece by piece around
// its stars.
func patternKey(p string) string {
	parts := strings.Split(strings.TrimSpace(p), "*")
	for i, s := range parts {
		if s != "" {
			parts[i] = nameKey(s)
			// nameKey trims: a piece's own spaces next to a star count.
			if strings.HasPrefix(s, " ") && i > 0 {
				parts[i] = " " + parts[i]
			}
			if strings.HasSuffix(s, " ") && i < len(parts)-1 {
				parts[i] += " "
			}
		}
	}
	return strings.Join(parts, "*")
}

// globMatch matches s against pattern, where '*' matches any run.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// maxRuleLine bounds one line of a names file.
const maxRuleLine = 64 << 10

// ParseNameRules reads rules, one identity a line:
//
//	# comment
//	alice: alice, alice-*
//	rQ:=Q0...40 Z85 characters...: sensor-*
//	*: guest-*
//
// The identity ends at the first colon, except for a CURVE key (40 Z85
// characters, which may themselves contain colons) followed by a colon.
func ParseNameRules(rd io.Reader) (*NameRules, error) {
	r := NewNameRules()
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 4096), maxRuleLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, rest, ok := splitIdentity(line)
		if !ok {
			return nil, fmt.Errorf("line %d: want IDENTITY: PATTERN, ...", n)
		}
		for _, p := range strings.Split(rest, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if err := checkName(strings.ReplaceAll(p, "*", "x")); err != nil {
				return nil, fmt.Errorf("line %d: pattern %q: %v", n, p, err)
			}
			r.Allow(id, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// splitIdentity splits "IDENTITY: rest".
func splitIdentity(line string) (id, rest string, ok bool) {
	if len(line) > 40 && line[40] == ':' {
		if _, err := zmq.ParseCurvePublicKey(line[:40]); err == nil {
			return line[:40], line[41:], true
		}
	}
	id, rest, ok = strings.Cut(line, ":")
	id = strings.TrimSpace(id)
	return id, rest, ok && id != ""
}

// ParseIdentities reads a list of identities, one a line (# comments and
// blank lines ignored), as for Config.FederationPeers.
func ParseIdentities(rd io.Reader) ([]string, error) {
	var ids []string
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 4096), maxRuleLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids = append(ids, line)
	}
	return ids, sc.Err()
}

// mayFederate reports whether a peer with user id user may act as a
// downstream broker.
func (s *state) mayFederate(user string) bool {
	return user != "" && slices.Contains(s.cfg.FederationPeers, user)
}

// refuseBroker answers a peer that spoke as a broker without being
// admitted as one.
func (s *state) refuseBroker(p *peer, what string) {
	s.stats.FederationRefused++
	s.log.Warn("broker: refused a peer speaking as a broker", "what", what, "id", clientID(p.id), "user", p.user)
	s.refuse(p, rsNotAdmitted, "%s: not admitted as a broker of this federation", what)
}

// mayRegister reports whether p may register name under Config.Names.
func (s *state) mayRegister(p *peer, name string) bool {
	return s.cfg.Names == nil || s.cfg.Names.Allowed(p.user, name)
}

// takenOver handles a message that comes under p's routing id from another
// identity: a new connection reused the routing id (a client-chosen one)
// after p's ended. Nothing p held passes to the newcomer: p is forgotten,
// and the newcomer starts unregistered.
func (s *state) takenOver(p *peer, user string) *peer {
	if p.kind != kindUnknown {
		s.stats.TakenOver++
		s.log.Warn("broker: routing id reused by another identity; its registration is dropped",
			"id", clientID(p.id), "name", p.name, "was", p.user, "now", user)
	}
	s.forget(p, "routing id reused by another identity")
	return nil
}
