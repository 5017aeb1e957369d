package inspect_test

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestWatchResetHeld: a client closes with SO_LINGER 0 while the server
// keeps its descriptor. The kernel frees the client at once and moves the
// server's end to CLOSE and out of its tables at the RST, freeing it only
// when the server closes the descriptor. The poll after the reset ends the
// client from its destroy report (matched by cookie though the kernel
// cleared its tuple: ESTABLISHED -> CLOSE, gone) and holds the server's
// end, missing with no report; the next poll reports the move the kernel
// made, ESTABLISHED -> CLOSE, where polling used to say gone; the destroy
// report, when the server closes, says gone, once.
func TestWatchResetHeld(t *testing.T) {
	ns := testnet.New(t)
	g := startGatedWatch(t, ns)
	c, s, l, cl := g.connect(ns)

	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("server read after the reset: %v, want ECONNRESET", err)
	}
	g.awaitReports(1) // the client's
	g.checkWithin("reset, the server holding its socket", []string{
		fmt.Sprintf("change %v %v to CLOSE", cl, l),
		fmt.Sprintf("gone %v %v from CLOSE", cl, l),
		fmt.Sprintf("change %v %v to CLOSE", l, cl),
	})
	g.check("nothing new", nil)

	s.Close()
	g.awaitReports(1) // the server's end
	g.checkWithin("the server closed", []string{fmt.Sprintf("gone %v %v from CLOSE", l, cl)})
	g.check("nothing new", nil)
	g.wt.stop()
}
