package cli

import (
	"strings"
)

// manPage returns sockstate(1) in roff, made from the help texts the
// commands print, so the two say the same; TestManPage holds the
// repository's sockstate.1 to it.
func manPage() string {
	var b strings.Builder
	b.WriteString(".\\\" sockstate.1, written by TestManPage -update from the help texts; do not edit.\n")
	b.WriteString(".TH SOCKSTATE 1 \"\" \"sockstate\" \"User Commands\"\n")
	b.WriteString(".SH NAME\nsockstate \\- show what the kernel thinks of every socket, like ss\n")
	b.WriteString(".SH SYNOPSIS\n")
	synopsis, blocks := parseHelp(usage)
	b.WriteString(".B sockstate\n" + roffText(strings.TrimPrefix(synopsis, "sockstate ")) + "\n")
	b.WriteString(".SH DESCRIPTION\n")
	writeBlocks(&b, blocks)
	for _, c := range commands {
		synopsis, blocks := parseHelp(c.usage)
		b.WriteString(".SH \"" + strings.ToUpper(c.name) + "\"\n")
		b.WriteString(".B " + roffText(synopsis) + "\n.PP\n")
		writeBlocks(&b, blocks)
	}
	b.WriteString(".SH \"SEE ALSO\"\n.BR ss (8),\n.BR netstat (8),\n.BR sock_diag (7),\n.BR proc (5)\n")
	return b.String()
}

// writeBlocks writes help blocks: prose as paragraphs, kept line for
// line (the help texts are laid out by hand), flags as tagged paragraphs.
func writeBlocks(b *strings.Builder, blocks []helpBlock) {
	for i, blk := range blocks {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		if blk.flags == nil {
			b.WriteString(".nf\n")
			for _, line := range blk.prose {
				b.WriteString(roffLine(line) + "\n")
			}
			b.WriteString(".fi\n")
			continue
		}
		for _, f := range blk.flags {
			tag := "\\-\\-" + roffText(f.long)
			if f.short != "" {
				tag = "\\-" + roffText(f.short) + ", " + tag
			}
			if f.value != "" {
				tag += " \\fI" + roffText(f.value) + "\\fR"
			}
			b.WriteString(".TP\n.B " + tag + "\n")
			b.WriteString(roffLine(strings.Join(f.desc, " ")) + "\n")
		}
	}
}

// roffText escapes text for roff: backslashes, and hyphens that are
// minus signs in options.
func roffText(s string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
}

// roffLine escapes a line of text, guarding a leading . or ' that roff
// would take for a request.
func roffLine(s string) string {
	s = roffText(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
