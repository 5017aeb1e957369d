package cli

import (
	"strings"
	"unicode/utf8"
)

// minWrapped is the fewest columns of text a wrapped line keeps after its
// indent: on a terminal narrower than that, lines are left to wrap.
const minWrapped = 20

// wrap returns prefix then text, and a newline, with text wrapped at its
// spaces so that no line is wider than width, each line after the first
// indented to where text starts. A word longer than a line is left whole.
// width 0 wraps nothing.
func wrap(prefix, text string, width int) string {
	var b strings.Builder
	b.WriteString(prefix)
	indent := columns(prefix)
	room := width - indent
	if width == 0 || room < minWrapped {
		b.WriteString(text)
		b.WriteByte('\n')
		return b.String()
	}
	n := 0 // columns of text on the current line
	for i, word := range strings.Fields(text) {
		w := utf8.RuneCountInString(word)
		switch {
		case i == 0:
		case n+1+w > room:
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", indent))
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += w
	}
	b.WriteByte('\n')
	return b.String()
}

// columns is how many columns s takes on a terminal: its runes, less the
// ANSI colour escapes (ESC [ ... m), which take none.
func columns(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == '\x1b' {
			if end := strings.IndexByte(s[i:], 'm'); end >= 0 {
				i += end + 1
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}
