package cli

import (
	"strings"

	"github.com/sockstate/sockstate/inspect"
)

// A command that destroys names its target explicitly or is refused: a
// blank word is no expression and an empty flag value is no value, so that
// `sockstate ls -K "$FILTER"` or `--netns "$NSPATH"` with an empty
// variable cannot widen what is touched to everything. The checks below
// are the only places that decide it.

// isBlank reports whether s holds nothing but white space: no token, as
// ss's lexer splits words.
func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// dropBlank returns words without its blank words, which hold no token of
// a state selection or an expression.
func dropBlank(words []string) []string {
	var out []string
	for _, w := range words {
		if !isBlank(w) {
			out = append(out, w)
		}
	}
	return out
}

// checkValue refuses an empty or blank value of the flag typed as flag
// (-N, --netns=) of command cmd.
func checkValue(cmd, flag, value string) error {
	if isBlank(value) {
		return usagef("%s: flag %s has an empty value; give one", cmd, flag)
	}
	return nil
}

// requireTarget refuses a destructive command (flag, such as -K) whose
// query names no sockets explicitly: no filter expression, and not the
// spelled-out --all (all) that says every socket listed is meant.
func requireTarget(cmd, flag string, q inspect.Query, all bool) error {
	if q.Filter == nil && !all {
		return usagef("%s: %s closes every socket listed; give a filter expression such as 'dport = :8080' to choose them, or --all to close them all", cmd, flag)
	}
	return nil
}
