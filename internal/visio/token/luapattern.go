package token

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Jitsi's context.room.regex: when a token says "context": {"room": {"regex": true}}, the
// prosody token util (jitsi-meet resources/prosody-plugins/token/util.lib.lua, verify_room)
// does not compare the room claim with the room name but runs Lua's
// room_name:match(room_claim), and lets the person in when what that returns — the match, or
// its first capture when the pattern has captures — is the whole room name. The claim is a
// Lua pattern (Lua manual §6.4.1), not a POSIX or Perl regular expression.
//
// Lua patterns run by backtracking; socle translates them to Go's RE2 instead, which
// runs in time linear in the room name whatever the pattern, so that a token cannot make
// the server spin. The translation keeps Lua's meaning for the whole regular subset:
//
//	.  %a %c %d %g %l %p %s %u %w %x and their upper-case complements (ASCII, the C locale)
//	%<punctuation>  that character itself
//	[set] [^set]  with ranges a-z, %classes, and ] first taken literally
//	* + - ?  after a single character class (- is the lazy *): elsewhere, literal characters
//	^ first, $ last  anchors; elsewhere, literal characters
//	( )  captures (the first one is what Lua returns)
//
// Leftmost-first RE2 and Lua's backtracking choose the same match for these constructs:
// both try the leftmost start first, the longest expansion of a greedy item first and the
// shortest of a lazy one first. What RE2 cannot do, or what Lua itself refuses, is refused
// with ErrPattern rather than guessed at: back-references %1-%9, balanced matches %b,
// frontiers %f, position captures (), an unknown %letter, a malformed pattern (a lone %, an
// unclosed [ or (, an unopened )), a reversed range, characters outside ASCII (Lua matches
// bytes, RE2 characters), and patterns longer than maxPatternLen or with more than
// maxCaptures captures (Lua's own limit is 32).
//
// The pattern is used as written, not lowered: Lua's classes are case sensitive (%D is not
// %d), as jitsi-meet pull request #17803 corrected in verify_room. That pull request also
// bounds Jitsi's backtracking (token_regex_max_quantifiers, 3 by default;
// token_regex_room_max_length, 128): socle needs no quantifier limit, RE2 being linear,
// and its room names are at most 64 characters. Jitsi applies patterns only with
// enable_domain_verification (jitsi-meet issue #12398); socle applies them always.

// ErrPattern is wrapped by the refusal of a room pattern socle does not run.
var ErrPattern = errors.New("token: room pattern not supported")

const (
	maxPatternLen = 256
	maxCaptures   = 32
)

// luaClasses are Lua's %letter classes, as RE2's ASCII classes of the same C meaning.
var luaClasses = map[byte]string{
	'a': "alpha", 'c': "cntrl", 'd': "digit", 'g': "graph", 'l': "lower",
	'p': "punct", 's': "space", 'u': "upper", 'w': "alnum", 'x': "xdigit",
}

// luaClass is the RE2 class of %c inside a bracket expression ("[:alpha:]"), ok false when
// c is a letter that names no class.
func luaClass(c byte) (string, bool) {
	lower := c | 0x20
	name, ok := luaClasses[lower]
	if !ok {
		return "", false
	}
	if c != lower {
		return "[:^" + name + ":]", true
	}
	return "[:" + name + ":]", true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lit is c as an RE2 literal, usable inside and outside brackets.
func lit(c byte) string { return fmt.Sprintf(`\x{%x}`, c) }

// compileLuaPattern translates a Lua pattern to an RE2 regular expression with the same
// matches, or refuses it with ErrPattern.
func compileLuaPattern(p string) (*regexp.Regexp, error) {
	if len(p) > maxPatternLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrPattern, maxPatternLen)
	}
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 {
			return nil, fmt.Errorf("%w: non-ASCII character at byte %d", ErrPattern, i)
		}
	}
	var re strings.Builder
	re.WriteString("(?s)") // Lua's . matches any byte, newlines included
	i := 0
	if strings.HasPrefix(p, "^") {
		re.WriteString(`\A`)
		i = 1
	}
	depth, captures := 0, 0
	for i < len(p) {
		c := p[i]
		switch {
		case c == '(':
			if i+1 < len(p) && p[i+1] == ')' {
				return nil, fmt.Errorf("%w: position capture () at byte %d", ErrPattern, i)
			}
			if captures++; captures > maxCaptures {
				return nil, fmt.Errorf("%w: more than %d captures", ErrPattern, maxCaptures)
			}
			depth++
			re.WriteByte('(')
			i++
			continue
		case c == ')':
			if depth == 0 {
				return nil, fmt.Errorf("%w: ) at byte %d closes no capture", ErrPattern, i)
			}
			depth--
			re.WriteByte(')')
			i++
			continue
		case c == '$' && i == len(p)-1:
			re.WriteString(`\z`)
			i++
			continue
		}
		// A single character class, then perhaps a quantifier.
		class, next, err := singleClass(p, i)
		if err != nil {
			return nil, err
		}
		re.WriteString(class)
		i = next
		if i < len(p) {
			switch p[i] {
			case '*', '+', '?':
				re.WriteByte(p[i])
				i++
			case '-':
				re.WriteString("*?")
				i++
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%w: unfinished capture", ErrPattern)
	}
	r, err := regexp.Compile(re.String())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPattern, err)
	}
	return r, nil
}

// singleClass translates the single character class at p[i:], returning it and where the
// pattern goes on.
func singleClass(p string, i int) (string, int, error) {
	switch c := p[i]; c {
	case '.':
		return ".", i + 1, nil
	case '%':
		if i+1 >= len(p) {
			return "", 0, fmt.Errorf("%w: malformed pattern (ends with %%)", ErrPattern)
		}
		e := p[i+1]
		switch {
		case e >= '0' && e <= '9':
			return "", 0, fmt.Errorf("%w: back-reference %%%c (not a regular language)", ErrPattern, e)
		case e == 'b':
			return "", 0, fmt.Errorf("%w: balanced match %%b (not a regular language)", ErrPattern)
		case e == 'f':
			return "", 0, fmt.Errorf("%w: frontier %%f", ErrPattern)
		case isAlnum(e):
			cl, ok := luaClass(e)
			if !ok {
				return "", 0, fmt.Errorf("%w: unknown class %%%c", ErrPattern, e)
			}
			return "[" + cl + "]", i + 2, nil
		}
		return lit(e), i + 2, nil
	case '[':
		return bracket(p, i)
	default:
		return lit(c), i + 1, nil
	}
}

// bracket translates the set [...] starting at p[i].
func bracket(p string, i int) (string, int, error) {
	start := i
	i++
	var b strings.Builder
	b.WriteByte('[')
	if i < len(p) && p[i] == '^' {
		b.WriteByte('^')
		i++
	}
	first := true
	for {
		if i >= len(p) {
			return "", 0, fmt.Errorf("%w: malformed pattern (missing ] for [ at byte %d)", ErrPattern, start)
		}
		c := p[i]
		// As in Lua, a ] right after [ or [^ is a member, not the end.
		if c == ']' && !first {
			i++
			break
		}
		first = false
		switch {
		case c == '%':
			if i+1 >= len(p) {
				return "", 0, fmt.Errorf("%w: malformed pattern (ends with %%)", ErrPattern)
			}
			e := p[i+1]
			if isAlnum(e) {
				cl, ok := luaClass(e)
				if !ok {
					return "", 0, fmt.Errorf("%w: unknown class %%%c in a set", ErrPattern, e)
				}
				b.WriteString(cl)
			} else {
				b.WriteString(lit(e))
			}
			i += 2
		case i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']':
			// A range: Lua takes x-y when a character other than the closing ] follows the -.
			lo, hi := c, p[i+2]
			if lo > hi {
				return "", 0, fmt.Errorf("%w: reversed range %c-%c", ErrPattern, lo, hi)
			}
			b.WriteString(lit(lo) + "-" + lit(hi))
			i += 3
		default:
			b.WriteString(lit(c))
			i++
		}
	}
	b.WriteByte(']')
	return b.String(), i, nil
}

// matchRoomPattern tells whether the Lua pattern lets a person into room, as Jitsi's
// verify_room does: what room:match(pattern) returns must be the whole room name.
func matchRoomPattern(pattern, room string) (bool, error) {
	re, err := compileLuaPattern(pattern)
	if err != nil {
		return false, err
	}
	m := re.FindStringSubmatchIndex(room)
	if m == nil {
		return false, nil
	}
	got := room[m[0]:m[1]]
	if re.NumSubexp() > 0 {
		got = room[m[2]:m[3]]
	}
	return strings.EqualFold(got, room), nil
}
