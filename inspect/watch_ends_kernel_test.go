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
	"github.com/sockstate/sockstate/inspect/ssfilter"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// gatedSource lets one poll through for each value sent on gate, so that
// a test can script what happens between two polls.
type gatedSource struct {
	inner inspect.Source
	gate  chan struct{}
}

func (g *gatedSource) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.inner.Sockets(ctx, q)
}

// endText is an event as TestWatchEndings compares it.
func endText(e *inspect.WatchEvent) string {
	switch e.Kind {
	case inspect.EventUnmatched:
		return fmt.Sprintf("unmatched %d", e.Unmatched)
	case inspect.EventLost:
		return fmt.Sprintf("lost %d", e.Lost)
	}
	s := fmt.Sprintf("%s %v %v", e.Kind, e.Socket.Local, e.Socket.Peer)
	switch e.Kind {
	case inspect.EventGone:
		s += " from " + e.From.String()
	default:
		s += " to " + e.To.String()
	}
	if e.Reset {
		s += " reset"
	}
	return s
}

// TestWatchEndings scripts each ending between two polls of a watcher on
// the netlink source with destroy reports, and requires exactly the
// events that what the kernel reports allows: each socket gone in the
// state it was freed in, a socket closed with SO_LINGER 0 (whose tuple the
// kernel cleared) gone with what is left, marked reset, or, under a
// filter on the cleared peer port, counted as unmatched, and a socket
// left in TIME_WAIT new in it. Polls wait for the test: a witness
// subscription tells when the kernel has sent every destroy report.
func TestWatchEndings(t *testing.T) {
	const port = 7400
	lnAddr := netip.MustParseAddrPort("127.0.0.1:7400")
	unspec := netip.MustParseAddrPort("0.0.0.0:0")
	tests := []struct {
		how     testnet.Ending
		filter  string
		reports int // the TCP destroy reports the kernel sends
		want    func(e testnet.Ended) []string
	}{
		{testnet.OrderlyClientFirst, "", 3, func(e testnet.Ended) []string {
			return []string{
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, unspec),
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, e.Client),
				fmt.Sprintf("new %v %v to TIME_WAIT", e.Client, lnAddr),
			}
		}},
		{testnet.OrderlyServerFirst, "", 3, func(e testnet.Ended) []string {
			return []string{
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, unspec),
				fmt.Sprintf("gone %v %v from CLOSE", e.Client, lnAddr),
				fmt.Sprintf("new %v %v to TIME_WAIT", lnAddr, e.Client),
			}
		}},
		{testnet.ClientLinger0, "", 3, func(e testnet.Ended) []string {
			return []string{
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, unspec),
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, e.Client),
				fmt.Sprintf("gone 0.0.0.0:%d 127.0.0.1:0 from CLOSE reset", e.Client.Port()),
			}
		}},
		{testnet.ClientLinger0, "dport = :7400", 3, func(e testnet.Ended) []string {
			return []string{"unmatched 1"}
		}},
		{testnet.ClientLinger0, "sport = :7400", 3, func(e testnet.Ended) []string {
			return []string{
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, unspec),
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, e.Client),
			}
		}},
		{testnet.ServerLinger0, "", 3, func(e testnet.Ended) []string {
			return []string{
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, unspec),
				fmt.Sprintf("gone %v %v from CLOSE", e.Client, lnAddr),
				// The server's end keeps the address its listener was
				// bound to (SOCK_BINDADDR_LOCK); the peer port goes.
				fmt.Sprintf("gone %v 127.0.0.1:0 from CLOSE reset", lnAddr),
			}
		}},
		{testnet.Refused, "", 1, func(e testnet.Ended) []string {
			return []string{fmt.Sprintf("gone %v %v from CLOSE", e.Client, lnAddr)}
		}},
		{testnet.TimedOut, "", 1, func(e testnet.Ended) []string {
			return []string{fmt.Sprintf("gone %v %v from CLOSE", e.Client, e.Listener)}
		}},
		{testnet.AcceptQueue, "", 3, func(e testnet.Ended) []string {
			return []string{
				fmt.Sprintf("gone %v %v from CLOSE", lnAddr, unspec),
				fmt.Sprintf("gone %v %v from CLOSE", e.Client, lnAddr),
				fmt.Sprintf("gone %v 127.0.0.1:0 from CLOSE reset", lnAddr),
			}
		}},
	}
	for _, tt := range tests {
		name := string(tt.how)
		if tt.filter != "" {
			name += ", " + tt.filter
		}
		t.Run(name, func(t *testing.T) {
			ns := testnet.New(t)
			if tt.how == testnet.TimedOut {
				ns.Blackhole(t)
			}
			q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates}
			if tt.filter != "" {
				f, err := ssfilter.Parse([]string{tt.filter})
				if err != nil {
					t.Fatal(err)
				}
				q.Filter = f
			}
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

			e := ns.End(t, tt.how, port)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for seen := 0; seen < tt.reports; {
				err := witness.Receive(ctx, func(ev *netlinkdiag.Event) error {
					if ev.Protocol == 6 && ev.Src.Port() != 0 {
						seen++
					}
					return nil
				})
				if err != nil {
					t.Fatalf("witness after %d of %d reports: %v", seen, tt.reports, err)
				}
			}
			// The watcher's subscription was offered every report: let
			// polls through until they are all taken, then one more.
			want := tt.want(e)
			slices.Sort(want)
			got := func() []string {
				wt.mu.Lock()
				defer wt.mu.Unlock()
				var out []string
				for i := range wt.events {
					out = append(out, endText(&wt.events[i]))
				}
				slices.Sort(out)
				return out
			}
			for polls := 2; polls < 1000 && len(got()) < len(want); polls++ {
				src.gate <- struct{}{}
				wt.waitBatches(t, polls)
			}
			wt.mu.Lock()
			last := wt.batches
			wt.mu.Unlock()
			src.gate <- struct{}{}
			wt.waitBatches(t, last+1)
			wt.stop()
			if diff := cmp.Diff(want, got()); diff != "" {
				t.Errorf("events (-want +got):\n%s\nevents:\n%s", diff, wt.dump())
			}
		})
	}
}
