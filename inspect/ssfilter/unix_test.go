package ssfilter

import (
	"testing"

	"github.com/sockstate/sockstate/inspect"
)

func TestFnmatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"/run/*.sock", "/run/docker.sock", true},
		{"/run/*.sock", "/run/user/1000/bus.sock", true}, // * matches / with no flags
		{"/run/*.sock", "/run/docker.socket", false},
		{"/run/?.sock", "/run/a.sock", true},
		{"/run/?.sock", "/run/ab.sock", false},
		{"/run/[a-c]x", "/run/bx", true},
		{"/run/[!a-c]x", "/run/bx", false},
		{"/run/[^a-c]x", "/run/dx", true},
		{"/run/[]]x", "/run/]x", true},
		{"/run/[x", "/run/[x", true}, // no closing ]: literal
		{`/run/\*`, "/run/*", true},
		{`/run/\*`, "/run/a", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"@*", "@abstract", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"**", "anything", true},
	} {
		if got := fnmatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestUnixConditions(t *testing.T) {
	path := inspect.Socket{Family: inspect.Unix, Unix: &inspect.UnixEnd{Name: "/run/x.sock", PeerInode: 5}}
	abstract := inspect.Socket{Family: inspect.Unix, Unix: &inspect.UnixEnd{Name: "bus\x00one", Abstract: true}}
	unbound := inspect.Socket{Family: inspect.Unix, Unix: &inspect.UnixEnd{}}
	tcp := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet}
	for _, tt := range []struct {
		expr      string
		canonical string
		want      [4]bool // path, abstract, unbound, tcp
	}{
		{"src /run/*.sock", "src unix:/run/*.sock", [4]bool{true, false, false, false}},
		{"src unix:*", "src unix:*", [4]bool{true, true, true, false}},
		{"src @bus@*", "src unix:@bus@*", [4]bool{false, true, false, false}},
		{"dst unix:*", "dst unix:*", [4]bool{true, true, true, false}},
		{"dst /run/*", "dst unix:/run/*", [4]bool{false, false, false, false}},
		{`src unix:/a\ b`, `src unix:/a\ b`, [4]bool{false, false, false, false}},
		{"not src /run/* or sport = :22", "not src unix:/run/* or sport = :22", [4]bool{false, true, true, true}},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := Parse([]string{tt.expr})
			if err != nil {
				t.Fatal(err)
			}
			if f.String() != tt.canonical {
				t.Errorf("String() = %q, want %q", f.String(), tt.canonical)
			}
			for i, s := range []*inspect.Socket{&path, &abstract, &unbound, &tcp} {
				if got := f.Match(s); got != tt.want[i] {
					t.Errorf("socket %d: Match = %v, want %v", i, got, tt.want[i])
				}
			}
			// A unix condition holds for no IP socket: the kernel's
			// program for TCP folds it away.
			if _, err := f.Bytecode(inspect.INet); err != nil {
				t.Errorf("Bytecode: %v", err)
			}
		})
	}
}
