package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
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
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates}
	witness, err := netlinkdiag.DialEvents(&netlinkdiag.Config{NetNS: ns.FD()}, netlinkdiag.GroupTCP4Destroy)
	if err != nil {
		t.Fatal(err)
	}
	defer witness.Close()
	awaitReports := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for seen := 0; seen < n; {
			if err := witness.Receive(ctx, func(ev *netlinkdiag.Event) error {
				if ev.Protocol == 6 {
					seen++
				}
				return nil
			}); err != nil {
				t.Fatalf("witness after %d of %d reports: %v", seen, n, err)
			}
		}
	}
	d, err := sockdiag.SubscribeDestroyed(ns.FD(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	src := &gatedSource{inner: &sockdiag.Source{NetNS: ns.FD()}, gate: make(chan struct{}, 1)}
	src.gate <- struct{}{}
	wt := startWatching(t, &inspect.Watcher{Source: src, Query: q, Interval: time.Millisecond, Destroyed: d})
	from := 0
	poll := func() []string {
		t.Helper()
		wt.mu.Lock()
		n := wt.batches
		wt.mu.Unlock()
		src.gate <- struct{}{}
		wt.waitBatches(t, n+1)
		wt.mu.Lock()
		defer wt.mu.Unlock()
		var out []string
		for i := range wt.events[from:] {
			out = append(out, endText(&wt.events[from+i]))
		}
		from = len(wt.events)
		slices.Sort(out)
		return out
	}
	check := func(what string, want []string) {
		t.Helper()
		slices.Sort(want)
		if diff := cmp.Diff(want, poll()); diff != "" {
			t.Errorf("%s (-want +got):\n%s\nevents:\n%s", what, diff, wt.dump())
		}
	}

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
	check("connected", []string{
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
	awaitReports(1) // the server's end
	check("reset, the client holding its socket", []string{
		fmt.Sprintf("change %v %v to CLOSE", l, cl),
		fmt.Sprintf("gone %v %v from CLOSE", l, cl),
		fmt.Sprintf("change %v %v to CLOSE", cl, l),
	})

	c.Close()
	awaitReports(1) // the client's
	check("the client closed", []string{fmt.Sprintf("gone %v %v from CLOSE", cl, l)})
	wt.stop()
}
