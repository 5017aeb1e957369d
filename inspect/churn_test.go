package inspect_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// churnRate is the connections a second the churn tests open and close.
const churnRate = 2000

// churnDuration is how long a churn test runs: SOCKSTATE_CHURN (such as
// 60s or 10m) or 20s.
func churnDuration(t *testing.T) time.Duration {
	t.Helper()
	if testing.Short() {
		t.Skip("churn runs for seconds; skipped with -short")
	}
	v := os.Getenv("SOCKSTATE_CHURN")
	if v == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("SOCKSTATE_CHURN=%q: want a positive duration such as 60s", v)
	}
	return d
}

// usage is what the process holds: open descriptors, live heap after a
// collection, resident memory.
type usage struct {
	fds       int
	heap, rss uint64
}

func (u usage) String() string {
	return fmt.Sprintf("%d fds, heap %.1f MiB, RSS %.1f MiB", u.fds, float64(u.heap)/(1<<20), float64(u.rss)/(1<<20))
}

func measure(t *testing.T) usage {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var rss uint64
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			rss = kb << 10
		}
	}
	return usage{fds: len(fds), heap: ms.HeapAlloc, rss: rss}
}

// eventAudit checks a watcher's events as they come, keeping memory
// bounded however long it runs.
type eventAudit struct {
	listener netip.AddrPort

	mu       sync.Mutex
	alive    map[inspect.Key]bool      // reported new and not yet gone
	goneAt   map[inspect.Key]time.Time // reported gone, for goneMemory
	byClient map[netip.AddrPort]int    // gone events of the churn's client sockets
	counts   map[inspect.EventKind]int
	problems []string
}

// goneMemory is how long a gone socket is remembered to catch a second
// gone: well beyond the second in which the watcher absorbs a late
// destroy report. Cookies are never reused, so the only duplicates are
// late ones.
const goneMemory = 10 * time.Second

func newEventAudit(listener netip.AddrPort) *eventAudit {
	return &eventAudit{
		listener: listener,
		alive:    map[inspect.Key]bool{},
		goneAt:   map[inspect.Key]time.Time{},
		byClient: map[netip.AddrPort]int{},
		counts:   map[inspect.EventKind]int{},
	}
}

func (a *eventAudit) problem(format string, args ...any) {
	if len(a.problems) < 20 {
		a.problems = append(a.problems, fmt.Sprintf(format, args...))
	}
}

func (a *eventAudit) add(batch []inspect.WatchEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for k, at := range a.goneAt {
		if now.Sub(at) > goneMemory {
			delete(a.goneAt, k)
		}
	}
	for i := range batch {
		e := &batch[i]
		a.counts[e.Kind]++
		k := inspect.KeyOf(&e.Socket)
		switch e.Kind {
		case inspect.EventNew:
			if a.alive[k] {
				a.problem("second new for %v without a gone: %+v", k, e.Socket)
			}
			a.alive[k] = true
			delete(a.goneAt, k)
		case inspect.EventGone:
			if _, ok := a.goneAt[k]; ok {
				a.problem("second gone for %v: %+v", k, e.Socket)
			}
			delete(a.alive, k)
			a.goneAt[k] = now
			if e.Socket.Peer == a.listener && e.Socket.Local != a.listener {
				a.byClient[e.Socket.Local]++
			}
		}
	}
	return nil
}

// missing returns how many of the closed client sockets have had no gone
// event, and how many gone events came for client sockets beyond those.
func (a *eventAudit) missing(closed map[netip.AddrPort]int) (missing, extra int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for addr, n := range closed {
		missing += max(n-a.byClient[addr], 0)
	}
	for addr, n := range a.byClient {
		extra += max(n-closed[addr], 0)
	}
	return missing, extra
}

// TestChurn runs a watcher (netlink source and destroy reports, 100ms)
// and listings from both sources while 2,000 connections a second open
// and close in a namespace, and requires: no event twice for a socket;
// a gone event for every closed client socket unless the watcher counted
// a loss; no socket twice in a listing; descriptors flat and memory
// bounded.
func TestChurn(t *testing.T) {
	d := churnDuration(t)
	ns := testnet.New(t)
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates}
	destroyed, err := sockdiag.SubscribeDestroyed(ns.FD(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer destroyed.Close()

	start := measure(t)
	churn := ns.StartChurn(t, churnRate)
	audit := newEventAudit(churn.Listener)
	w := &inspect.Watcher{
		Source:    &sockdiag.Source{NetNS: ns.FD()},
		Query:     q,
		Interval:  100 * time.Millisecond,
		Destroyed: destroyed,
	}
	ctx, cancel := context.WithCancel(context.Background())
	watchDone := make(chan error, 1)
	go func() { watchDone <- w.Watch(ctx, audit.add) }()
	defer func() {
		cancel()
		if err := <-watchDone; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()

	lsCtx, lsCancel := context.WithCancel(context.Background())
	var lsWG sync.WaitGroup
	var lsRuns, lsDups int
	var lsErr error
	lsWG.Go(func() {
		lsRuns, lsDups, lsErr = listRepeatedly(lsCtx, ns.FD(), q)
	})

	time.Sleep(d)
	lsCancel()
	lsWG.Wait()
	stats, closed, err := churn.Stop()
	if err != nil {
		t.Fatalf("churn: %v", err)
	}

	// The last client sockets are freed as the FIN's ACK arrives; give
	// the watcher a bounded while to report them.
	var missing, extra int
	for range 50 {
		if missing, extra = audit.missing(closed); missing == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	end := measure(t)

	audit.mu.Lock()
	counts := audit.counts
	problems := audit.problems
	audit.mu.Unlock()
	t.Logf("churn for %v: %d connections closed (%.0f/s), %d failed", stats.Elapsed.Round(time.Millisecond), stats.Closed, float64(stats.Closed)/stats.Elapsed.Seconds(), stats.Failed)
	t.Logf("events: %d new, %d change, %d gone, %d lost; client sockets without a gone: %d, gone beyond the closed: %d",
		counts[inspect.EventNew], counts[inspect.EventChange], counts[inspect.EventGone], counts[inspect.EventLost], missing, extra)
	t.Logf("listings under churn: %d, with a socket twice: %d", lsRuns, lsDups)
	t.Logf("start: %v; end: %v", start, end)

	for _, p := range problems {
		t.Error(p)
	}
	if counts[inspect.EventLost] == 0 && missing != 0 {
		t.Errorf("%d closed client sockets never reported gone, and no loss reported", missing)
	}
	if stats.Failed == 0 && extra != 0 {
		t.Errorf("%d gone events for client sockets beyond the %d closed", extra, stats.Closed)
	}
	if lsErr != nil {
		t.Errorf("listing under churn: %v", lsErr)
	}
	if lsDups != 0 {
		t.Errorf("%d of %d listings under churn had a socket twice", lsDups, lsRuns)
	}
	// A poll in progress holds one more: its sock_diag socket.
	if end.fds > start.fds+1 {
		t.Errorf("open descriptors went from %d to %d", start.fds, end.fds)
	}
	if end.heap > 2*start.heap+32<<20 {
		t.Errorf("heap grew from %d to %d bytes", start.heap, end.heap)
	}
	if end.rss > start.rss+256<<20 {
		t.Errorf("RSS grew from %d to %d bytes", start.rss, end.rss)
	}
}

// listRepeatedly lists q in the namespace open at fd from the netlink
// and proc sources in turn until ctx ends, and returns how many listings
// it made and how many showed a socket twice.
func listRepeatedly(ctx context.Context, fd int, q inspect.Query) (runs, dups int, err error) {
	sources := []inspect.Source{&sockdiag.Source{NetNS: fd}, &procsrc.Source{NetNS: fd}}
	seen := map[inspect.Key]bool{}
	for ctx.Err() == nil {
		socks, err := sources[runs%len(sources)].Sockets(ctx, q)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return runs, dups, err
		}
		runs++
		clear(seen)
		for i := range socks {
			k := inspect.KeyOf(&socks[i])
			if seen[k] {
				dups++
				break
			}
			seen[k] = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return runs, dups, nil
}
