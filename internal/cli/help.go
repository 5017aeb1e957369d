package cli

import (
	"regexp"
	"strings"
)

// command is a subcommand with its help text, the one source of its
// usage (-h), its man page section and its completion.
type command struct {
	name, summary, usage string
}

// commands are the subcommands that take flags, in the order the man
// page documents them.
var commands = []command{
	{"ls", "list sockets, like ss", lsUsage},
	{"watch", "print socket state changes as they happen", watchUsage},
	{"demo", "the textbook TCP server and client, their states seen from the kernel", demoUsage},
	{"serve", "serve socket states to Prometheus", serveUsage},
}

// helpFlag is one flag of a help text.
type helpFlag struct {
	short, long, value string
	desc               []string // the description's lines
}

// helpBlock is a run of a help text: a paragraph of prose, or a list of
// flags.
type helpBlock struct {
	prose []string
	flags []helpFlag
}

// flagLine matches a flag's first line in a help text:
// "  -t, --tcp          TCP sockets" or "      --source S     auto ...".
var flagLine = regexp.MustCompile(`^  (?:-([A-Za-z0-9]), |    )--([a-z0-9-]+)(?: ([A-Z][A-Za-z:]*))?  +(\S.*)$`)

// parseHelp splits a help text, after its usage line, into blocks. A
// line indented past a flag's first line continues its description.
func parseHelp(text string) (synopsis string, blocks []helpBlock) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	synopsis = strings.TrimPrefix(lines[0], "usage: ")
	var cur *helpBlock
	flush := func() {
		if cur != nil {
			blocks = append(blocks, *cur)
			cur = nil
		}
	}
	for _, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if m := flagLine.FindStringSubmatch(line); m != nil {
			if cur == nil || cur.flags == nil {
				flush()
				cur = &helpBlock{flags: []helpFlag{}}
			}
			cur.flags = append(cur.flags, helpFlag{short: m[1], long: m[2], value: m[3], desc: []string{m[4]}})
			continue
		}
		if cur != nil && cur.flags != nil && strings.HasPrefix(line, "      ") {
			f := &cur.flags[len(cur.flags)-1]
			f.desc = append(f.desc, strings.TrimSpace(line))
			continue
		}
		if cur != nil && cur.flags != nil {
			flush()
		}
		if cur == nil {
			cur = &helpBlock{}
		}
		cur.prose = append(cur.prose, line)
	}
	flush()
	return synopsis, blocks
}

// helpFlags returns every flag of a help text.
func helpFlags(text string) []helpFlag {
	_, blocks := parseHelp(text)
	var flags []helpFlag
	for _, b := range blocks {
		flags = append(flags, b.flags...)
	}
	return flags
}
