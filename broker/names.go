package broker

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Names that look alike are one name: the broker compares names by a key
// made of the name with surrounding white space trimmed, in Unicode NFKC
// with case folding (NFKC_Casefold, as Unicode's identifier guidance
// advises). "dup", "DUP", "dup " and "ｄup" (fullwidth) all have the key
// "dup": once one of them is registered the others are taken, and a
// direct_message to any of them reaches its holder. Clients still see the
// name as it was registered. Invisible characters (format characters such
// as U+200B ZERO WIDTH SPACE, controls, line and paragraph separators)
// are refused outright, since no normalisation removes them.

// nameKey is the key two names that look alike share.
func nameKey(name string) string {
	// The common case, lower-case ASCII without surrounding spaces, is
	// its own key: no allocation on the message path.
	simple := len(name) > 0 && name[0] != ' ' && name[len(name)-1] != ' '
	for i := 0; i < len(name) && simple; i++ {
		c := name[i]
		simple = c < utf8.RuneSelf && (c < 'A' || c > 'Z')
	}
	if simple {
		return name
	}
	k := strings.TrimSpace(name)
	// A Caser keeps state: one per call (they are cheap), not a shared one.
	k = norm.NFKC.String(cases.Fold().String(norm.NFKC.String(k)))
	return strings.TrimSpace(k) // NFKC may have turned a wide space into a space
}

// checkName vets a client or broker name.
func checkName(name string) error {
	if len(name) > maxNameLen {
		return fmt.Errorf("name too long (%d bytes, at most %d)", len(name), maxNameLen)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return fmt.Errorf("name %q contains a control or invalid character", name)
		}
		if r >= utf8.RuneSelf && (unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Cc, r) || unicode.In(r, unicode.Zl, unicode.Zp)) {
			return fmt.Errorf("name %q contains an invisible character (%U)", name, r)
		}
	}
	if nameKey(name) == "" {
		return fmt.Errorf("name %q is blank", name)
	}
	return nil
}
