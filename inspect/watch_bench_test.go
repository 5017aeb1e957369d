package inspect_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netns"
)

// BenchmarkWatchPoll measures one poll of a Watcher over 10,000 connected
// TCP sockets (5,000 pairs) and a listener in a namespace as Watch polls:
// the dump or the /proc read and the dedup, into the memory of the poll
// before the last, then the diff against the previous poll.
// cpu-ns/op is the process's user and system time per poll; the target is
// under 25ms, so that 100 polls a second hold. The kernel walks its whole
// TCP hash table, which is shared by every namespace, so sockets of other
// namespaces on the machine add to the time.
func BenchmarkWatchPoll(b *testing.B) {
	ns := testnet.New(b)
	const pairs = 5000
	ns.OpenPairs(b, pairs)
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates}
	for _, src := range []struct {
		name string
		s    inspect.Source
	}{
		{"netlink", &sockdiag.Source{NetNS: ns.FD()}},
		{"proc", &procsrc.Source{NetNS: ns.FD()}},
	} {
		b.Run(src.name, func(b *testing.B) {
			ctx := context.Background()
			t := inspect.NewTracker(&q)
			p := inspect.NewPoll(src.s)
			defer p.Close()
			prev, err := p.Poll(ctx, q, nil)
			if err != nil {
				b.Fatal(err)
			}
			if len(prev) != 2*pairs+1 {
				b.Fatalf("%d sockets, want %d", len(prev), 2*pairs+1)
			}
			var spare []inspect.Socket
			b.ReportAllocs()
			cpu0 := testnet.CPUTime(b)
			for b.Loop() {
				next, err := p.Poll(ctx, q, spare)
				if err != nil {
					b.Fatal(err)
				}
				now := time.Now()
				batch := t.Step(prev, next, now)
				if len(batch) != 0 {
					b.Fatalf("%d events on sockets that do not change", len(batch))
				}
				prev, spare = next, prev
			}
			b.ReportMetric(float64(testnet.CPUTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkWatchChurn opens 2,000 connections a second for two seconds in
// a namespace while a Watcher polls it, and reports the share of the
// states each connection goes through that the watcher saw. Each
// connection is held ESTABLISHED for holdTime, then the client closes
// (client FIN_WAIT2, server CLOSE_WAIT) for holdTime, then the server
// closes (client TIME_WAIT, server freed). Of each connection six states
// are counted: ESTABLISHED, FIN_WAIT2 and TIME_WAIT of the client,
// ESTABLISHED, CLOSE_WAIT and its end (gone) of the server. One op is the
// whole run; run it with -benchtime=1x.
func BenchmarkWatchChurn(b *testing.B) {
	const (
		rate     = 2000
		duration = 2 * time.Second
		holdTime = 20 * time.Millisecond
	)
	for _, interval := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond} {
		for _, source := range []string{"netlink", "proc"} {
			b.Run(fmt.Sprintf("%v/%s", interval, source), func(b *testing.B) {
				for b.Loop() {
					seen, byState, conns := churn(b, source, interval, rate, duration, holdTime)
					b.ReportMetric(100*seen, "%seen")
					for i, name := range churnStates {
						b.ReportMetric(100*byState[i], "%"+name)
					}
					b.ReportMetric(float64(conns)/duration.Seconds(), "conns/s")
				}
			})
		}
	}
}

// churnStates names the states churn counts, in its order: the client's
// then the server's.
var churnStates = []string{"cl-EST", "cl-FW2", "cl-TW", "sv-EST", "sv-CW", "sv-gone"}

// churn runs one churn and returns the share of states seen, in all and
// for each of churnStates, and the number of connections made.
func churn(b *testing.B, source string, interval time.Duration, rate int, duration, hold time.Duration) (float64, []float64, int) {
	ns := testnet.New(b)
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates &^ inspect.StatesOf(inspect.Close)}
	w := &inspect.Watcher{Query: q, Interval: interval}
	if source == "netlink" {
		w.Source = &sockdiag.Source{NetNS: ns.FD()}
		d, err := sockdiag.SubscribeDestroyed(ns.FD(), q)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		w.Destroyed = d
	} else {
		w.Source = &procsrc.Source{NetNS: ns.FD()}
	}

	// states[tuple] is the set of states seen of the socket local -> peer.
	var mu sync.Mutex
	states := map[[2]netip.AddrPort]map[inspect.State]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	watchDone := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		first := true
		watchDone <- w.Watch(ctx, func(batch []inspect.WatchEvent) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range batch {
				k := [2]netip.AddrPort{e.Socket.Local, e.Socket.Peer}
				if states[k] == nil {
					states[k] = map[inspect.State]bool{}
				}
				st := e.To
				if e.Kind == inspect.EventGone {
					st = 0
				}
				states[k][st] = true
			}
			if first {
				first = false
				close(started)
			}
			return nil
		})
	}()
	<-started

	var ln int
	lnAddr := netip.MustParseAddrPort("127.0.0.1:7788")
	err := netns.Do(ns.FD(), func() error {
		var err error
		if ln, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.Bind(ln, &unix.SockaddrInet4{Port: 7788, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		return unix.Listen(ln, 4096)
	})
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(ln)

	// Sockets are made by one goroutine on a thread in the namespace;
	// the closes are timed with AfterFunc.
	var clients []netip.AddrPort
	var wg sync.WaitGroup
	var failed error
	var failMu sync.Mutex
	fail := func(err error) {
		failMu.Lock()
		if failed == nil {
			failed = err
		}
		failMu.Unlock()
	}
	err = netns.Do(ns.FD(), func() error {
		// Keep up the rate on average: open as many as are due, then
		// sleep a little.
		start := time.Now()
		for made := 0; ; made++ {
			elapsed := time.Since(start)
			if elapsed >= duration {
				break
			}
			if due := int(elapsed * time.Duration(rate) / time.Second); made >= due {
				time.Sleep(time.Second / time.Duration(rate) / 2)
				made--
				continue
			}
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			if err := unix.Connect(c, &unix.SockaddrInet4{Port: 7788, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				unix.Close(c)
				return err
			}
			s, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
			if err != nil {
				unix.Close(c)
				return err
			}
			sa, err := unix.Getsockname(c)
			if err != nil {
				return err
			}
			in4 := sa.(*unix.SockaddrInet4)
			clients = append(clients, netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)))
			wg.Add(1)
			time.AfterFunc(hold, func() {
				if err := unix.Close(c); err != nil {
					fail(err)
				}
				time.AfterFunc(hold, func() {
					defer wg.Done()
					if err := unix.Close(s); err != nil {
						fail(err)
					}
				})
			})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	// Two more polls see the last connections' ends.
	time.Sleep(2*interval + 50*time.Millisecond)
	cancel()
	if err := <-watchDone; err != nil {
		b.Fatal(err)
	}
	if failed != nil {
		b.Fatal(failed)
	}

	mu.Lock()
	defer mu.Unlock()
	seen, total := 0, 0
	byState := make([]float64, len(churnStates))
	for _, cl := range clients {
		for i, want := range []struct {
			k  [2]netip.AddrPort
			st inspect.State
		}{
			{[2]netip.AddrPort{cl, lnAddr}, inspect.Established},
			{[2]netip.AddrPort{cl, lnAddr}, inspect.FinWait2},
			{[2]netip.AddrPort{cl, lnAddr}, inspect.TimeWait},
			{[2]netip.AddrPort{lnAddr, cl}, inspect.Established},
			{[2]netip.AddrPort{lnAddr, cl}, inspect.CloseWait},
			{[2]netip.AddrPort{lnAddr, cl}, 0},
		} {
			total++
			if states[want.k][want.st] {
				seen++
				byState[i]++
			}
		}
	}
	for i := range byState {
		byState[i] /= float64(len(clients))
	}
	return float64(seen) / float64(total), byState, len(clients)
}
