package procsrc

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSum: the namespaces' own counters add up; TCP sockets allocated and
// orphaned are host-wide, counted once, and "TCP:" and closed are made
// from the sums.
func TestSum(t *testing.T) {
	// Two namespaces on a host with 10 TCP sockets allocated, 1 orphaned.
	a := Summary{Sockets: 20, TCPAll: 10 + 2, TCPEstablished: 3, TCPClosed: 10 - (5 - 2), TCPOrphaned: 1, TCPTimeWait: 2,
		RAW: Counts{1, 0}, UDP: Counts{2, 1}, TCP: Counts{4, 1}, FRAG: Counts{0, 0}}
	b := Summary{Sockets: 7, TCPAll: 10 + 1, TCPEstablished: 1, TCPClosed: 10 - (3 - 1), TCPOrphaned: 1, TCPTimeWait: 1,
		RAW: Counts{0, 1}, UDP: Counts{1, 0}, TCP: Counts{2, 1}, FRAG: Counts{1, 0}}
	want := Summary{Sockets: 27, TCPAll: 10 + 3, TCPEstablished: 4, TCPClosed: 10 - (8 - 3), TCPOrphaned: 1, TCPTimeWait: 3,
		RAW: Counts{1, 1}, UDP: Counts{3, 1}, TCP: Counts{6, 2}, FRAG: Counts{1, 0}}
	if diff := cmp.Diff(want, Sum([]Summary{a, b})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(a, Sum([]Summary{a})); diff != "" {
		t.Errorf("one namespace (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Summary{}, Sum(nil)); diff != "" {
		t.Errorf("none (-want +got):\n%s", diff)
	}
}
