package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/sockstate/sockstate/inspect/ssfilter"
)

// filterWords returns the words ls parses as its state selection and
// filter when -F names a file (path, - for standard input): as ss does,
// the state selection stays on the command line (words) and the
// expression comes from the file, over any number of lines, # starting a
// comment. Without -F it returns words.
func filterWords(path string, words []string) ([]string, error) {
	if path == "" {
		return words, nil
	}
	// A mistake in the selection is reported when it is parsed.
	if _, _, rest, err := ssfilter.ParseStateSelection(words); err == nil && len(rest) > 0 {
		return nil, usagef("ls: -F %s gives the expression; give no expression on the command line as well (%q)", path, strings.Join(rest, " "))
	}
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("ls: -F: %v", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("ls: -F %s: %w", path, err)
	}
	var expr []string
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		expr = append(expr, strings.Fields(line)...)
	}
	if len(expr) > 0 && (expr[0] == "state" || expr[0] == "exclude" || expr[0] == "excl") {
		return nil, usagef("ls: -F %s: the file holds an expression; give %q on the command line, as ss takes it", path, expr[0]+" "+strings.Join(expr[1:min(2, len(expr))], ""))
	}
	return append(slices.Clone(words), expr...), nil
}
