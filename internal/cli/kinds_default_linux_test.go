package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ssOnlyNetids are the netids ss lists with no kind flag that sockstate
// does not read: netlink, packet, vsock, tipc, xdp and sctp sockets.
var ssOnlyNetids = []string{"nl", "p_raw", "p_dgr", "v_str", "v_dgr", "v_seq", "tipc", "xdp", "sctp", "dccp"}

// TestLsNoKindMatchesSS: ls with no kind flag lists every kind ss lists
// with none (unix, raw, udp, tcp, mptcp, in that order), in every state
// selection (of -a and -l the later counts, as in ss), and -4/-6 keep the
// inet kinds only, as ss -4/-6 do. ss also
// lists netlink and packet sockets there (ss -a prints the namespace's
// kernel netlink sockets as nl), which sockstate does not read: those
// rows are left out of ss's side.
func TestLsNoKindMatchesSS(t *testing.T) {
	k := newKindsNS(t)
	for _, f := range [][]string{{}, {"-a"}, {"-l"}, {"-4", "-a"}, {"-6", "-a"}, {"-al"}, {"-la"}, {"-a", "-e"}} {
		t.Run(strings.Join(append([]string{"ls"}, f...), " "), func(t *testing.T) {
			ssOut := k.ns.Run(t, "ss", append([]string{"-nH"}, f...)...)
			var kept []string
			for _, line := range strings.Split(strings.TrimSpace(ssOut), "\n") {
				if fs := strings.Fields(line); len(fs) > 0 && !slices.Contains(ssOnlyNetids, fs[0]) {
					kept = append(kept, line)
				}
			}
			lsOut := mustRun(t, k.ns, append([]string{"ls", "-H"}, f...)...)
			if len(kept) == 0 {
				t.Fatal("ss lists nothing: the test's sockets are missing")
			}
			if diff := cmp.Diff(netidOrder(strings.Join(kept, "\n")), netidOrder(lsOut)); diff != "" {
				t.Errorf("netids in order (-ss +ls):\n%s", diff)
			}
			if strings.Contains(strings.Join(f, " "), "-e") {
				return // -e's columns differ from ss's (the house's UID/Inode/Cookie)
			}
			if diff := cmp.Diff(normalRows(strings.Join(kept, "\n")), normalRows(lsOut)); diff != "" {
				t.Errorf("(-ss +ls):\n%s", diff)
			}
		})
	}
}

// netidOrder returns the netids of a table's rows in the order they
// first appear.
func netidOrder(text string) []string {
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !slices.Contains(order, f[0]) {
			order = append(order, f[0])
		}
	}
	return order
}
