package sockdiag_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/sockstate/sockstate/inspect/sockdiag"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
)

// looked is what TestNetlinkLookup compares of a socket: what identifies
// it, not its timers and queues, which move between two requests.
type looked struct {
	Protocol    inspect.Protocol
	Family      inspect.Family
	State       inspect.State
	Local, Peer netip.AddrPort
	Inode       uint64
	Cookie      uint64
}

func lookedOf(s inspect.Socket) looked {
	return looked{s.Protocol, s.Family, s.State, s.Local, s.Peer, s.Inode, s.Cookie}
}

// TestNetlinkLookup opens a listener and a connection on loopback and
// requires Lookup to find each of the three sockets, with the inode of its
// descriptor and the cookie a dump gives it, and to find nothing for a
// connection that does not exist.
func TestNetlinkLookup(t *testing.T) {
	for _, tc := range []struct {
		loopback string
		family   inspect.Family
		any      netip.Addr
	}{
		{"127.0.0.1", inspect.INet, netip.IPv4Unspecified()},
		{"::1", inspect.INet6, netip.IPv6Unspecified()},
	} {
		t.Run(tc.loopback, func(t *testing.T) {
			ln, err := net.Listen("tcp", net.JoinHostPort(tc.loopback, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			addr := func(a net.Addr) netip.AddrPort { return a.(*net.TCPAddr).AddrPort() }

			src := &sockdiag.Source{}
			all, err := src.Sockets(context.Background(), inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates})
			if err != nil {
				t.Fatal(err)
			}
			cookies := make(map[uint64]uint64) // inode to cookie, from the dump
			for _, d := range all {
				if d.Inode != 0 {
					cookies[d.Inode] = d.Cookie
				}
			}

			for _, e := range []struct {
				name        string
				local, peer netip.AddrPort
				state       inspect.State
				wantPeer    netip.AddrPort
				inode       uint64
			}{
				{"listener", addr(ln.Addr()), netip.AddrPort{}, inspect.Listen, netip.AddrPortFrom(tc.any, 0), testnet.Inode(t, ln.(*net.TCPListener))},
				{"client", addr(c.LocalAddr()), addr(c.RemoteAddr()), inspect.Established, addr(c.RemoteAddr()), testnet.Inode(t, c.(*net.TCPConn))},
				{"server", addr(s.LocalAddr()), addr(s.RemoteAddr()), inspect.Established, addr(s.RemoteAddr()), testnet.Inode(t, s.(*net.TCPConn))},
			} {
				got, found, err := src.Lookup(context.Background(), inspect.TCP, e.local, e.peer)
				if err != nil || !found {
					t.Fatalf("Lookup of the %s: found %v, %v", e.name, found, err)
				}
				want := looked{inspect.TCP, tc.family, e.state, e.local, e.wantPeer, e.inode, cookies[e.inode]}
				if diff := cmp.Diff(want, lookedOf(got), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
					t.Errorf("Lookup of the %s (-want +got):\n%s", e.name, diff)
				}
				if cookies[e.inode] == 0 {
					t.Errorf("the dump has no socket with the %s's inode %d", e.name, e.inode)
				}
			}

			// Port 1 on loopback: no connection from it can exist.
			none := netip.AddrPortFrom(addr(c.LocalAddr()).Addr(), 1)
			got, found, err := src.Lookup(context.Background(), inspect.TCP, none, addr(c.RemoteAddr()))
			if err != nil || found || got != (inspect.Socket{}) {
				t.Errorf("Lookup of %v: %+v, found %v, %v; want nothing", none, got, found, err)
			}
		})
	}
}

func TestNetlinkLookupNoLocal(t *testing.T) {
	_, found, err := (&sockdiag.Source{}).Lookup(context.Background(), inspect.TCP, netip.AddrPort{}, netip.AddrPort{})
	const want = "inspect: netlink tcp lookup: no local address"
	if err == nil || err.Error() != want || found {
		t.Errorf("Lookup without a local address: found %v, %v; want %q", found, err, want)
	}
}
