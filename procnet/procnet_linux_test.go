package procnet

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// unavailable reports whether err from binding addr means the host has no
// such address or family, the only reason to skip.
func TestKernelTCP(t *testing.T) {
	tests := []struct {
		name    string
		network string
		addr    string
		file    File
		any     netip.AddrPort
	}{
		{name: "ipv4", network: "tcp4", addr: "127.0.0.1:0", file: TCP, any: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)},
		{name: "ipv6", network: "tcp6", addr: "[::1]:0", file: TCP6, any: netip.AddrPortFrom(netip.IPv6Unspecified(), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "ipv6" {
				testnet.Need(t, "ipv6")
			}
			// No keepalive, so no timer runs on the connection.
			lc := net.ListenConfig{KeepAlive: -1}
			l, err := lc.Listen(context.Background(), tt.network, tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			d := net.Dialer{KeepAlive: -1}
			client, err := d.Dial(tt.network, l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()

			listenAddr := l.Addr().(*net.TCPAddr).AddrPort()
			clientAddr := client.LocalAddr().(*net.TCPAddr).AddrPort()
			serverAddr := server.LocalAddr().(*net.TCPAddr).AddrPort()
			uid := uint32(os.Getuid())
			want := map[[2]netip.AddrPort]Record{
				// /proc prints write_seq - snd_una as a listener's
				// tx_queue, 0, where sock_diag (and so ss) gives the
				// backlog limit.
				{listenAddr, tt.any}: {
					Local: listenAddr, Remote: tt.any, State: 0x0A,
					UID: uid, Inode: testnet.Inode(t, l.(*net.TCPListener)),
				},
				{clientAddr, serverAddr}: {
					Local: clientAddr, Remote: serverAddr, State: 0x01,
					UID: uid, Inode: testnet.Inode(t, client.(*net.TCPConn)),
				},
				{serverAddr, clientAddr}: {
					Local: serverAddr, Remote: clientAddr, State: 0x01,
					UID: uid, Inode: testnet.Inode(t, server.(*net.TCPConn)),
				},
			}

			recs, err := NewFS("/proc").Read(tt.file)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			got := make(map[[2]netip.AddrPort]Record)
			for _, r := range recs {
				key := [2]netip.AddrPort{r.Local, r.Remote}
				if _, ours := want[key]; !ours {
					continue
				}
				if _, dup := got[key]; dup {
					t.Errorf("Read returned %v twice", key)
				}
				got[key] = r
			}
			if diff := cmp.Diff(want, got, cmpRecords); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKernelUDP(t *testing.T) {
	tests := []struct {
		name    string
		network string
		addr    string
		file    File
		any     netip.AddrPort
	}{
		{name: "ipv4", network: "udp4", addr: "127.0.0.1:0", file: UDP, any: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)},
		{name: "ipv6", network: "udp6", addr: "[::1]:0", file: UDP6, any: netip.AddrPortFrom(netip.IPv6Unspecified(), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "ipv6" {
				testnet.Need(t, "ipv6")
			}
			c, err := net.ListenPacket(tt.network, tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			local := c.LocalAddr().(*net.UDPAddr).AddrPort()
			// An unconnected UDP socket is in TCP_CLOSE.
			want := []Record{{Local: local, Remote: tt.any, State: 0x07, UID: uint32(os.Getuid()), Inode: testnet.Inode(t, c.(*net.UDPConn))}}

			recs, err := NewFS("/proc").Read(tt.file)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var got []Record
			for _, r := range recs {
				if r.Local == local {
					got = append(got, r)
				}
			}
			if diff := cmp.Diff(want, got, cmpRecords); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
