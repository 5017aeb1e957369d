//go:build linux

package capture_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect/capture"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/internal/tunlink"
	"github.com/sockstate/sockstate/netns"
)

// TestCaptureTUN captures a connection's opening on the client's TUN
// device of a delayed link, whose frames are bare IP packets: each
// segment once, both directions, decoded with its ends and flags.
func TestCaptureTUN(t *testing.T) {
	testnet.Need(t, "root")
	l, err := tunlink.Open(20 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	server := netip.AddrPortFrom(tunlink.ServerAddr, 7788)
	var ln net.Listener
	if err := netns.Do(l.Server.NetNS, func() (err error) {
		ln, err = net.Listen("tcp", server.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var c *capture.Capture
	if err := netns.Do(l.Client.NetNS, func() (err error) {
		c, err = capture.Open(tunlink.ClientDev, server.Port())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !c.RawIP() {
		t.Errorf("RawIP false on a TUN device")
	}
	var conn net.Conn
	if err := netns.Do(l.Client.NetNS, func() (err error) {
		conn, err = net.Dial("tcp", server.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srvConn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := srvConn.Read(buf); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	srvConn.Close()
	packets := stopped(t, c)
	for _, p := range packets {
		if p.Src != server && (p.Src.Addr() != tunlink.ClientAddr || p.Dst != server) {
			t.Errorf("packet %v -> %v", p.Src, p.Dst)
		}
	}
	got := segments(packets, server)
	// The first four: the close's packets may still be on the link.
	want := []string{"client SYN", "server SYN,ACK", "client ACK", "client PSH,ACK hello"}
	if len(got) > len(want) {
		got = got[:len(want)]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
}
