package inspect

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// cleared returns s as the kernel reports it destroyed after
// tcp_disconnect: in CLOSE, without a file, its local address and peer
// port cleared.
func cleared(s Socket) *Socket {
	s.State, s.Inode = Close, 0
	s.Local = netip.AddrPortFrom(netip.IPv4Unspecified(), s.Local.Port())
	s.Peer = netip.AddrPortFrom(s.Peer.Addr(), 0)
	return &s
}

// clearedFilter is a Filter that judges cleared tuples by local port:
// keep and reject list the ports it decides; every other is undecided.
type clearedFilter struct {
	keep, reject []uint16
}

func (f clearedFilter) Match(*Socket) bool              { return true }
func (f clearedFilter) Bytecode(Family) ([]byte, error) { return nil, nil }
func (f clearedFilter) MatchCleared(s *Socket) (bool, bool) {
	switch p := s.Local.Port(); {
	case slices.Contains(f.keep, p):
		return true, true
	case slices.Contains(f.reject, p):
		return false, true
	}
	return false, false
}

// plainFilter is a Filter that cannot judge cleared tuples.
type plainFilter struct{}

func (plainFilter) Match(*Socket) bool              { return true }
func (plainFilter) Bytecode(Family) ([]byte, error) { return nil, nil }

// TestWatcherUnmatched: a destroy report with a cleared tuple that no poll
// showed is reported, marked reset, when the filter selects what is left
// whatever the cleared fields held; counted in one unmatched event per
// poll when the answer turns on them (or the filter cannot tell); and
// left out when the filter rejects what is left.
func TestWatcherUnmatched(t *testing.T) {
	a := sock(21, Established, netip.MustParseAddrPort("127.0.0.1:40001"), wLn, 0)
	b := sock(22, Established, netip.MustParseAddrPort("127.0.0.1:40002"), wLn, 0)
	c := sock(23, Established, netip.MustParseAddrPort("127.0.0.1:40003"), netip.MustParseAddrPort("10.0.0.1:7788"), 0)
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"undecided", clearedFilter{}, []string{"50ms unmatched - 2", "150ms unmatched - 1"}},
		{"no filter", nil, []string{
			"20ms gone 0x15 CLOSE -> reset 0.0.0.0:40001 127.0.0.1:0",
			"20ms gone 0x16 CLOSE -> reset 0.0.0.0:40002 127.0.0.1:0",
			"120ms gone 0x17 CLOSE -> reset 0.0.0.0:40003 10.0.0.1:0",
		}},
		{"kept", clearedFilter{keep: []uint16{40001, 40002}}, []string{
			"20ms gone 0x15 CLOSE -> reset 0.0.0.0:40001 127.0.0.1:0",
			"20ms gone 0x16 CLOSE -> reset 0.0.0.0:40002 127.0.0.1:0",
			"150ms unmatched - 1",
		}},
		{"one kept, one rejected", clearedFilter{keep: []uint16{40003}, reject: []uint16{40001}}, []string{
			"50ms unmatched - 1",
			"120ms gone 0x17 CLOSE -> reset 0.0.0.0:40003 10.0.0.1:0",
		}},
		{"rejected", clearedFilter{reject: []uint16{40001, 40002, 40003}}, nil},
		{"a filter that cannot tell", plainFilter{}, []string{"50ms unmatched - 2", "150ms unmatched - 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &scriptedSource{snaps: [][]Socket{{}, {}, {}, {}}}
			expectWatch(t, 4, func() *Watcher {
				d := &scriptedDestroys{c: make(chan any)}
				d.sendAt(20*time.Millisecond, cleared(a), cleared(b))
				d.sendAt(120*time.Millisecond, cleared(c))
				return &Watcher{Source: src, Query: Query{States: AllStates, Filter: tt.filter}, Interval: 50 * time.Millisecond, Destroyed: d}
			}, tt.want)
		})
	}
}

// TestWatcherGoneOnce: a reset socket whose owner keeps its file for
// seconds is reported as the kernel moved it, ESTABLISHED -> CLOSE, at the
// poll after the one that no longer showed it, and gone once, at its
// destroy report, however late it comes, a loss between or not.
func TestWatcherGoneOnce(t *testing.T) {
	S := sock(0xd5bcb, Established, wLn, wCl, 11)
	freed := S
	freed.State, freed.Inode = Close, 0
	snaps := [][]Socket{{S}}
	for range 40 {
		snaps = append(snaps, nil)
	}
	src := &scriptedSource{snaps: snaps}
	want := []string{
		"0s new 0xd5bcb -> ESTABLISHED",
		"200ms change 0xd5bcb ESTABLISHED -> CLOSE after 100ms",
		"3.01s lost -",
		"3.02s gone 0xd5bcb CLOSE -> after 2.82s",
	}
	expectWatch(t, 40, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		d.sendAt(3*time.Second+10*time.Millisecond, fmt.Errorf("receive: %w", os.NewSyscallError("recvfrom", unix.ENOBUFS)))
		d.sendAt(3*time.Second+20*time.Millisecond, &freed)
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d}
	}, want)
}

// TestWatcherLostCount: a loss the kernel counted says how many reports
// it dropped.
func TestWatcherLostCount(t *testing.T) {
	src := &scriptedSource{snaps: [][]Socket{{}, {}}}
	expectWatch(t, 2, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		d.sendAt(30*time.Millisecond, fmt.Errorf("inspect: %w", &netlinkdiag.LostError{N: 34670, Err: unix.ENOBUFS}))
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d}
	}, []string{"30ms lost - 34670"})
}

// TestWatcherRequestJoined: a connection a poll showed as its request
// socket is one socket with its full socket, whose cookie differs: the
// next poll's full socket is a change from SYN_RECV, and a full socket
// freed before any poll showed it ends the request's connection.
func TestWatcherRequestJoined(t *testing.T) {
	req := sock(5, SynRecv, wLn, wCl, 0)
	full := sock(6, Established, wLn, wCl, 0)
	other := netip.MustParseAddrPort("127.0.0.1:51300")
	req2 := sock(7, SynRecv, wLn, other, 0)
	full2 := sock(8, Close, wLn, other, 0)
	src := &scriptedSource{snaps: [][]Socket{{req, req2}, {full}, {full}}}
	want := []string{
		"0s new 0x5 -> SYN_RECV",
		"0s new 0x7 -> SYN_RECV",
		"40ms change 0x7 SYN_RECV -> CLOSE after 40ms",
		"40ms gone 0x7 CLOSE ->",
		"100ms change 0x6 SYN_RECV -> ESTABLISHED after 100ms",
	}
	expectWatch(t, 3, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		d.sendAt(40*time.Millisecond, &full2)
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d}
	}, want)
}

// TestWatcherTimeOrder: a batch's events are in the order of their times,
// whatever their kinds: a destroy report that waited for a poll to settle
// it comes before a later loss.
func TestWatcherTimeOrder(t *testing.T) {
	C := sock(3, Established, wCl, wLn, 12)
	freed := C
	freed.State, freed.Inode = Close, 0
	src := &scriptedSource{snaps: [][]Socket{{}, {C}, {}}}
	want := []string{
		"100ms new 0x3 -> ESTABLISHED",
		"100ms change 0x3 ESTABLISHED -> CLOSE",
		"100ms gone 0x3 CLOSE ->",
		"150ms lost -",
	}
	expectWatch(t, 3, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		src.hook = func(poll int) {
			if poll == 1 {
				// Reported while the dump that still shows it runs.
				d.c <- &freed
				synctest.Wait()
			}
		}
		d.sendAt(150*time.Millisecond, fmt.Errorf("receive: %w", os.NewSyscallError("recvfrom", unix.ENOBUFS)))
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d}
	}, want)
}
