package ssfilter

import (
	"io"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sockstate/sockstate/inspect"
)

// openTableSockets opens the sockets TestFilterKernelTable filters and returns
// how many there are: listeners on 127.0.0.1, 127.0.0.2, ::1 and the
// dual-stack ::, connections between them (an IPv4 client of the dual-stack
// listener makes an IPv6 socket with IPv4-mapped addresses), and one socket
// each in FIN-WAIT-2, CLOSE-WAIT and TIME-WAIT, and the listener the
// TIME-WAIT socket came from.
func openTableSockets(t *testing.T, ns *filterNS) (int, *net.TCPListener) {
	so := ns.sockets(t)
	l80 := so.listen("127.0.0.1:80")
	l443 := so.listen("127.0.0.2:443")
	l8080 := so.listen("[::1]:8080")
	l22 := so.listen("[::]:22")
	l1024 := so.listen("127.0.0.1:1024")
	so.connect(l80, "127.0.0.1:40001", "127.0.0.1:80")
	so.connect(l443, "127.0.0.2:40002", "127.0.0.2:443")
	so.connect(l443, "127.0.0.3:1025", "127.0.0.2:443")
	so.connect(l8080, "[::1]:40003", "[::1]:8080")
	so.connect(l8080, "[::1]:65535", "[::1]:8080")
	so.connect(l22, "127.0.0.1:40004", "127.0.0.1:22")
	so.connect(l22, "[::1]:1023", "[::1]:22")
	// FIN-WAIT-2 and CLOSE-WAIT: the client shuts its side only.
	c, _ := so.connect(l1024, "127.0.0.2:40006", "127.0.0.1:1024")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	so.timeWait(l80)
	return 5 + 2*8 + 1, l80
}

// timeWait leaves 127.0.0.1:40007 -> 127.0.0.1:80 in TIME-WAIT: the client
// closes first, the server once it has read the client's FIN (closing both
// at once would leave both in TIME-WAIT).
func (so *sockets) timeWait(l80 *net.TCPListener) {
	c, s := so.connect(l80, "127.0.0.1:40007", "127.0.0.1:80")
	c.Close()
	if _, err := io.Copy(io.Discard, s); err != nil {
		so.t.Fatal(err)
	}
	s.Close()
}

// TestFilterKernelTable runs each expression three ways against real sockets
// in a namespace of its own and requires the same sockets from each: ss -Htan
// with the expression, a sock_diag dump filtered by the kernel running our
// bytecode, and Match over an unfiltered dump.
func TestFilterKernelTable(t *testing.T) {
	ns := newFilterNS(t)
	n, l80 := openTableSockets(t, ns)
	all := ns.settle(t, n)
	_, ssErr := exec.LookPath("ss")

	tests := []struct {
		name  string
		n     int // sockets kept, of 22
		words []string
		// ssDiffers, when set, says why ss(8) prints other sockets than
		// the kernel keeps; the test then requires that it does.
		ssDiffers string
	}{
		{name: "sport =", n: 2, words: []string{"sport", "=", ":80"}},
		{name: "sport ==", n: 2, words: []string{"sport", "==", ":80"}},
		{name: "sport eq", n: 2, words: []string{"sport", "eq", ":80"}},
		{name: "sport no operator", n: 2, words: []string{"sport", ":80"}},
		{name: "sport no colon", n: 2, words: []string{"sport", "=", "80"}},
		{name: "dport =", n: 2, words: []string{"dport = :80"}},
		{name: "dport = 0 is listeners", n: 5, words: []string{"dport = :0"}},
		{name: "sport !=", n: 20, words: []string{"sport != :80"}},
		{name: "sport ne", n: 20, words: []string{"sport ne :80"}},
		{name: "sport neq", n: 20, words: []string{"sport neq :80"}},
		{name: "sport <", n: 9, words: []string{"sport < :1024"}},
		{name: "sport lt", n: 9, words: []string{"sport lt :1024"}},
		{name: "sport >", n: 11, words: []string{"sport > :1024"}},
		{name: "sport gt", n: 11, words: []string{"sport gt :1024"}},
		{name: "sport <=", n: 11, words: []string{"sport <= :1024"}},
		{name: "sport le", n: 11, words: []string{"sport le :1024"}},
		{name: "sport leq", n: 11, words: []string{"sport leq :1024"}},
		{name: "sport >=", n: 13, words: []string{"sport >= :1024"}},
		{name: "sport ge", n: 13, words: []string{"sport ge :1024"}},
		{name: "sport geq", n: 13, words: []string{"sport geq :1024"}},
		{name: "dport >=", n: 6, words: []string{"dport >= :40000"}},
		{name: "dport <", n: 12, words: []string{"dport < :1024"}},
		{name: "dport > 65534", n: 1, words: []string{"dport > :65534"}},
		{name: "sport >= 65535", n: 1, words: []string{"sport >= :65535"}},
		{name: "sport > 65535 keeps none", n: 0, words: []string{"sport > :65535"}},
		{name: "sport < 0 keeps none", n: 0, words: []string{"sport < :0"}},
		{name: "sport <= 65535 keeps all", n: 22, words: []string{"sport <= :65535"}},
		{name: "sport = * keeps all", n: 22, words: []string{"sport = *"}},
		{name: "sport != * keeps none", n: 0, words: []string{"sport != *"}},
		{name: "dport = :*", n: 22, words: []string{"dport = :*"}},

		{name: "src v4", n: 8, words: []string{"src 127.0.0.1"}},
		{name: "src = v4", n: 8, words: []string{"src = 127.0.0.1"}},
		{name: "src == v4/32", n: 8, words: []string{"src == 127.0.0.1/32"}},
		{name: "src eq v4/31", n: 6, words: []string{"src eq 127.0.0.2/31"}},
		{name: "src v4/8", n: 14, words: []string{"src 127.0.0.0/8"}},
		{name: "src v4/8 host bits set", n: 14, words: []string{"src 127.1.2.3/8"}},
		{name: "src v4/0", n: 14, words: []string{"src 0.0.0.0/0"}},
		{name: "dst v4", n: 4, words: []string{"dst 127.0.0.2"}},
		{name: "src v4:port", n: 2, words: []string{"src 127.0.0.1:80"}},
		{name: "src v4/8:port", n: 1, words: []string{"src 127.0.0.0/8:22"}},
		{name: "dst v4:*", n: 6, words: []string{"dst 127.0.0.1:*"}},
		{name: "src v6", n: 7, words: []string{"src [::1]"}},
		{name: "src v6:port", n: 3, words: []string{"src [::1]:8080"}},
		{name: "dst v6/128:port", n: 2, words: []string{"dst [::1/128]:8080"}},
		{name: "src v6/128 unbracketed", n: 7, words: []string{"src ::1/128"}},
		{name: "src v6/0", n: 9, words: []string{"src ::/0"}},
		{name: "src [v6/0]", n: 9, words: []string{"src [::/0]"}},
		{name: "src v6 wildcard", n: 1, words: []string{"src [::]"}},
		{name: "src v4-mapped", n: 1, words: []string{"src [::ffff:127.0.0.1]"}},
		{name: "dst v4-mapped/104", n: 1, words: []string{"dst [::ffff:127.0.0.0/104]"}},
		{name: "src v4-mapped/96", n: 1, words: []string{"src [::ffff:0:0/96]"}},
		{name: "src v4 in brackets", n: 3, words: []string{"src [127.0.0.2]:443"}},
		{name: "src *", n: 22, words: []string{"src *"}},
		{name: "src *:port", n: 3, words: []string{"src *:22"}},
		{name: "src :port", n: 3, words: []string{"src :22"}},
		{name: "dst *:*", n: 22, words: []string{"dst *:*"}},
		{name: "src any", n: 22, words: []string{"src any"}},
		{name: "dst default:port", n: 2, words: []string{"dst default:80"}},

		{name: "or", n: 5, words: []string{"sport = :80 or sport = :443"}},
		{name: "||", n: 4, words: []string{"sport = :80 || dport = :80"}},
		{name: "|", n: 4, words: []string{"sport = :80 | dport = :80"}},
		{name: "and", n: 2, words: []string{"src 127.0.0.1 and dport = :80"}},
		{name: "&&", n: 6, words: []string{"src 127.0.0.0/8 && dport >= :1024"}},
		{name: "&", n: 2, words: []string{"dst [::1] & sport = :8080"}},
		{name: "implicit and", n: 2, words: []string{"src 127.0.0.1 dport = :80"}},
		{name: "not", n: 19, words: []string{"not sport = :22"}},
		{name: "!", n: 19, words: []string{"! sport = :22"}},
		{name: "not not", n: 2, words: []string{"not not sport = :80"}},
		{name: "not binds to one condition", n: 20, words: []string{"not sport = :80 or dport = :80"}},
		{name: "not parenthesised", n: 18, words: []string{"not", "(", "sport", "=", ":80", "or", "dport", "=", ":80", ")"}},
		{name: "or then and groups from the left", n: 1, words: []string{"sport = :80 or sport = :443 and dst 127.0.0.2"}},
		{name: "and then or groups from the left", n: 3, words: []string{"dst 127.0.0.2 and sport = :443 or sport = :80"}},
		{name: "parentheses regroup", n: 3, words: []string{"sport = :80 or ( sport = :443 and dst 127.0.0.2 )"}},
		{name: "nested", n: 13, words: []string{"( src 127.0.0.0/8 or src [::1] ) and not ( dport = :0 or ( sport >= :40000 and dport < :1024 ) )"}},
		{name: "mixed families", n: 12, words: []string{"( src [::1] or dst 127.0.0.1 ) and ! dst [::ffff:127.0.0.1]"}},
		{name: "words split anywhere", n: 5, words: []string{"sport", "=", ":80 or", "dport = :443", "or ( src [::1]:1023 )"}},
		{name: "port ranges", n: 5, words: []string{"sport >= :1000 sport <= :1100 or dport > :40003 dport < :40007"}},
		{name: "not v4 prefix", n: 16, words: []string{"not src 127.0.0.2/31"}},
		{name: "not v6 prefix", n: 16, words: []string{"not dst [::1]"}},
		{name: "not mapped prefix", n: 21, words: []string{"not src [::ffff:127.0.0.0/104]"}},

		{
			name: "not v4 prefix with leading zero bits",
			n:    22,
			// ss re-checks every socket the kernel returns with its own
			// comparison (run_ssfilter), which compares an IPv4 prefix
			// with the first bits of an IPv6 address: 0.0.0.0/8 "matches"
			// ::1, so ss drops ::1 sockets from both "src 0.0.0.0/8" (the
			// kernel's verdict) and its negation (its own).
			words:     []string{"not src 0.0.0.0/8"},
			ssDiffers: "ss's userspace re-check compares IPv4 prefixes with IPv6 addresses bit for bit",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The TIME-WAIT socket lives 60 s (TCP_TIMEWAIT_LEN), and
			// on a loaded machine the table takes longer: once the
			// kernel has dropped it, it is made again, and the sockets
			// are listed afresh for Match.
			if !slices.ContainsFunc(ns.dumpAll(t, nil), func(s inspect.Socket) bool { return s.State == inspect.TimeWait }) {
				ns.sockets(t).timeWait(l80)
				all = ns.settle(t, n)
			}
			f, err := Parse(tc.words)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.words, err)
			}
			kernel := tupleSet(ns.dumpAll(t, f))
			match := tupleSet(matching(f, all))
			if len(kernel) != tc.n {
				t.Errorf("%q: the kernel kept %d sockets, want %d: %v", f, len(kernel), tc.n, kernel)
			}
			if diff := cmp.Diff(kernel, match); diff != "" {
				t.Errorf("%q: kernel (-) and Match (+) keep different sockets:\n%s", f, diff)
			}
			if ssErr != nil {
				t.Skipf("no ss(8) to compare with: %v", ssErr)
			}
			runs := [][]string{tc.words}
			if f.String() != strings.Join(tc.words, " ") {
				runs = append(runs, []string{f.String()}) // ss accepts the canonical form too
			}
			for _, words := range runs {
				ss := ns.ss(t, words)
				diff := cmp.Diff(ss, kernel, cmpopts.EquateEmpty())
				switch {
				case tc.ssDiffers == "" && diff != "":
					t.Errorf("ss %q (-) and the kernel running our bytecode (+) keep different sockets:\n%s", strings.Join(words, " "), diff)
				case tc.ssDiffers != "" && diff == "":
					t.Errorf("ss %q keeps the kernel's sockets, though %s", strings.Join(words, " "), tc.ssDiffers)
				}
			}
		})
	}
}
