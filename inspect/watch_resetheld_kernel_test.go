package inspect_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestWatchResetHeld: the server resets a connection (SO_LINGER 0) whose
// client keeps its descriptor. The kernel moves the client to CLOSE and
// out of its tables at the RST, and frees it only when the client closes
// the descriptor. A poll between the two reports the move,
// ESTABLISHED -> CLOSE, where polling used to report gone; the destroy
// report, when it comes, says gone, once. The server's end, polled in
// ESTABLISHED and freed at its close, is reported moved to CLOSE and gone
// from its destroy report, matched by cookie though the kernel cleared
// its peer port.
func TestWatchResetHeld(t *testing.T) {
	ns := testnet.New(t)
	g := startGatedWatch(t, ns)
	ln := ns.Listen(t, "tcp4", "127.0.0.1:7400")
	var c net.Conn
	ns.Do(t, func() (err error) {
		c, err = net.Dial("tcp4", "127.0.0.1:7400")
		return err
	})
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	l, cl := netip.MustParseAddrPort("127.0.0.1:7400"), c.LocalAddr().(*net.TCPAddr).AddrPort()
	unspec := netip.MustParseAddrPort("0.0.0.0:0")
	g.check("connected", []string{
		fmt.Sprintf("new %v %v to LISTEN", l, unspec),
		fmt.Sprintf("new %v %v to ESTABLISHED", l, cl),
		fmt.Sprintf("new %v %v to ESTABLISHED", cl, l),
	})

	if err := s.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read after the reset: %v, want ECONNRESET", err)
	}
	g.awaitReports(1) // the server's end
	g.check("reset, the client holding its socket", []string{
		fmt.Sprintf("change %v %v to CLOSE", l, cl),
		fmt.Sprintf("gone %v %v from CLOSE", l, cl),
		fmt.Sprintf("change %v %v to CLOSE", cl, l),
	})

	c.Close()
	g.awaitReports(1) // the client's
	g.check("the client closed", []string{fmt.Sprintf("gone %v %v from CLOSE", cl, l)})
	g.wt.stop()
}
