package inspect_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// gatedWatch is a watcher of a namespace's IPv4 TCP sockets on the netlink
// source with destroy reports, whose polls wait for the test (poll), and a
// witness subscription that tells when the kernel has sent reports.
type gatedWatch struct {
	t       *testing.T
	wt      *watching
	src     *gatedSource
	witness *netlinkdiag.EventConn
	from    int // the events poll has returned
}

func startGatedWatch(t *testing.T, ns *testnet.NS) *gatedWatch {
	t.Helper()
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates}
	witness, err := netlinkdiag.DialEvents(&netlinkdiag.Config{NetNS: ns.FD()}, netlinkdiag.GroupTCP4Destroy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { witness.Close() })
	d, err := sockdiag.SubscribeDestroyed(ns.FD(), q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	g := &gatedWatch{t: t, witness: witness, src: &gatedSource{inner: &sockdiag.Source{NetNS: ns.FD()}, gate: make(chan struct{}, 1)}}
	g.src.gate <- struct{}{}
	g.wt = startWatching(t, &inspect.Watcher{Source: g.src, Query: q, Interval: time.Millisecond, Destroyed: d})
	return g
}

// awaitReports waits, at most ten seconds, until the kernel has sent n
// more TCP destroy reports.
func (g *gatedWatch) awaitReports(n int) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for seen := 0; seen < n; {
		if err := g.witness.Receive(ctx, func(ev *netlinkdiag.Event) error {
			if ev.Protocol == 6 {
				seen++
			}
			return nil
		}); err != nil {
			g.t.Fatalf("witness after %d of %d reports: %v", seen, n, err)
		}
	}
}

// poll lets one poll through and returns its events (endText).
func (g *gatedWatch) poll() []string {
	g.t.Helper()
	g.wt.mu.Lock()
	n := g.wt.batches
	g.wt.mu.Unlock()
	g.src.gate <- struct{}{}
	g.wt.waitBatches(g.t, n+1)
	g.wt.mu.Lock()
	defer g.wt.mu.Unlock()
	var got []string
	for i := range g.wt.events[g.from:] {
		got = append(got, endText(&g.wt.events[g.from+i]))
	}
	g.from = len(g.wt.events)
	return got
}

// check lets one poll through and requires its events, in any order, to
// be want (endText).
func (g *gatedWatch) check(what string, want []string) {
	g.t.Helper()
	g.compare(what, want, g.poll())
}

// checkWithin lets polls through, at most five, until their events, in
// any order, are want, or are more than want. The kernel has sent the
// reports (awaitReports), but the watcher's feed may read them after a
// poll: a report that misses one poll comes with the next.
func (g *gatedWatch) checkWithin(what string, want []string) {
	g.t.Helper()
	var got []string
	for i := 0; i < 5 && len(got) < len(want); i++ {
		got = append(got, g.poll()...)
	}
	g.compare(what, want, got)
}

func (g *gatedWatch) compare(what string, want, got []string) {
	g.t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		g.t.Errorf("%s (-want +got):\n%s\nevents:\n%s", what, diff, g.wt.dump())
	}
}

// connect makes a connection to a listener on 127.0.0.1:7400 in ns, and
// checks that the next poll shows the three sockets new. It returns the
// client, the server's end, and their addresses; both ends are closed
// when the test ends.
func (g *gatedWatch) connect(ns *testnet.NS) (c, s net.Conn, l, cl netip.AddrPort) {
	g.t.Helper()
	ln := ns.Listen(g.t, "tcp4", "127.0.0.1:7400")
	ns.Do(g.t, func() (err error) {
		c, err = net.Dial("tcp4", "127.0.0.1:7400")
		return err
	})
	g.t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { s.Close() })
	l, cl = netip.MustParseAddrPort("127.0.0.1:7400"), c.LocalAddr().(*net.TCPAddr).AddrPort()
	unspec := netip.MustParseAddrPort("0.0.0.0:0")
	g.check("connected", []string{
		fmt.Sprintf("new %v %v to LISTEN", l, unspec),
		fmt.Sprintf("new %v %v to ESTABLISHED", l, cl),
		fmt.Sprintf("new %v %v to ESTABLISHED", cl, l),
	})
	return c, s, l, cl
}
