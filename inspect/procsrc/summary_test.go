package procsrc

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/procnet"
)

// TestSummaryFrom checks the arithmetic of ss's print_summary on sockstat
// counters from a namespace with 3 hashed IPv4 TCP sockets, 2 IPv6 ones,
// 4 TIME_WAIT, and a host with 80,006 TCP sockets allocated.
func TestSummaryFrom(t *testing.T) {
	st := procnet.Sockstat{
		Sockets: 21,
		TCP:     procnet.SockstatCounts{InUse: 9, Orphan: 1, TW: 4, Alloc: 80006, Mem: 3},
		UDP:     procnet.SockstatCounts{InUse: 2},
		RAW:     procnet.SockstatCounts{InUse: 1},
		FRAG:    procnet.SockstatCounts{InUse: 5, Memory: 100},
		TCP6:    procnet.SockstatCounts{InUse: 4},
		UDP6:    procnet.SockstatCounts{InUse: 2},
		FRAG6:   procnet.SockstatCounts{InUse: 6},
	}
	want := Summary{
		Sockets:        21,
		TCPAll:         80010,
		TCPEstablished: 10,
		TCPClosed:      80006 - (9 + 4 - 4),
		TCPOrphaned:    1,
		TCPTimeWait:    4,
		RAW:            Counts{1, 0},
		UDP:            Counts{2, 2},
		TCP:            Counts{9, 4},
		FRAG:           Counts{5, 6},
	}
	got := summaryFrom(&st, 10)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if inet := got.INET(); inet != (Counts{12, 6}) || inet.Total() != 18 {
		t.Errorf("INET %+v, want {12 6}, total 18", inet)
	}
}
