package testnet

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// SSStates maps the state names ss prints to the kernel's.
var SSStates = map[string]string{
	"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
	"FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
	"UNCONN": "UNCONN", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
	"LISTEN": "LISTEN", "CLOSING": "CLOSING",
}

// SS runs ss inside ns with args (which must include -H and both -t and -u,
// so that the table has a netid column) and returns its sockets as sorted
// Want strings.
func (ns *NS) SS(t testing.TB, args ...string) []string {
	t.Helper()
	return ParseTable(t, ns.Run(t, "ss", args...), SSStates, Columns{})
}

// Columns names what a table leaves out, as ss does: the netid column when
// one protocol is listed, the state column when one state is.
type Columns struct {
	// Netid, when set, is the one netid of a table without the column.
	Netid string
	// State, when set, is the one state (kernel name) of a table without
	// the column.
	State string
}

// ParseTable reads a header-less ss-style table (netid, state, recv-q,
// send-q, local, peer, ...) without the columns cols names, mapping state
// names through states when it is not nil, and returns sorted Want strings.
func ParseTable(t testing.TB, text string, states map[string]string, cols Columns) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if cols.State != "" {
			f = append([]string{cols.State}, f...)
		}
		if cols.Netid != "" {
			f = append([]string{cols.Netid}, f...)
		}
		if len(f) < 6 {
			t.Fatalf("table line %q: too few fields", line)
		}
		state := f[1]
		if states != nil && cols.State == "" {
			var ok bool
			if state, ok = states[f[1]]; !ok {
				t.Fatalf("table line %q: unknown state %q", line, f[1])
			}
		}
		out = append(out, Want{f[0], state, tableAddr(t, f[4]), tableAddr(t, f[5])}.String())
	}
	slices.Sort(out)
	return out
}

// tableAddr parses an address column: 127.0.0.1:80, [::1]:80, with * for
// port 0, and ss's * for the IPv6 wildcard address (*:22 is [::]:22).
func tableAddr(t testing.TB, s string) netip.AddrPort {
	t.Helper()
	if strings.HasPrefix(s, "*:") {
		s = "[::]" + s[1:]
	}
	ap, err := netip.ParseAddrPort(strings.Replace(s, ":*", ":0", 1))
	if err != nil {
		t.Fatalf("table address %q: %v", s, err)
	}
	return ap
}

// Strings returns the sorted String forms of want.
func Strings(want []Want) []string {
	out := make([]string, 0, len(want))
	for _, w := range want {
		out = append(out, w.String())
	}
	slices.Sort(out)
	return out
}
