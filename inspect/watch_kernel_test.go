package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// watching is a Watcher running in the background of a test.
type watching struct {
	mu      sync.Mutex
	events  []inspect.WatchEvent
	batches int
	err     error
	stop    func()
}

// startWatching runs w until the test ends and waits for its first poll.
func startWatching(t *testing.T, w *inspect.Watcher) *watching {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wt := &watching{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := w.Watch(ctx, func(batch []inspect.WatchEvent) error {
			wt.mu.Lock()
			defer wt.mu.Unlock()
			wt.events = append(wt.events, batch...)
			wt.batches++
			return nil
		})
		wt.mu.Lock()
		wt.err = err
		wt.mu.Unlock()
	}()
	wt.stop = sync.OnceFunc(func() {
		cancel()
		<-done
		if wt.err != nil {
			t.Errorf("Watch: %v", wt.err)
		}
	})
	t.Cleanup(wt.stop)
	wt.waitBatches(t, 1)
	return wt
}

// waitBatches waits until the watcher has delivered n batches, at most
// five seconds.
func (wt *watching) waitBatches(t *testing.T, n int) {
	t.Helper()
	wt.waitFor(t, fmt.Sprintf("%d polls", n), func([]inspect.WatchEvent) bool { return wt.batches >= n })
}

// waitFor waits until cond holds of the events so far, at most five
// seconds, polling every millisecond.
func (wt *watching) waitFor(t *testing.T, what string, cond func([]inspect.WatchEvent) bool) {
	t.Helper()
	for range 5000 {
		wt.mu.Lock()
		ok := cond(wt.events)
		err := wt.err
		wt.mu.Unlock()
		if ok {
			return
		}
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("waited 5s for %s; events:\n%s", what, wt.dump())
}

func (wt *watching) dump() string {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	s := ""
	for _, e := range wt.events {
		s += fmt.Sprintf("  %s %s %v %v %v -> %v inode %d cookie %#x\n", e.Time.Format("15:04:05.000000"), e.Kind, e.Socket.Local, e.Socket.Peer, e.From, e.To, e.Socket.Inode, e.Socket.Cookie)
	}
	return s
}

// seen reports whether the events hold one of kind for local -> peer
// whose new state (or, for gone, old state) is st; st 0 matches any.
func seen(kind inspect.EventKind, local, peer netip.AddrPort, st inspect.State) func([]inspect.WatchEvent) bool {
	return func(events []inspect.WatchEvent) bool {
		return slices.ContainsFunc(events, func(e inspect.WatchEvent) bool {
			if e.Kind != kind || e.Socket.Local != local || e.Socket.Peer != peer {
				return false
			}
			return st == 0 || (kind == inspect.EventGone && e.From == st) || (kind != inspect.EventGone && e.To == st)
		})
	}
}

// reached reports whether the events show local -> peer in st, new in it
// or changed into it.
func reached(local, peer netip.AddrPort, st inspect.State) func([]inspect.WatchEvent) bool {
	return func(events []inspect.WatchEvent) bool {
		return seen(inspect.EventNew, local, peer, st)(events) || seen(inspect.EventChange, local, peer, st)(events)
	}
}

// sequence is one socket's history as the tests compare it: "new STATE",
// then each state it changed to, then "gone". The handshake's states,
// FIN_WAIT1 and LAST_ACK last until the peer's packet, microseconds inside
// the connecting or closing call on loopback, so a poll may or may not
// catch them: they are left out, and a socket first seen in the handshake
// is "new" in the state it reached next.
func sequence(events []inspect.WatchEvent, local, peer netip.AddrPort) []string {
	var out []string
	handshake := false
	for _, e := range events {
		if e.Socket.Local != local || e.Socket.Peer != peer {
			continue
		}
		switch {
		case e.Kind == inspect.EventNew && (e.To == inspect.SynSent || e.To == inspect.SynRecv):
			handshake = true
		case e.Kind == inspect.EventNew:
			out = append(out, "new "+e.To.String())
		case e.Kind == inspect.EventGone:
			out = append(out, "gone")
		case e.To == inspect.FinWait1 || e.To == inspect.LastAck:
		case handshake:
			out = append(out, "new "+e.To.String())
			handshake = false
		default:
			out = append(out, e.To.String())
		}
	}
	return out
}

type watchSource struct {
	name      string
	source    func(ns *testnet.NS) inspect.Source
	destroyed bool
}

var watchSources = []watchSource{
	{"netlink", func(ns *testnet.NS) inspect.Source { return &sockdiag.Source{NetNS: ns.FD()} }, true},
	{"auto", func(ns *testnet.NS) inspect.Source {
		return &sockdiag.AutoSource{Netlink: &sockdiag.Source{NetNS: ns.FD()}, Proc: &procsrc.Source{NetNS: ns.FD()}}
	}, true},
	{"proc", func(ns *testnet.NS) inspect.Source { return &procsrc.Source{NetNS: ns.FD()} }, false},
}

func newWatcher(t *testing.T, ns *testnet.NS, src watchSource, q inspect.Query, interval time.Duration) *inspect.Watcher {
	t.Helper()
	w := &inspect.Watcher{Source: src.source(ns), Query: q, Interval: interval}
	if src.destroyed {
		d, err := sockdiag.SubscribeDestroyed(ns.FD(), q)
		if err != nil {
			t.Fatalf("SubscribeDestroyed: %v", err)
		}
		t.Cleanup(func() { d.Close() })
		w.Destroyed = d
	}
	return w
}

// tcpQuery is what the step tests watch: TCP over IPv4, every state but
// CLOSE, which only sock_diag shows (for bound sockets that are not yet
// listening or connected).
var tcpQuery = inspect.Query{
	Protocols: []inspect.Protocol{inspect.TCP},
	Families:  []inspect.Family{inspect.INet},
	States:    inspect.AllStates &^ inspect.StatesOf(inspect.Close),
}

// TestWatchTextbook drives a listener, a client and the server's end of
// their connection one step at a time, waits after each step until the
// watcher shows its effect, and requires each socket's exact history,
// with each closer, from each source.
func TestWatchTextbook(t *testing.T) {
	for _, src := range []watchSource{watchSources[0], watchSources[2]} {
		for _, closer := range []string{"server", "client"} {
			t.Run(src.name+"/"+closer+" closes", func(t *testing.T) {
				ns := testnet.New(t)
				wt := startWatching(t, newWatcher(t, ns, src, tcpQuery, time.Millisecond))

				ln := ns.Listen(t, "tcp4", "127.0.0.1:7788")
				var client, server net.Conn
				lnAddr := netip.MustParseAddrPort("127.0.0.1:7788")
				any4 := netip.MustParseAddrPort("0.0.0.0:0")
				wt.waitFor(t, "LISTEN", seen(inspect.EventNew, lnAddr, any4, inspect.Listen))

				ns.Do(t, func() error {
					var err error
					if client, err = net.Dial("tcp4", "127.0.0.1:7788"); err != nil {
						return err
					}
					server, err = ln.Accept()
					return err
				})
				cl := client.LocalAddr().(*net.TCPAddr).AddrPort()
				wt.waitFor(t, "ESTABLISHED both ends", func(ev []inspect.WatchEvent) bool {
					return reached(cl, lnAddr, inspect.Established)(ev) && reached(lnAddr, cl, inspect.Established)(ev)
				})

				first, second := server, client
				firstL, firstP := lnAddr, cl
				if closer == "client" {
					first, second = client, server
					firstL, firstP = cl, lnAddr
				}
				first.Close()
				wt.waitFor(t, "FIN_WAIT2 and CLOSE_WAIT", func(ev []inspect.WatchEvent) bool {
					return seen(inspect.EventChange, firstL, firstP, inspect.FinWait2)(ev) &&
						seen(inspect.EventChange, firstP, firstL, inspect.CloseWait)(ev)
				})
				if _, err := second.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
					t.Fatalf("read after the peer closed: %v, want EOF", err)
				}
				second.Close()
				wt.waitFor(t, "TIME_WAIT and gone", func(ev []inspect.WatchEvent) bool {
					return seen(inspect.EventChange, firstL, firstP, inspect.TimeWait)(ev) &&
						seen(inspect.EventGone, firstP, firstL, 0)(ev)
				})
				ln.Close()
				wt.waitFor(t, "the listener gone", seen(inspect.EventGone, lnAddr, any4, inspect.Listen))
				wt.stop()

				closerWant := []string{"new ESTABLISHED", "FIN_WAIT2", "TIME_WAIT"}
				otherWant := []string{"new ESTABLISHED", "CLOSE_WAIT", "gone"}
				serverWant, clientWant := closerWant, otherWant
				if closer == "client" {
					serverWant, clientWant = otherWant, closerWant
				}
				for _, c := range []struct {
					name        string
					local, peer netip.AddrPort
					want        []string
				}{
					{"listener", lnAddr, any4, []string{"new LISTEN", "gone"}},
					{"server's end", lnAddr, cl, serverWant},
					{"client", cl, lnAddr, clientWant},
				} {
					if diff := cmp.Diff(c.want, sequence(wt.events, c.local, c.peer)); diff != "" {
						t.Errorf("%s's history (-want +got):\n%s\nevents:\n%s", c.name, diff, wt.dump())
					}
				}
				// Nothing else: the namespace holds these three sockets.
				for _, e := range wt.events {
					if e.Socket.Local.Port() != 7788 && e.Socket.Peer.Port() != 7788 {
						t.Errorf("unexpected event %s %v %v", e.Kind, e.Socket.Local, e.Socket.Peer)
					}
				}
			})
		}
	}
}

// TestWatchBetweenPolls opens and closes a connection between two polls
// 500ms apart. The client closes first, so its end stays in TIME_WAIT and
// the next poll shows it; the server's end is freed before that poll, and
// only the kernel's destroy report tells of it: gone, in CLOSE. Without
// destroy reports (the proc source) only the TIME_WAIT is seen.
func TestWatchBetweenPolls(t *testing.T) {
	for _, src := range watchSources {
		t.Run(src.name, func(t *testing.T) {
			ns := testnet.New(t)
			ln := ns.Listen(t, "tcp4", "127.0.0.1:7788")
			q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates}
			wt := startWatching(t, newWatcher(t, ns, src, q, 500*time.Millisecond))

			var cl netip.AddrPort
			ns.Do(t, func() error {
				client, err := net.Dial("tcp4", "127.0.0.1:7788")
				if err != nil {
					return err
				}
				server, err := ln.Accept()
				if err != nil {
					return err
				}
				cl = client.LocalAddr().(*net.TCPAddr).AddrPort()
				client.Close()
				if _, err := server.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
					return fmt.Errorf("server read: %v, want EOF", err)
				}
				return server.Close()
			})
			wt.waitBatches(t, 2)
			wt.stop()

			lnAddr := netip.MustParseAddrPort("127.0.0.1:7788")
			var got []string
			for _, e := range wt.events[1:] {
				s := fmt.Sprintf("%s %v %v", e.Kind, e.Socket.Local, e.Socket.Peer)
				switch e.Kind {
				case inspect.EventNew:
					s += " -> " + e.To.String()
				case inspect.EventGone:
					s += " " + e.From.String() + " ->"
					if e.Socket.Cookie == 0 {
						t.Errorf("gone %v: no cookie", e.Socket.Local)
					}
				}
				got = append(got, s)
			}
			want := []string{fmt.Sprintf("new %v %v -> TIME_WAIT", cl, lnAddr)}
			if src.destroyed {
				want = append([]string{fmt.Sprintf("gone %v %v CLOSE ->", lnAddr, cl)}, want...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events after the first poll (-want +got):\n%s", diff)
			}
		})
	}
}

// resetTuple reports whether s has a tuple no live socket has: a peer
// address without a port, or a peer without a local address. The kernel
// reports such a tuple for a socket closed with SO_LINGER 0, as
// tcp_disconnect clears its source address and destination port.
func resetTuple(s *inspect.Socket) bool {
	peer := s.Peer.Addr().IsValid() && !s.Peer.Addr().IsUnspecified()
	return peer && (s.Peer.Port() == 0 || s.Local.Addr().IsUnspecified())
}

// TestWatchLingerReset resets a connection by closing its client with
// SO_LINGER {on, 0}, once after a poll saw it and once between two
// polls, and requires every event to name a socket that existed: the
// kernel's destroy report of the client has no source address nor
// destination port, and must be matched by cookie to the socket the poll
// showed, or, when no poll showed it, reported once with what is left,
// marked reset.
func TestWatchLingerReset(t *testing.T) {
	for _, src := range watchSources {
		for _, between := range []bool{false, true} {
			name := src.name + "/seen"
			interval := 10 * time.Millisecond
			if between {
				name, interval = src.name+"/between polls", 500*time.Millisecond
			}
			t.Run(name, func(t *testing.T) {
				ns := testnet.New(t)
				var ln net.Listener
				ns.Do(t, func() error {
					var err error
					ln, err = net.Listen("tcp4", "127.0.0.1:7788")
					return err
				})
				defer ln.Close()
				lnAddr := netip.MustParseAddrPort("127.0.0.1:7788")
				q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates}
				wt := startWatching(t, newWatcher(t, ns, src, q, interval))

				var client *net.TCPConn
				var server net.Conn
				ns.Do(t, func() error {
					c, err := net.Dial("tcp4", "127.0.0.1:7788")
					if err != nil {
						return err
					}
					client = c.(*net.TCPConn)
					server, err = ln.Accept()
					return err
				})
				cl := client.LocalAddr().(*net.TCPAddr).AddrPort()
				if !between {
					wt.waitFor(t, "the connection", func(events []inspect.WatchEvent) bool {
						return reached(cl, lnAddr, inspect.Established)(events) && reached(lnAddr, cl, inspect.Established)(events)
					})
				}
				if err := client.SetLinger(0); err != nil {
					t.Fatal(err)
				}
				client.Close()
				if _, err := server.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("server read: %v, want ECONNRESET", err)
				}
				server.Close()
				switch {
				case !between:
					wt.waitFor(t, "the server's end gone", seen(inspect.EventGone, lnAddr, cl, 0))
					wt.waitFor(t, "the client gone", seen(inspect.EventGone, cl, lnAddr, 0))
				case src.destroyed:
					wt.waitFor(t, "the server's end gone", seen(inspect.EventGone, lnAddr, cl, 0))
					wt.waitFor(t, "the client reported reset", seen(inspect.EventGone,
						netip.AddrPortFrom(netip.IPv4Unspecified(), cl.Port()), netip.AddrPortFrom(lnAddr.Addr(), 0), 0))
				default:
					// Without destroy reports nothing shows the
					// connection: wait for a poll after it.
					wt.waitBatches(t, 2)
				}
				wt.stop()

				resets := 0
				for _, e := range wt.events {
					if resetTuple(&e.Socket) != e.Reset {
						t.Errorf("%s %v -> %v (cookie %#x) reset %v: a cleared tuple, and only one, is marked reset", e.Kind, e.Socket.Local, e.Socket.Peer, e.Socket.Cookie, e.Reset)
					}
					if e.Reset {
						resets++
						want := netip.AddrPortFrom(netip.IPv4Unspecified(), cl.Port())
						if e.Kind != inspect.EventGone || e.Socket.Local != want || e.Socket.Peer != netip.AddrPortFrom(lnAddr.Addr(), 0) {
							t.Errorf("%s %v -> %v reset, want gone %v -> %v:0", e.Kind, e.Socket.Local, e.Socket.Peer, want, lnAddr.Addr())
						}
					}
				}
				if between {
					// No poll showed the client: with destroy reports,
					// it is reported once, with what is left of it.
					if want := map[bool]int{true: 1, false: 0}[src.destroyed]; resets != want {
						t.Errorf("%d reset reports, want %d; events:\n%s", resets, want, wt.dump())
					}
					return
				}
				if resets != 0 {
					t.Errorf("%d reset reports of a client a poll showed; events:\n%s", resets, wt.dump())
				}
				// Whether CLOSE shows depends on what came first: a poll
				// after the close, which finds the socket gone from the
				// state it last showed, or the destroy report, which says
				// it died in CLOSE. Both name the socket by its tuple.
				want := []string{"new ESTABLISHED", "gone"}
				notClose := func(h []string) []string {
					return slices.DeleteFunc(h, func(s string) bool { return s == "CLOSE" })
				}
				if diff := cmp.Diff(want, notClose(sequence(wt.events, cl, lnAddr))); diff != "" {
					t.Errorf("client (-want +got):\n%s\nevents:\n%s", diff, wt.dump())
				}
				if diff := cmp.Diff(want, notClose(sequence(wt.events, lnAddr, cl))); diff != "" {
					t.Errorf("server's end (-want +got):\n%s\nevents:\n%s", diff, wt.dump())
				}
			})
		}
	}
}

// TestWatchReusePort opens two SO_REUSEPORT listeners on one address and
// requires each source to report them new once and nothing more over ten
// polls: /proc gives them one tuple, and only their inodes tell them
// apart.
func TestWatchReusePort(t *testing.T) {
	for _, src := range watchSources {
		t.Run(src.name, func(t *testing.T) {
			ns := testnet.New(t)
			lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
				var serr error
				if err := c.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
				}); err != nil {
					return err
				}
				return serr
			}}
			var inodes []uint64
			for range 2 {
				var ln net.Listener
				ns.Do(t, func() error {
					var err error
					ln, err = lc.Listen(context.Background(), "tcp4", "127.0.0.1:7788")
					return err
				})
				t.Cleanup(func() { ln.Close() })
				inodes = append(inodes, testnet.Inode(t, ln.(*net.TCPListener)))
			}
			wt := startWatching(t, newWatcher(t, ns, src, tcpQuery, time.Millisecond))
			wt.waitBatches(t, 10)
			wt.stop()
			var got []string
			for _, e := range wt.events {
				got = append(got, fmt.Sprintf("%s %v %v -> %v inode %d", e.Kind, e.Socket.Local, e.Socket.Peer, e.To, e.Socket.Inode))
			}
			slices.Sort(got)
			want := []string{
				fmt.Sprintf("new 127.0.0.1:7788 0.0.0.0:0 -> LISTEN inode %d", inodes[0]),
				fmt.Sprintf("new 127.0.0.1:7788 0.0.0.0:0 -> LISTEN inode %d", inodes[1]),
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events over ten polls (-want +got):\n%s", diff)
			}
		})
	}
}
