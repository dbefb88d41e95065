package redislayer

import (
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxNameLength is channels' MAX_NAME_LENGTH: names are shorter than this,
// counted in characters.
const maxNameLength = 100

// The channels 4.0 name patterns. Python's \d and \w are Unicode-aware for
// str patterns, hence \p{Nd} and \p{L}\p{N}_. (Python's $ would also accept
// one trailing newline; we do not.)
var (
	channelNameRE = regexp.MustCompile(`^[a-zA-Z\p{Nd}\-_.]+(![\p{L}\p{N}_\-.]*)?$`)
	groupNameRE   = regexp.MustCompile(`^[a-zA-Z\p{Nd}\-_.]+$`)
)

func checkChannel(name string) error {
	if utf8.RuneCountInString(name) >= maxNameLength || !channelNameRE.MatchString(name) {
		return fmt.Errorf("%w: channel %q (want < %d characters: ASCII letters, digits, -, _, . and one optional ! part)",
			ErrInvalidName, name, maxNameLength)
	}
	return nil
}

func checkGroup(name string) error {
	if utf8.RuneCountInString(name) >= maxNameLength || !groupNameRE.MatchString(name) {
		return fmt.Errorf("%w: group %q (want < %d characters: ASCII letters, digits, -, _, .)",
			ErrInvalidName, name, maxNameLength)
	}
	return nil
}

// nonLocalName is the part of a process channel name up to and including
// the "!", which names the Redis key all of one layer's process channels
// with that prefix share; other names are returned whole.
func nonLocalName(name string) string {
	if i := strings.IndexByte(name, '!'); i >= 0 {
		return name[:i+1]
	}
	return name
}

// globRegexp turns a channel_capacity pattern into a regexp matching whole
// names, with Python's fnmatch.translate rules: * any run, ? one character,
// [seq] and [!seq] sets, an unclosed [ literal; case-sensitive.
func globRegexp(pat string) (*regexp.Regexp, error) {
	var sb strings.Builder
	sb.WriteString(`^(?s:`)
	rs := []rune(pat)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			sb.WriteString(`.*`)
		case '?':
			sb.WriteString(`.`)
		case '[':
			j := i + 1
			if j < len(rs) && rs[j] == '!' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				sb.WriteString(`\[`)
				continue
			}
			set := rs[i+1 : j]
			sb.WriteByte('[')
			if len(set) > 0 && set[0] == '!' {
				sb.WriteByte('^')
				set = set[1:]
			}
			for _, r := range set {
				if r == '\\' || r == '[' || r == ']' || r == '^' {
					sb.WriteByte('\\')
				}
				sb.WriteRune(r)
			}
			sb.WriteByte(']')
			i = j
		default:
			sb.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	sb.WriteString(`)$`)
	return regexp.Compile(sb.String())
}

// consistentHash is channels_redis's _consistent_hash: the low 12 bits of
// the CRC-32 of the UTF-8 name, scaled down to one of ringSize hosts.
func consistentHash(value string, ringSize int) int {
	if ringSize <= 1 {
		return 0
	}
	big := crc32.ChecksumIEEE([]byte(value)) & 0xfff
	return int(float64(big) / (4096 / float64(ringSize)))
}
