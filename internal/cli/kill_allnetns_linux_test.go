package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// killAllNetnsPort is the port TestLsKillAllNetns listens on in each
// namespace: -K --all-netns reaches every namespace of the host, so the
// filter names a port no other test uses.
const killAllNetnsPort = 7013

// TestLsKillAllNetns makes four namespaces (two named, two held only by a
// process), each with a listener and one connection to it, and closes the
// connections' client ends in every namespace with one -K --all-netns:
// each is written once, tagged with its namespace, and is then gone from
// ss in its namespace, while the listeners stay; the table says exactly
// what ss listed before.
func TestLsKillAllNetns(t *testing.T) {
	nss, labels := testNamespacesOn(t, 2, 2, killAllNetnsPort)
	tcp := testnet.Columns{Netid: "tcp"}
	want := map[string][]string{}
	for i, ns := range nss {
		want[labels[i]] = testnet.ParseTable(t, ns.Run(t, "ss", "-tanH", fmt.Sprintf("dport = :%d", killAllNetnsPort)), testnet.SSStates, tcp)
		if len(want[labels[i]]) != 1 {
			t.Fatalf("ss in %s lists %v, want the client's end", labels[i], want[labels[i]])
		}
	}

	stdout, stderr, code := runHost(t, "ls", "-K", "--all-netns", "-tanH", fmt.Sprintf("dport = :%d", killAllNetnsPort))
	if code != 0 {
		t.Fatalf("ls -K --all-netns: exit %d, stderr %q", code, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if label, _, _ := strings.Cut(line, " "); !slices.Contains(labels, label) {
			t.Errorf("closed a socket of a namespace the test did not make: %q", line)
		}
	}
	if diff := cmp.Diff(want, byNetns(t, stdout, labels, tcp)); diff != "" {
		t.Errorf("ls -K --all-netns against ss in each namespace before (-want +got):\n%s", diff)
	}
	for i, ns := range nss {
		if left := ns.Run(t, "ss", "-tanH", fmt.Sprintf("dport = :%d", killAllNetnsPort)); left != "" {
			t.Errorf("%s still has %q", labels[i], left)
		}
		if ln := ns.Run(t, "ss", "-tlnH", fmt.Sprintf("sport = :%d", killAllNetnsPort)); strings.Count(ln, "\n") != 1 {
			t.Errorf("%s's listener: ss says %q, want it listening", labels[i], ln)
		}
	}
}
