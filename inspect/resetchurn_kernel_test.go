package inspect_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/ssfilter"
	"github.com/sockstate/sockstate/internal/testnet"
)

// resetTally counts what a watcher reported of a reset churn's clients.
type resetTally struct {
	mu        sync.Mutex
	listener  netip.AddrPort
	reported  map[netip.AddrPort]int // client address -> gone events
	gone      map[uint64]bool        // cookies reported gone
	twice     int
	unmatched uint64
	lost      uint64
}

// add tallies a batch: a client's gone event names it by its tuple, or,
// marked reset, by what the kernel left (0.0.0.0:PORT to the listener's
// address, port 0).
func (r *resetTally) add(batch []inspect.WatchEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range batch {
		e := &batch[i]
		switch e.Kind {
		case inspect.EventUnmatched:
			r.unmatched += e.Unmatched
		case inspect.EventLost:
			r.lost += e.Lost
		case inspect.EventGone:
			s := &e.Socket
			switch {
			case s.Peer == r.listener && s.Local != r.listener:
				r.reported[s.Local]++
			case e.Reset && s.Peer == netip.AddrPortFrom(r.listener.Addr(), 0):
				r.reported[netip.AddrPortFrom(r.listener.Addr(), s.Local.Port())]++
			default:
				continue
			}
			if r.gone[s.Cookie] {
				r.twice++
			}
			r.gone[s.Cookie] = true
		}
	}
	return nil
}

// sum returns the client ends reported, the unmatched and the lost.
func (r *resetTally) sum() (reported int, unmatched, lost uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.reported {
		reported += n
	}
	return reported, r.unmatched, r.lost
}

// resetChurn watches n linger-0 connections made about rate a second (0:
// as fast as they go) with a netlink watcher, destroy reports and filter,
// polling every 10ms, and returns its tally and the connections made.
func resetChurn(t testing.TB, filter string, n, rate int) (*resetTally, map[netip.AddrPort]int, time.Duration) {
	ns := testnet.New(t)
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates}
	if filter != "" {
		f, err := ssfilter.Parse([]string{filter})
		if err != nil {
			t.Fatal(err)
		}
		q.Filter = f
	}
	d, err := sockdiag.SubscribeDestroyed(ns.FD(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tally := &resetTally{listener: netip.MustParseAddrPort("127.0.0.1:7400"), reported: map[netip.AddrPort]int{}, gone: map[uint64]bool{}}
	w := &inspect.Watcher{Source: &sockdiag.Source{NetNS: ns.FD()}, Query: q, Interval: 10 * time.Millisecond, Destroyed: d}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Watch(ctx, tally.add) }()

	made, elapsed := ns.ResetChurn(t, 7400, n, rate)
	// Every end is reported, counted or lost once the watcher has taken
	// the last destroy reports: a bounded wait for the sum.
	for range 500 {
		reported, unmatched, lost := tally.sum()
		if uint64(reported)+unmatched+lost >= uint64(n) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// One poll more, for anything counted twice.
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch: %v", err)
	}
	return tally, made, elapsed
}

// TestWatchResetChurn makes 1,000 connections closed by their clients with
// SO_LINGER 0 (an RST; the kernel clears the source address and the
// destination port of each before its destroy report) under a netlink
// watcher polling every 10ms, and requires every connection to be
// reported or counted: with no filter, each client end gone once, by a
// poll's sighting or with what the kernel left, marked reset; under
// "dport = :7400", which the cleared port decides, reported when a poll
// saw it and counted as unmatched otherwise. The sum of the reported, the
// unmatched and the lost equals the connections made, exactly; no client
// is reported beyond its connections, none twice.
func TestWatchResetChurn(t *testing.T) {
	const n = 1000
	for _, filter := range []string{"", "dport = :7400"} {
		t.Run(fmt.Sprintf("filter %q", filter), func(t *testing.T) {
			tally, made, elapsed := resetChurn(t, filter, n, 0)
			reported, unmatched, lost := tally.sum()
			t.Logf("%d connections in %v: %d reported, %d unmatched, %d lost", n, elapsed.Round(time.Millisecond), reported, unmatched, lost)
			if got := uint64(reported) + unmatched + lost; got != n {
				t.Errorf("reported %d + unmatched %d + lost %d = %d, want the %d connections made", reported, unmatched, lost, got, n)
			}
			if filter == "" && unmatched != 0 {
				t.Errorf("%d unmatched with no filter to match", unmatched)
			}
			tally.mu.Lock()
			defer tally.mu.Unlock()
			for addr, k := range tally.reported {
				if k > made[addr] {
					t.Errorf("client %v reported gone %d times, made %d connections", addr, k, made[addr])
				}
			}
			if tally.twice != 0 {
				t.Errorf("%d cookies reported gone twice", tally.twice)
			}
		})
	}
}

// BenchmarkWatchResetChurn is the run: 1,000 linger-0 connections
// a second for 20 seconds under `watch --interval 10ms 'dport = :7400'`,
// once per iteration; it reports the connections made and how many were
// reported, counted unmatched and lost (their sum must be made).
func BenchmarkWatchResetChurn(b *testing.B) {
	for b.Loop() {
		tally, made, _ := resetChurn(b, "dport = :7400", 20_000, 1000)
		reported, unmatched, lost := tally.sum()
		total := 0
		for _, k := range made {
			total += k
		}
		b.ReportMetric(float64(total), "made")
		b.ReportMetric(float64(reported), "reported")
		b.ReportMetric(float64(unmatched), "unmatched")
		b.ReportMetric(float64(lost), "lost")
		if uint64(reported)+unmatched+lost != uint64(total) {
			b.Errorf("reported %d + unmatched %d + lost %d != made %d", reported, unmatched, lost, total)
		}
	}
}
