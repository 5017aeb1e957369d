//go:build linux

package tunlink

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netns"
)

// TestLinkRelays makes the link, sends a UDP datagram from the client's
// namespace to the server's and back, and requires both through the
// relay, in order, with nothing dropped; then that Close leaves no
// descriptor behind.
func TestLinkRelays(t *testing.T) {
	testnet.Need(t, "root")
	before := openFDs(t)
	l, err := Open(40 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{ServerDev, ClientDev} {
		if _, err := net.InterfaceByName(dev); err == nil {
			t.Errorf("device %s in the test's own namespace", dev)
		}
	}
	var srv, cli *net.UDPConn
	listen := func(ns int, addr string, c **net.UDPConn) {
		t.Helper()
		err := netns.Do(ns, func() error {
			var err error
			*c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	listen(l.Server.NetNS, ServerAddr.String()+":9000", &srv)
	listen(l.Client.NetNS, ClientAddr.String()+":9001", &cli)
	deadline := time.Now().Add(5 * time.Second)
	srv.SetDeadline(deadline)
	cli.SetDeadline(deadline)
	for _, msg := range []string{"one", "two", "three"} {
		if _, err := cli.WriteToUDPAddrPort([]byte(msg), netip.MustParseAddrPort(ServerAddr.String()+":9000")); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 100)
	var got []string
	for range 3 {
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from.Addr() != ClientAddr {
			t.Errorf("from %v, want %v", from, ClientAddr)
		}
		got = append(got, string(buf[:n]))
	}
	if strings.Join(got, " ") != "one two three" {
		t.Errorf("received %q, want one two three in order", got)
	}
	srv.Close()
	cli.Close()
	// Read once the relay has stopped: it counts a packet after writing it,
	// so the server can read one the count does not hold yet.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Dropped != 0 || s.Relayed < 3 {
		t.Errorf("stats %+v: want 3 or more relayed, none dropped", s)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after Close, %d before", after, before)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(e)
}
