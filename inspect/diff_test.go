package inspect

import (
	"net/netip"
	"slices"
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
		{"proc: SO_REUSEPORT listeners share a tuple, matched by inode", []Socket{noCookie(listener), noCookie(with(listener, Listen, 13))}, []Socket{noCookie(with(listener, Listen, 13)), noCookie(listener)}, nil},
		{"proc: one of two listeners on a tuple closed", []Socket{noCookie(listener), noCookie(with(listener, Listen, 13))}, []Socket{noCookie(with(listener, Listen, 13))}, []Event{
			{Kind: EventGone, Socket: noCookie(listener), From: Listen},
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

// TestDiffTupleKeys checks that sockets without cookies are told apart by
// every part of their tuple, also where differ packs it: the zone, IPv4
// against IPv4-mapped IPv6, the protocol, the zero address. Each socket
// in turn changes state among the others, listed in reverse.
func TestDiffTupleKeys(t *testing.T) {
	sock := func(p Protocol, local, peer string) Socket {
		s := Socket{Protocol: p, State: Established, Local: netip.MustParseAddrPort(local)}
		if peer != "" {
			s.Peer = netip.MustParseAddrPort(peer)
		}
		return s
	}
	tests := []struct {
		name string
		sock Socket
	}{
		{"zone eth0", sock(TCP, "[fe80::1%eth0]:80", "[fe80::2%eth0]:5000")},
		{"zone eth1", sock(TCP, "[fe80::1%eth1]:80", "[fe80::2%eth0]:5000")},
		{"no zone", sock(TCP, "[fe80::1]:80", "[fe80::2]:5000")},
		{"IPv4", sock(TCP, "1.2.3.4:80", "5.6.7.8:5000")},
		{"IPv4-mapped", sock(TCP, "[::ffff:1.2.3.4]:80", "5.6.7.8:5000")},
		{"UDP", sock(UDP, "1.2.3.4:80", "5.6.7.8:5000")},
		{"no peer", sock(TCP, "1.2.3.4:80", "")},
	}
	var socks []Socket
	for _, tt := range tests {
		socks = append(socks, tt.sock)
	}
	var d differ
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := slices.Clone(socks)
			slices.Reverse(next)
			changed := &next[len(next)-1-i]
			changed.State = CloseWait
			want := []Event{{Kind: EventChange, Socket: *changed, From: Established, To: CloseWait}}
			opt := cmpopts.EquateComparable(netip.AddrPort{})
			if diff := cmp.Diff(want, Diff(socks, next), opt); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
			// A differ reused from call to call gives the same.
			if diff := cmp.Diff(want, d.diff(socks, next), opt); diff != "" {
				t.Errorf("differ (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDropRepeats checks which entries dropRepeats takes for one socket
// listed again, and that the later entry takes the earlier one's place:
// the same cookie, or without a cookie a connected TCP socket's tuple, or
// another socket's key and inode; a listener's tuple seen with another
// inode is another socket.
func TestDropRepeats(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:80")
	b := netip.MustParseAddrPort("127.0.0.1:5000")
	s := func(cookie, inode uint64, local, peer netip.AddrPort) Socket {
		return Socket{Protocol: TCP, Family: INet, State: Established, Local: local, Peer: peer, Cookie: cookie, Inode: inode}
	}
	mp := func(cookie, inode uint64, local, peer netip.AddrPort) Socket {
		so := s(cookie, inode, local, peer)
		so.Protocol = MPTCP
		return so
	}
	tw := s(1, 0, a, b)
	tw.State = TimeWait
	tw0 := tw
	tw0.Cookie = 0
	tests := []struct {
		name  string
		socks []Socket
		want  []Socket
	}{
		{"cookie twice", []Socket{s(1, 10, a, b), s(2, 11, b, a), s(1, 10, a, b)}, []Socket{s(1, 10, a, b), s(2, 11, b, a)}},
		{"cookie with its file, then as timewait", []Socket{s(1, 10, a, b), s(2, 11, b, a), tw, tw}, []Socket{tw, s(2, 11, b, a)}},
		{"tuple with its file, then as timewait", []Socket{s(0, 10, a, b), s(0, 10, b, a), tw0}, []Socket{tw0, s(0, 10, b, a)}},
		{"inode twice", []Socket{s(0, 10, a, b), s(0, 10, a, b)}, []Socket{s(0, 10, a, b)}},
		{"inode under another tuple", []Socket{s(0, 10, a, b), s(0, 10, b, a), s(0, 10, b, a), s(0, 10, a, b)}, []Socket{s(0, 10, a, b), s(0, 10, b, a)}},
		{"an MPTCP listener's cookie on the socket it accepted", []Socket{mp(7, 20, a, b), mp(7, 21, a, netip.AddrPort{}), mp(7, 21, a, netip.AddrPort{})}, []Socket{mp(7, 20, a, b), mp(7, 21, a, netip.AddrPort{})}},
		{"reuseport listeners share a tuple", []Socket{s(0, 10, a, netip.AddrPort{}), s(0, 11, a, netip.AddrPort{})}, []Socket{s(0, 10, a, netip.AddrPort{}), s(0, 11, a, netip.AddrPort{})}},
		{"timewait tuple twice", []Socket{s(0, 0, a, b), s(0, 0, b, a), s(0, 0, a, b)}, []Socket{s(0, 0, a, b), s(0, 0, b, a)}},
	}
	var seen Sightings
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DropRepeats(slices.Clone(tt.socks), &seen)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
				t.Errorf("dropRepeats (-want +got):\n%s", diff)
			}
		})
	}
}
