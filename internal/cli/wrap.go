package cli

import (
	"strings"
	"unicode/utf8"
)

// minWrapped is the fewest columns of text a wrapped line keeps after its
// indent: on a terminal narrower than that, lines are left to wrap.
const minWrapped = 20

// wrap returns prefix then text, and a newline, with text wrapped at its
// spaces (wrapLines) so that no line is wider than width, each line after
// the first indented to where text starts. width 0 wraps nothing.
func wrap(prefix, text string, width int) string {
	indent := columns(prefix)
	room := width - indent
	if width == 0 || room < minWrapped {
		return prefix + text + "\n"
	}
	return prefix + strings.Join(wrapLines(text, room), "\n"+strings.Repeat(" ", indent)) + "\n"
}

// wrapLines breaks s at spaces into lines of at most width runes; a word
// longer than width is cut, so that no line is wider.
func wrapLines(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		for utf8.RuneCountInString(word) > width {
			if line != "" {
				lines, line = append(lines, line), ""
			}
			r := []rune(word)
			lines, word = append(lines, string(r[:width])), string(r[width:])
		}
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			lines, line = append(lines, line), word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
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
