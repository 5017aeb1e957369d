package ssfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/sockstate/sockstate/inspect"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// filterCmp compares Filters by their syntax trees.
var filterCmp = cmp.Options{
	cmp.AllowUnexported(Filter{}, expr{}),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func portExpr(sd side, op cmpOp, port int32) *expr {
	return &expr{kind: exprPort, side: sd, op: op, port: port}
}

// hostExpr builds a src or dst condition; pfx "" is any address.
func hostExpr(sd side, pfx string, port int32) *expr {
	e := &expr{kind: exprHost, side: sd, port: port}
	if pfx != "" {
		e.pfx = netip.MustParsePrefix(pfx)
	}
	return e
}

func andExpr(x, y *expr) *expr { return &expr{kind: exprAnd, x: x, y: y} }
func orExpr(x, y *expr) *expr  { return &expr{kind: exprOr, x: x, y: y} }
func notExpr(x *expr) *expr    { return &expr{kind: exprNot, x: x} }

func TestParseFilter(t *testing.T) {
	sport80 := portExpr(local, opEq, 80)
	dport80 := portExpr(peer, opEq, 80)
	src1 := hostExpr(local, "127.0.0.1/32", anyPort)
	tests := []struct {
		name  string
		words []string
		want  *expr
		str   string // String(), when it differs from the single word
	}{
		{name: "empty", words: nil, want: nil},
		{name: "blank words", words: []string{"", " \t "}, want: nil},
		{name: "=", words: []string{"sport = :80"}, want: sport80},
		{name: "==", words: []string{"sport == :80"}, want: sport80, str: "sport = :80"},
		{name: "eq", words: []string{"sport eq :80"}, want: sport80, str: "sport = :80"},
		{name: "no operator", words: []string{"sport :80"}, want: sport80, str: "sport = :80"},
		{name: "no colon", words: []string{"sport 80"}, want: sport80, str: "sport = :80"},
		{name: "!=", words: []string{"dport != :80"}, want: portExpr(peer, opNe, 80)},
		{name: "ne", words: []string{"dport ne :80"}, want: portExpr(peer, opNe, 80), str: "dport != :80"},
		{name: "neq", words: []string{"dport neq :80"}, want: portExpr(peer, opNe, 80), str: "dport != :80"},
		{name: "<", words: []string{"sport < :1024"}, want: portExpr(local, opLt, 1024)},
		{name: "lt", words: []string{"sport lt :1024"}, want: portExpr(local, opLt, 1024), str: "sport < :1024"},
		{name: ">", words: []string{"sport > :1024"}, want: portExpr(local, opGt, 1024)},
		{name: "gt", words: []string{"sport gt :1024"}, want: portExpr(local, opGt, 1024), str: "sport > :1024"},
		{name: "<=", words: []string{"sport <= :0"}, want: portExpr(local, opLe, 0)},
		{name: "le", words: []string{"sport le :0"}, want: portExpr(local, opLe, 0), str: "sport <= :0"},
		{name: "leq", words: []string{"sport leq :0"}, want: portExpr(local, opLe, 0), str: "sport <= :0"},
		{name: ">=", words: []string{"dport >= :65535"}, want: portExpr(peer, opGe, 65535)},
		{name: "ge", words: []string{"dport ge :65535"}, want: portExpr(peer, opGe, 65535), str: "dport >= :65535"},
		{name: "geq", words: []string{"dport geq :65535"}, want: portExpr(peer, opGe, 65535), str: "dport >= :65535"},
		{name: "port *", words: []string{"sport = *"}, want: portExpr(local, opEq, anyPort)},
		{name: "port :*", words: []string{"sport != :*"}, want: portExpr(local, opNe, anyPort), str: "sport != *"},

		{name: "src v4", words: []string{"src 127.0.0.1"}, want: src1},
		{name: "src = v4", words: []string{"src = 127.0.0.1"}, want: src1, str: "src 127.0.0.1"},
		{name: "src == v4/32", words: []string{"src == 127.0.0.1/32"}, want: src1, str: "src 127.0.0.1"},
		{name: "src eq v4", words: []string{"src eq 127.0.0.1"}, want: src1, str: "src 127.0.0.1"},
		{name: "dst v4 prefix keeps host bits", words: []string{"dst 10.1.2.3/8"}, want: hostExpr(peer, "10.1.2.3/8", anyPort)},
		{name: "v4:port", words: []string{"dst 10.0.0.1:443"}, want: hostExpr(peer, "10.0.0.1/32", 443)},
		{name: "v4/len:port", words: []string{"dst 10.0.0.0/8:443"}, want: hostExpr(peer, "10.0.0.0/8", 443)},
		{name: "v4:*", words: []string{"dst 10.0.0.1:*"}, want: hostExpr(peer, "10.0.0.1/32", anyPort), str: "dst 10.0.0.1"},
		{name: "v4/0", words: []string{"src 0.0.0.0/0"}, want: hostExpr(local, "0.0.0.0/0", anyPort)},
		{name: "v4 in brackets", words: []string{"src [10.0.0.1]:22"}, want: hostExpr(local, "10.0.0.1/32", 22), str: "src 10.0.0.1:22"},
		{name: "v6", words: []string{"src [::1]"}, want: hostExpr(local, "::1/128", anyPort)},
		{name: "v6:port", words: []string{"src [::1]:22"}, want: hostExpr(local, "::1/128", 22)},
		{name: "v6/len:port", words: []string{"src [fe80::/10]:22"}, want: hostExpr(local, "fe80::/10", 22)},
		{name: "v6/len unbracketed", words: []string{"src fe80::/10"}, want: hostExpr(local, "fe80::/10", anyPort), str: "src [fe80::/10]"},
		{name: "v6/len:port unbracketed", words: []string{"src fe80::/10:22"}, want: hostExpr(local, "fe80::/10", 22), str: "src [fe80::/10]:22"},
		{name: "v4-mapped", words: []string{"dst [::ffff:10.0.0.1]"}, want: hostExpr(peer, "::ffff:10.0.0.1/128", anyPort)},
		{name: "*", words: []string{"src *"}, want: hostExpr(local, "", anyPort)},
		{name: "*:port", words: []string{"src *:22"}, want: hostExpr(local, "", 22)},
		{name: "*:*", words: []string{"src *:*"}, want: hostExpr(local, "", anyPort), str: "src *"},
		{name: ":port", words: []string{"src :22"}, want: hostExpr(local, "", 22), str: "src *:22"},
		{name: "any", words: []string{"dst any"}, want: hostExpr(peer, "", anyPort), str: "dst *"},
		{name: "all:port", words: []string{"dst all:80"}, want: hostExpr(peer, "", 80), str: "dst *:80"},
		{name: "default", words: []string{"dst [default]"}, want: hostExpr(peer, "", anyPort), str: "dst *"},

		{name: "and", words: []string{"sport = :80 and dport = :80"}, want: andExpr(sport80, dport80)},
		{name: "&&", words: []string{"sport = :80 && dport = :80"}, want: andExpr(sport80, dport80), str: "sport = :80 and dport = :80"},
		{name: "&", words: []string{"sport = :80 & dport = :80"}, want: andExpr(sport80, dport80), str: "sport = :80 and dport = :80"},
		{name: "implicit and", words: []string{"sport = :80 dport = :80"}, want: andExpr(sport80, dport80), str: "sport = :80 and dport = :80"},
		{name: "or", words: []string{"sport = :80 or dport = :80"}, want: orExpr(sport80, dport80)},
		{name: "||", words: []string{"sport = :80 || dport = :80"}, want: orExpr(sport80, dport80), str: "sport = :80 or dport = :80"},
		{name: "|", words: []string{"sport = :80 | dport = :80"}, want: orExpr(sport80, dport80), str: "sport = :80 or dport = :80"},
		{name: "not", words: []string{"not sport = :80"}, want: notExpr(sport80)},
		{name: "!", words: []string{"! sport = :80"}, want: notExpr(sport80), str: "not sport = :80"},
		{name: "not not", words: []string{"not not sport = :80"}, want: notExpr(notExpr(sport80))},
		{name: "not takes one condition", words: []string{"not sport = :80 or dport = :80"}, want: orExpr(notExpr(sport80), dport80)},
		{name: "not ( )", words: []string{"not ( sport = :80 or dport = :80 )"}, want: notExpr(orExpr(sport80, dport80))},
		{name: "redundant parentheses", words: []string{"( ( sport = :80 ) )"}, want: sport80, str: "sport = :80"},
		{
			name:  "or and group from the left",
			words: []string{"sport = :80 or dport = :80 and src 127.0.0.1"},
			want:  andExpr(orExpr(sport80, dport80), src1),
			str:   "( sport = :80 or dport = :80 ) and src 127.0.0.1",
		},
		{
			name:  "and or group from the left",
			words: []string{"sport = :80 and dport = :80 or src 127.0.0.1"},
			want:  orExpr(andExpr(sport80, dport80), src1),
			str:   "( sport = :80 and dport = :80 ) or src 127.0.0.1",
		},
		{
			name:  "right operand in parentheses",
			words: []string{"sport = :80 and ( dport = :80 and src 127.0.0.1 )"},
			want:  andExpr(sport80, andExpr(dport80, src1)),
		},
		{
			name:  "chain",
			words: []string{"sport = :80 and dport = :80 and src 127.0.0.1"},
			want:  andExpr(andExpr(sport80, dport80), src1),
		},
		{
			name:  "one token per word",
			words: []string{"(", "sport", "=", ":80", "or", "dport", "=", ":80", ")", "and", "src", "127.0.0.1"},
			want:  andExpr(orExpr(sport80, dport80), src1),
			str:   "( sport = :80 or dport = :80 ) and src 127.0.0.1",
		},
		{
			name:  "tabs and mixed words",
			words: []string{"sport\t=\t:80", "or", "dport = :80\t"},
			want:  orExpr(sport80, dport80),
			str:   "sport = :80 or dport = :80",
		},
		{name: "backslash escapes", words: []string{`\( sport = :8\0 \)`}, want: sport80, str: "sport = :80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.words)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.words, err)
			}
			if diff := cmp.Diff(&Filter{root: tc.want}, f, filterCmp); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.words, diff)
			}
			want := tc.str
			if want == "" && len(tc.words) == 1 {
				want = tc.words[0]
			}
			if got := f.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			again, err := Parse([]string{f.String()})
			if err != nil {
				t.Fatalf("Parse(String() = %q): %v", f, err)
			}
			if diff := cmp.Diff(f, again, filterCmp); diff != "" {
				t.Errorf("String() = %q parses to another filter (-want +got):\n%s", f, diff)
			}
		})
	}
}

// TestParseFilterDepth parses filters as deep as maxFilterDepth allows and
// walks them every way.
func TestParseFilterDepth(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("not ", maxFilterDepth-1) + "sport = :1",
		strings.Repeat("( ", maxFilterDepth-1) + "sport = :1" + strings.Repeat(" )", maxFilterDepth-1),
		strings.Repeat("sport = :1 or ", maxFilterDepth-1) + "sport = :1",
	} {
		f, err := Parse([]string{s})
		if err != nil {
			t.Fatalf("%.40q...: %v", s, err)
		}
		if _, err := Parse([]string{f.String()}); err != nil {
			t.Errorf("%.40q...: String() does not parse: %v", s, err)
		}
		s0 := sampleSockets()[0]
		f.Match(&s0)
		if _, err := f.Bytecode(inspect.INet); err != nil && !errors.Is(err, netlinkdiag.ErrProgramTooLong) {
			t.Errorf("%.40q...: Bytecode: %v", s, err)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		name  string
		words []string
		want  string
	}{
		{"not a condition", []string{"foo"}, `filter: expected a condition, found "foo" at column 1`},
		{"state selection", []string{"state established"}, `filter: expected a condition, found "state" at column 1`},
		{"glued parenthesis", []string{"(sport = :22)"}, `filter: expected a condition, found "(sport" (parentheses must be separated by spaces) at column 1`},
		{"glued closing parenthesis", []string{"src 127.0.0.1)"}, `filter: bad address "127.0.0.1)" (parentheses must be separated by spaces) at column 5`},
		{"escaped space joins tokens", []string{`sport\ = :80`}, `filter: expected a condition, found "sport =" at column 1`},
		{"glued operator", []string{"sport=:22"}, `filter: expected a condition, found "sport=:22" at column 1`},
		{"uppercase keyword", []string{"SPORT = :22"}, `filter: expected a condition, found "SPORT" at column 1`},
		{"empty after and", []string{"sport = :80 and"}, `filter: expected a condition after "and", found end of input at column 16`},
		{"empty after &&", []string{"sport = :80", "&&"}, `filter: expected a condition after "&&", found end of input at column 15`},
		{"empty after or", []string{"sport = :80 or"}, `filter: expected a condition after "or", found end of input at column 15`},
		{"and and", []string{"sport = :80 and and dport = :1"}, `filter: expected a condition after "and", found "and" at column 17`},
		{"leading or", []string{"or sport = :80"}, `filter: expected a condition, found "or" at column 1`},
		{"empty after not", []string{"not"}, `filter: expected a condition after "not", found end of input at column 4`},
		{"unclosed", []string{"( sport = :80"}, `filter: "(" is not closed at column 1`},
		{"unclosed inner", []string{"( ( sport = :80 )"}, `filter: "(" is not closed at column 1`},
		{"unopened", []string{"sport = :80 )"}, `filter: ")" has no matching "(" at column 13`},
		{"empty parentheses", []string{"( )"}, `filter: expected a condition after "(", found ")" at column 3`},
		{"junk in parentheses", []string{"( sport = :80 = )"}, `filter: expected ")", "and", "or" or a condition, found "=" at column 15`},
		{"junk after condition", []string{"sport = :80 :443"}, `filter: expected "and", "or" or a condition, found ":443" at column 13`},
		{"no port", []string{"sport ="}, `filter: expected a port after "sport", found end of input at column 8`},
		{"keyword for port", []string{"dport = or"}, `filter: expected a port after "dport", found "or" at column 9`},
		{"colon only", []string{"sport = :"}, `filter: expected port after ':' at column 9`},
		{"unknown service", []string{"sport = :nosuchservice"}, `filter: unknown port "nosuchservice": not a number, nor a service in /etc/services at column 10`},
		{"unknown service no colon", []string{"dport nosuchservice"}, `filter: unknown port "nosuchservice": not a number, nor a service in /etc/services at column 7`},
		{"hex port", []string{"sport = :0x50"}, `filter: port "0x50" is not a number at column 10`},
		{"negative port", []string{"sport = :-1"}, `filter: port "-1" is not a number at column 10`},
		{"octal port", []string{"sport = :010"}, `filter: port "010" has a leading zero (ss reads it as octal) at column 10`},
		{"port too big", []string{"sport = :70000"}, `filter: port "70000" is out of range 0-65535 at column 10`},
		{"port way too big", []string{"sport = :99999999999999999999"}, `filter: port "99999999999999999999" is out of range 0-65535 at column 10`},
		{"address for sport", []string{"sport = 127.0.0.1:80"}, `filter: port "127.0.0.1:80" is not a number at column 9`},
		{"star after star", []string{"sport = *:80"}, `filter: port "*:80" is not a number at column 9`},
		{"star compared", []string{"sport > *"}, `filter: "*" cannot be compared with ">" at column 9`},
		{"star compared with colon", []string{"dport <= :*"}, `filter: ":*" cannot be compared with "<=" at column 10`},
		{"src with <", []string{"src < 127.0.0.1"}, `filter: src compares only with "=", not "<" at column 5`},
		{"dst with !=", []string{"dst != 127.0.0.1"}, `filter: dst compares only with "=", not "!=" at column 5`},
		{"no address", []string{"src"}, `filter: expected an address after "src", found end of input at column 4`},
		{"no address after =", []string{"dst ="}, `filter: expected an address after "dst", found end of input at column 6`},
		{"keyword for address", []string{"dst ( 127.0.0.1 )"}, `filter: expected an address after "dst", found "(" at column 5`},
		{"empty escaped word", []string{`sport \`}, `filter: expected a port after "sport", found "" at column 7`},
		{"bad v4", []string{"src 127.0.0.256"}, `filter: bad address "127.0.0.256" at column 5`},
		{"short v4", []string{"src 127.1"}, `filter: bad address "127.1" at column 5`},
		{"host name", []string{"dst localhost"}, `filter: bad address "localhost" (host names are not resolved) at column 5`},
		{"host name with port", []string{"dst example.org:80"}, `filter: bad address "example.org" at column 5`},
		{"zone", []string{"dst [fe80::1%lo]"}, `filter: bad address "fe80::1%lo" (zones are not supported) at column 6`},
		{"v4 prefix too long", []string{"src 127.0.0.1/33"}, `filter: bad prefix length "/33" for an IPv4 address at column 14`},
		{"v6 prefix too long", []string{"src [::1/129]"}, `filter: bad prefix length "/129" for an IPv6 address at column 9`},
		{"v6 prefix too long unbracketed", []string{"dst ::/129:80"}, `filter: bad prefix length "/129" for an IPv6 address at column 7`},
		{"prefix not a number", []string{"src 10.0.0.0/x"}, `filter: bad prefix length "/x" for an IPv4 address at column 13`},
		{"prefix empty", []string{"src 10.0.0.0/"}, `filter: bad prefix length "/" for an IPv4 address at column 13`},
		{"prefix leading zero", []string{"src 10.0.0.0/08"}, `filter: bad prefix length "/08" for an IPv4 address at column 13`},
		{"netmask prefix", []string{"src 10.0.0.0/255.0.0.0"}, `filter: bad prefix length "/255.0.0.0" for an IPv4 address at column 13`},
		{"unbracketed v6", []string{"src ::1"}, `filter: IPv6 address in "::1" needs brackets: [ADDR] or [ADDR]:PORT at column 5`},
		{"unbracketed v6 with port-like tail", []string{"dst 2001:db8::1:1"}, `filter: IPv6 address in "2001:db8::1:1" needs brackets: [ADDR] or [ADDR]:PORT at column 5`},
		{"missing ]", []string{"src [::1"}, `filter: missing ']' in "[::1" at column 5`},
		{"no colon after ]", []string{"src [::1]80"}, `filter: expected ':' after ']' at column 10`},
		{"empty port after ]", []string{"src [::1]:"}, `filter: expected port after ':' at column 10`},
		{"empty port after v4", []string{"src 127.0.0.1:"}, `filter: expected port after ':' at column 14`},
		{"empty brackets", []string{"src []"}, `filter: bad address "" at column 6`},
		{"no colon after *", []string{"src *80"}, `filter: expected ':' after '*' at column 6`},
		{"bad port after address", []string{"dst 127.0.0.1:nosuchservice"}, `filter: unknown port "nosuchservice": not a number, nor a service in /etc/services at column 15`},
		{"colon alone", []string{"src :"}, `filter: expected port after ':' at column 5`},
		{"dev", []string{"dev lo"}, `filter: "dev" conditions are not supported at column 1`},
		{"fwmark", []string{"sport = :1 and fwmark = 0x1"}, `filter: "fwmark" conditions are not supported at column 16`},
		{"autobound", []string{"not autobound"}, `filter: "autobound" conditions are not supported at column 5`},
		{"column counts words joined by spaces", []string{"sport", "=", ":80", "or", "dport", ">", ":x"}, `filter: unknown port "x": not a number, nor a service in /etc/services at column 25`},
		{"too many nots", []string{strings.Repeat("not ", maxFilterDepth+1) + "sport = :1"}, `filter: expression nested more than 10000 deep at column 40001`},
		{"too many parentheses", []string{strings.Repeat("( ", maxFilterDepth+1) + "sport = :1"}, `filter: expression nested more than 10000 deep at column 20001`},
		{"too long a chain", []string{strings.Repeat("sport = :1 or ", maxFilterDepth) + "sport = :1"}, `filter: expression nested more than 10000 deep at column 139998`},
		{"column after escapes", []string{`src 1\.2.3.4:ht\tx`}, `filter: unknown port "httx": not a number, nor a service in /etc/services at column 14`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.words)
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) = %v, %v; want an error wrapping ErrSyntax", tc.words, f, err)
			}
			if f != nil {
				t.Errorf("Parse(%q) returned a filter with its error: %q", tc.words, f)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", tc.words, got, tc.want)
			}
			var fe *SyntaxError
			if !errors.As(err, &fe) || fmt.Sprintf("filter: %s at column %d", fe.Reason, fe.Column) != tc.want {
				t.Errorf("error %v is not a *SyntaxError with its column", err)
			}
		})
	}
}

// benchFilter is a filter of the size people type, touching every kind of
// condition.
const benchFilter = "( sport = :22 or sport = :443 ) and not dst 10.0.0.0/8 and dport >= :1024 or src [::1]"

func TestFilterMatchAllocs(t *testing.T) {
	f, err := Parse([]string{benchFilter})
	if err != nil {
		t.Fatal(err)
	}
	socks := sampleSockets()
	if n := testing.AllocsPerRun(100, func() {
		for i := range socks {
			f.Match(&socks[i])
		}
	}); n != 0 {
		t.Errorf("Match allocates %v times per run, want 0", n)
	}
}

func BenchmarkFilterMatch(b *testing.B) {
	f, err := Parse([]string{benchFilter})
	if err != nil {
		b.Fatal(err)
	}
	socks := sampleSockets()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.Match(&socks[i%len(socks)])
		i++
	}
}
