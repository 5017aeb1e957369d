package ssfilter

import (
	"strings"

	"github.com/sockstate/sockstate/inspect"
)

// unixPattern returns the pattern of a host operand that names unix
// sockets: unix:PATTERN, or a pattern starting with / or @, which no
// address does.
func unixPattern(text string) (string, bool) {
	if p, ok := strings.CutPrefix(text, "unix:"); ok {
		return p, true
	}
	if text[0] == '/' || text[0] == '@' {
		return text, true
	}
	return "", false
}

// matchUnix reports whether the unix condition e holds for s: the name of
// its end e.side matches e.pattern. ss knows no peer's name from
// sock_diag, so a peer's name is empty.
func matchUnix(e *expr, s *inspect.Socket) bool {
	if s.Unix == nil {
		return false
	}
	name := ""
	if e.side == local {
		name = unixName(s.Unix)
	}
	return fnmatch(e.pattern, name)
}

// unixName is a unix socket's name as ss prints and matches it: its path,
// or @ and its abstract name with each NUL as @; empty when unbound.
func unixName(u *inspect.UnixEnd) string {
	if !u.Abstract {
		return u.Name
	}
	return "@" + strings.ReplaceAll(u.Name, "\x00", "@")
}

// fnmatch reports whether name matches the shell pattern as fnmatch(3)
// with no flags does: * matches any run of bytes, / included, ? any one
// byte, [...] one of a set (ranges a-z, ! or ^ first for its
// complement), and a backslash makes the next byte literal. A [ with no
// closing ] is literal.
func fnmatch(pattern, name string) bool {
	// The last * seen and the name's position when it was: on a
	// mismatch, the * takes one more byte. This backtracks one level,
	// which is all * needs.
	starP, starN := -1, 0
	p, n := 0, 0
	for n < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starN = p, n
				p++
				continue
			case '?':
				p++
				n++
				continue
			case '[':
				if ok, next, valid := matchClass(pattern, p, name[n]); valid {
					if ok {
						p, n = next, n+1
						continue
					}
					break
				}
				if name[n] == '[' {
					p++
					n++
					continue
				}
			case '\\':
				if p+1 < len(pattern) && pattern[p+1] == name[n] {
					p += 2
					n++
					continue
				}
				if p+1 == len(pattern) && name[n] == '\\' {
					p++
					n++
					continue
				}
			default:
				if c == name[n] {
					p++
					n++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starN++
		p, n = starP+1, starN
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the bracket expression at pattern[p]
// ('['). It reports whether c is in the set, where the expression ends,
// and whether it is one (has its closing ]).
func matchClass(pattern string, p int, c byte) (ok bool, next int, valid bool) {
	i := p + 1
	negate := i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^')
	if negate {
		i++
	}
	first := true
	for i < len(pattern) && (first || pattern[i] != ']') {
		first = false
		lo := pattern[i]
		if lo == '\\' && i+1 < len(pattern) {
			i++
			lo = pattern[i]
		}
		hi := lo
		if i+2 < len(pattern) && pattern[i+1] == '-' && pattern[i+2] != ']' {
			hi = pattern[i+2]
			if hi == '\\' && i+3 < len(pattern) {
				i++
				hi = pattern[i+2]
			}
			i += 2
		}
		if lo <= c && c <= hi {
			ok = true
		}
		i++
	}
	if i >= len(pattern) {
		return false, 0, false
	}
	return ok != negate, i + 1, true
}

// escapeWord escapes the bytes the lexer would split or unescape at, so
// that the word reads back as it is.
func escapeWord(w string) string {
	if !strings.ContainsAny(w, " \t\\") {
		return w
	}
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if c := w[i]; c == ' ' || c == '\t' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	return b.String()
}
