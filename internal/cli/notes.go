package cli

import (
	"io"
	"strings"
)

// noteWriter wraps at words, to a terminal's width, the notes a command
// writes to stderr as it runs (the source it chose, what it cannot see),
// each line after the first indented to after the note's first ": ", as
// in "sockstate: ". A line not yet ended is written as it comes. The error
// that ends a command is written by Run, one line, not through it.
type noteWriter struct {
	w     io.Writer
	width int
}

// wrapNotes returns w, wrapped at its terminal's width when it has one.
func wrapNotes(w io.Writer) io.Writer {
	width := terminalWidth(w)
	if width == 0 {
		return w
	}
	return &noteWriter{w: w, width: width}
}

func (n *noteWriter) Write(p []byte) (int, error) {
	var b strings.Builder
	for line := range strings.Lines(string(p)) {
		text, ended := strings.CutSuffix(line, "\n")
		if !ended {
			b.WriteString(line)
			continue
		}
		prefix := ""
		if i := strings.Index(text, ": "); i >= 0 && i+2 <= n.width/2 {
			prefix, text = text[:i+2], text[i+2:]
		}
		b.WriteString(wrap(prefix, text, n.width))
	}
	if _, err := io.WriteString(n.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}
