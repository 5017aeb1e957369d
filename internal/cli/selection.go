package cli

import (
	"strings"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/ssfilter"
)

// selection is what the commands that select sockets share (ls, watch):
// the protocol and family flags, and the words after the flags, a state
// selection then a filter expression, as ss takes them.
type selection struct {
	tcp, udp, ipv4, ipv6 bool
}

// specs returns the flags -t -u -4 -6.
func (s *selection) specs() []flagSpec {
	return []flagSpec{
		{short: 't', long: "tcp", set: boolFlag(&s.tcp)},
		{short: 'u', long: "udp", set: boolFlag(&s.udp)},
		{short: '4', long: "ipv4", set: boolFlag(&s.ipv4)},
		{short: '6', long: "ipv6", set: boolFlag(&s.ipv6)},
	}
}

// query builds the Query of command cmd: the flags, then the state
// selection at the start of words, which replaces states (the command's
// default) when given, then a filter expression in the rest.
func (s *selection) query(cmd string, states inspect.StateSet, words []string) (inspect.Query, error) {
	q := inspect.Query{States: states}
	if s.udp {
		q.Protocols = append(q.Protocols, inspect.UDP)
	}
	if s.tcp {
		q.Protocols = append(q.Protocols, inspect.TCP)
	}
	if s.ipv4 {
		q.Families = append(q.Families, inspect.INet)
	}
	if s.ipv6 {
		q.Families = append(q.Families, inspect.INet6)
	}
	// Blank words hold no token: an expression of blanks is none.
	selected, given, rest, err := ssfilter.ParseStateSelection(dropBlank(words))
	if err != nil {
		return q, usagef("%s: %s", cmd, strings.TrimPrefix(err.Error(), "ssfilter: "))
	}
	if given {
		q.States = selected
	}
	if len(rest) > 0 {
		f, err := ssfilter.Parse(rest)
		if err != nil {
			return q, usagef("%s: %v", cmd, err)
		}
		q.Filter = f
	}
	return q, nil
}
