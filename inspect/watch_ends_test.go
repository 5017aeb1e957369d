package inspect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConnectCause(t *testing.T) {
	tests := []struct {
		name string
		s    Socket
		want Cause
	}{
		{"refused: the RST came back", Socket{Protocol: TCP, Info: &TCPInfo{SegsIn: 1, TotalRetrans: 1}}, CauseRefused},
		{"timeout: SYN retransmitted, nothing back", Socket{Protocol: TCP, Info: &TCPInfo{SegsOut: 2, TotalRetrans: 1}}, CauseTimeout},
		{"handshake done: options agreed", Socket{Protocol: TCP, Info: &TCPInfo{Options: OptSACK, SegsIn: 3}}, CauseUnknown},
		{"bytes acknowledged", Socket{Protocol: TCP, Info: &TCPInfo{BytesAcked: 1, SegsIn: 3}}, CauseUnknown},
		{"closed at once, one SYN, nothing back", Socket{Protocol: TCP, Info: &TCPInfo{SegsOut: 1}}, CauseUnknown},
		{"no tcp_info", Socket{Protocol: TCP}, CauseUnknown},
		{"UDP", Socket{Protocol: UDP, Info: &TCPInfo{SegsIn: 1}}, CauseUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConnectCause(&tt.s); got != tt.want {
				t.Errorf("ConnectCause = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWatcherEnds: gone events from destroy reports carry what the
// reports' tcp_info tells: the bytes (0x3, polled, freed carrying data,
// seen from its first poll), the cause it proves (0x7, a refused connect
// no poll showed: no seen time), none where it proves none (0x8, a
// report without tcp_info); a socket gone from polls alone (0x4, UDP,
// no report) has its seen time, up to the poll that missed it, and
// nothing else.
func TestWatcherEnds(t *testing.T) {
	C := sock(3, Established, wCl, wLn, 12)
	U := Socket{Protocol: UDP, Family: INet, State: Close, Local: netip.MustParseAddrPort("127.0.0.1:5353"), Cookie: 4, Inode: 13}
	freedC := C
	freedC.State, freedC.Inode = Close, 0
	freedC.Info = &TCPInfo{Options: OptSACK, BytesAcked: 1002, BytesReceived: 1, SegsIn: 5}
	refused := sock(7, Close, netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7401"), 0)
	refused.Info = &TCPInfo{SegsIn: 1, SegsOut: 1}
	bare := sock(8, Close, netip.MustParseAddrPort("127.0.0.1:40001"), netip.MustParseAddrPort("127.0.0.1:7402"), 0)
	src := &scriptedSource{snaps: [][]Socket{{C, U}, {C, U}, {C}, {}, {}}}
	type end struct {
		Line  string
		Cause Cause
		Bytes *Bytes
		Seen  time.Duration
	}
	var got []end
	err := watchEvents(t, 5, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		d.sendAt(250*time.Millisecond, &freedC, &refused, &bare)
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d}
	}, func(t0 time.Time, e WatchEvent) {
		if e.Kind == EventGone || e.Kind == EventChange && e.To == Close {
			got = append(got, end{line(t0, e), e.Cause, e.Bytes, e.Seen})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []end{
		{Line: "250ms change 0x3 ESTABLISHED -> CLOSE after 250ms"},
		{Line: "250ms gone 0x3 CLOSE ->", Bytes: &Bytes{Acked: 1002, Received: 1}, Seen: 250 * time.Millisecond},
		{Line: "250ms gone 0x7 CLOSE -> refused", Cause: CauseRefused, Bytes: &Bytes{}},
		{Line: "250ms gone 0x8 CLOSE ->"},
		// Missing from the poll at 200ms, held one poll.
		{Line: "300ms gone 0x4 CLOSE -> after 200ms", Seen: 200 * time.Millisecond},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ends (-want +got):\n%s", diff)
	}
}
