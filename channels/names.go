package channels

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidName is wrapped by the errors for names channels would refuse.
var ErrInvalidName = errors.New("channels: invalid name")

// ValidChannelName checks name as channels 4.0 does: shorter than 100,
// ASCII alphanumerics, hyphens, underscores and periods, optionally
// followed by "!" and word characters (a process channel).
func ValidChannelName(name string) error {
	base, local, process := strings.Cut(name, "!")
	if err := checkLength("channel", name); err != nil {
		return err
	}
	if !asciiName(base) {
		return invalid("channel", name)
	}
	if process {
		for _, r := range local {
			if !(r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Pc, r)) {
				return invalid("channel", name)
			}
		}
	}
	return nil
}

// ValidGroupName checks name as channels 4.0 does: shorter than 100,
// ASCII alphanumerics, hyphens, underscores and periods only.
func ValidGroupName(name string) error {
	if err := checkLength("group", name); err != nil {
		return err
	}
	if !asciiName(name) {
		return invalid("group", name)
	}
	return nil
}

func checkLength(kind, name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: %s name is not UTF-8", ErrInvalidName, kind)
	}
	if n := utf8.RuneCountInString(name); n >= MaxNameLength {
		return fmt.Errorf("%w: %s name has %d characters, must have fewer than %d", ErrInvalidName, kind, n, MaxNameLength)
	}
	return nil
}

func invalid(kind, name string) error {
	return fmt.Errorf("%w: %s name %q may contain only ASCII alphanumerics, hyphens, underscores or periods (and, for a channel, one ! then word characters)", ErrInvalidName, kind, name)
}

func asciiName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isProcess reports whether name is a process channel (has a "!"), which
// only one subscriber may hold.
func isProcess(name string) bool { return strings.Contains(name, "!") }

// CapacityRule overrides the capacity of the channels whose names match
// Pattern, a glob as in channels_redis's channel_capacity ("*" matches
// any run of characters, "?" one, "[...]" a class).
type CapacityRule struct {
	Pattern  string
	Capacity int
}

// ParseCapacityRule parses "PATTERN=N".
func ParseCapacityRule(s string) (CapacityRule, error) {
	pat, n, ok := strings.Cut(s, "=")
	if !ok || pat == "" {
		return CapacityRule{}, fmt.Errorf("channels: capacity rule %q is not PATTERN=N", s)
	}
	var c int
	if _, err := fmt.Sscanf(n, "%d", &c); err != nil || c < 1 || fmt.Sprint(c) != n {
		return CapacityRule{}, fmt.Errorf("channels: capacity rule %q: N must be a positive integer", s)
	}
	r := CapacityRule{Pattern: pat, Capacity: c}
	return r, r.check()
}

func (r CapacityRule) check() error {
	if _, err := path.Match(r.Pattern, ""); err != nil {
		return fmt.Errorf("channels: capacity pattern %q: %w", r.Pattern, err)
	}
	if r.Capacity < 1 {
		return fmt.Errorf("channels: capacity of %q must be positive", r.Pattern)
	}
	return nil
}

func (r CapacityRule) match(name string) bool {
	ok, _ := path.Match(r.Pattern, name) // names hold no '/', so * spans everything
	return ok
}
