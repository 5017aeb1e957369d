package inspect_test

import (
	"context"
	"fmt"
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

// TestWatchSimultaneousClose polls a simultaneous close
// (testnet.StartSimClose) with the netlink source and destroy reports,
// one poll while the client is in CLOSING and the server's end in
// FIN_WAIT1, one after both reached TIME_WAIT and every descriptor was
// closed, and requires exactly the events of each: CLOSING is polled.
func TestWatchSimultaneousClose(t *testing.T) {
	ns := testnet.New(t)
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates}
	witness, err := netlinkdiag.DialEvents(&netlinkdiag.Config{NetNS: ns.FD()}, netlinkdiag.GroupTCP4Destroy)
	if err != nil {
		t.Fatal(err)
	}
	defer witness.Close()
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

	sc := ns.StartSimClose(t, 7400)
	l, c := sc.Listener, sc.Client
	unspec := netip.MustParseAddrPort("0.0.0.0:0")
	want := []string{
		fmt.Sprintf("new %v %v to LISTEN", l, unspec),
		fmt.Sprintf("new %v %v to FIN_WAIT1", l, c),
		fmt.Sprintf("new %v %v to CLOSING", c, l),
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, poll()); diff != "" {
		t.Errorf("while the FINs cross (-want +got):\n%s\nevents:\n%s", diff, wt.dump())
	}

	sc.Finish(t)
	// The listener and both full sockets are freed: wait until the
	// kernel has sent the three reports.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for seen := 0; seen < 3; {
		if err := witness.Receive(ctx, func(ev *netlinkdiag.Event) error {
			if ev.Protocol == 6 {
				seen++
			}
			return nil
		}); err != nil {
			t.Fatalf("witness after %d of 3 reports: %v", seen, err)
		}
	}
	// The listener, polled in LISTEN, is freed in CLOSE; the full
	// sockets' reports end nothing, as each connection lives on in its
	// time-wait socket, which has its cookie.
	want = []string{
		fmt.Sprintf("change %v %v to CLOSE", l, unspec),
		fmt.Sprintf("gone %v %v from CLOSE", l, unspec),
		fmt.Sprintf("change %v %v to TIME_WAIT", l, c),
		fmt.Sprintf("change %v %v to TIME_WAIT", c, l),
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, poll()); diff != "" {
		t.Errorf("after (-want +got):\n%s\nevents:\n%s", diff, wt.dump())
	}
	wt.stop()
}
