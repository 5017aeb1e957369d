package inspect_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	defer s.Close()
	l, cl := netip.MustParseAddrPort("127.0.0.1:7400"), c.LocalAddr().(*net.TCPAddr).AddrPort()
	unspec := netip.MustParseAddrPort("0.0.0.0:0")
	g.check("connected", []string{
		fmt.Sprintf("new %v %v to LISTEN", l, unspec),
		fmt.Sprintf("new %v %v to ESTABLISHED", l, cl),
		fmt.Sprintf("new %v %v to ESTABLISHED", cl, l),
	})

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

// checkWithin lets polls through, at most five, until their events, in
// any order, are want, or are more than want. The kernel has sent the
// reports (awaitReports), but the watcher's feed may read them after a
// poll: a report that misses one poll comes with the next.
func (g *gatedWatch) checkWithin(what string, want []string) {
	g.t.Helper()
	var got []string
	for range 5 {
		g.wt.mu.Lock()
		n := g.wt.batches
		g.wt.mu.Unlock()
		g.src.gate <- struct{}{}
		g.wt.waitBatches(g.t, n+1)
		g.wt.mu.Lock()
		for i := range g.wt.events[g.from:] {
			got = append(got, endText(&g.wt.events[g.from+i]))
		}
		g.from = len(g.wt.events)
		g.wt.mu.Unlock()
		if len(got) >= len(want) {
			break
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		g.t.Errorf("%s (-want +got):\n%s\nevents:\n%s", what, diff, g.wt.dump())
	}
}
