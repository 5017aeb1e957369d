package ssfilter

import (
	"errors"
	"strings"
	"testing"

	"github.com/sockstate/sockstate/inspect"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// FuzzParseFilter feeds Parse words (the input split at newlines). It
// must never panic and, on failure, return only an ErrSyntax error. On
// success String must parse back to an equal Filter, and the bytecode for
// each family must pass the kernel's audit and keep the sample sockets Match
// keeps.
func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{
		"", "sport = :80", "dport != :443", "sport < :1024 or sport > :49151", "dport le :1\ndport geq :2",
		"src 127.0.0.1", "dst 10.0.0.0/8:80", "src [::1]:22", "src [fe80::/10]", "dst fe80::/64:80",
		"src [::ffff:127.0.0.1/104]", "src *", "dst *:80", "src :22", "src any", "sport = *",
		"not ( sport = :80 || dport = :80 ) && src 127.0.0.0/8", "! dst [::1] | sport :22 dport 80",
		"( ( src 0.0.0.0/0 ) ) and not not src [::/0]", `\( sport = :8\0 \)`, "sport\n=\n:80",
		"( sport = :1", "sport = :", "src ::1", "src 127.0.0.1/33", "dev lo", "sport = :http", "src /run/*.sock", `dst unix:[a-\\]x\ y`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(strings.Split(s, "\n"))
		if err != nil {
			if !errors.Is(err, ErrSyntax) || flt != nil {
				t.Fatalf("Parse(%q) = %v, %v", s, flt, err)
			}
			return
		}
		again, err := Parse([]string{flt.String()})
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, flt, err)
		}
		if diff := cmp.Diff(flt, again, filterCmp); diff != "" {
			t.Fatalf("Parse(%q).String() = %q parses to another filter (-want +got):\n%s", s, flt, diff)
		}
		for _, fam := range []inspect.Family{inspect.INet, inspect.INet6} {
			if _, err := flt.Bytecode(fam); errors.Is(err, netlinkdiag.ErrProgramTooLong) {
				return
			}
		}
		checkBytecode(t, flt)
	})
}
