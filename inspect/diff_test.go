package inspect

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDiff(t *testing.T) {
	lp := netip.MustParseAddrPort("127.0.0.1:7788")
	cp := netip.MustParseAddrPort("127.0.0.1:51234")
	listener := Socket{Protocol: TCP, Family: INet, State: Listen, Local: lp, Inode: 10, Cookie: 0x1}
	server := Socket{Protocol: TCP, Family: INet, State: Established, Local: lp, Peer: cp, Inode: 11, Cookie: 0x2}
	client := Socket{Protocol: TCP, Family: INet, State: Established, Local: cp, Peer: lp, Inode: 12, Cookie: 0x3}
	with := func(s Socket, st State, inode uint64) Socket { s.State, s.Inode = st, inode; return s }
	noCookie := func(s Socket) Socket { s.Cookie = 0; return s }

	tests := []struct {
		name       string
		prev, next []Socket
		want       []Event
	}{
		{"empty", nil, nil, nil},
		{"unchanged", []Socket{listener, server}, []Socket{server, listener}, nil},
		{"added", []Socket{listener}, []Socket{listener, server, client}, []Event{
			{Kind: EventNew, Socket: server, To: Established},
			{Kind: EventNew, Socket: client, To: Established},
		}},
		{"removed", []Socket{listener, server, client}, []Socket{listener}, []Event{
			{Kind: EventGone, Socket: server, From: Established},
			{Kind: EventGone, Socket: client, From: Established},
		}},
		{"changed", []Socket{server, client}, []Socket{with(server, FinWait2, 11), with(client, CloseWait, 12)}, []Event{
			{Kind: EventChange, Socket: with(server, FinWait2, 11), From: Established, To: FinWait2},
			{Kind: EventChange, Socket: with(client, CloseWait, 12), From: Established, To: CloseWait},
		}},
		{"into TIME_WAIT keeps the cookie and loses the inode", []Socket{with(server, FinWait2, 11)}, []Socket{with(server, TimeWait, 0)}, []Event{
			{Kind: EventChange, Socket: with(server, TimeWait, 0), From: FinWait2, To: TimeWait},
		}},
		{"proc: into TIME_WAIT on the same tuple", []Socket{noCookie(with(server, FinWait2, 11))}, []Socket{noCookie(with(server, TimeWait, 0))}, []Event{
			{Kind: EventChange, Socket: noCookie(with(server, TimeWait, 0)), From: FinWait2, To: TimeWait},
		}},
		{"proc: tuple reused by a new socket", []Socket{noCookie(client)}, []Socket{noCookie(with(client, Established, 99))}, []Event{
			{Kind: EventNew, Socket: noCookie(with(client, Established, 99)), To: Established},
			{Kind: EventGone, Socket: noCookie(client), From: Established},
		}},
		{"netlink: tuple reused by a new socket has a new cookie", []Socket{client}, []Socket{func() Socket { s := client; s.Cookie = 0x9; return s }()}, []Event{
			{Kind: EventNew, Socket: func() Socket { s := client; s.Cookie = 0x9; return s }(), To: Established},
			{Kind: EventGone, Socket: client, From: Established},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Diff(tt.prev, tt.next), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkDiff(b *testing.B) {
	prev := make([]Socket, 10000)
	for i := range prev {
		prev[i] = Socket{Protocol: TCP, State: Established, Cookie: uint64(i + 1),
			Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(i))}
	}
	next := append([]Socket(nil), prev...)
	for i := 0; i < len(next); i += 100 {
		next[i].State = CloseWait
	}
	b.ReportAllocs()
	for b.Loop() {
		Diff(prev, next)
	}
}
