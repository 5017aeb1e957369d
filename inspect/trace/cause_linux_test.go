package trace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// causeLine is line with the cause of a move to CLOSE.
func causeLine(tr *Transition) string {
	s := line(tr)
	if tr.To == inspect.Close {
		s += " " + tr.Cause.String()
	}
	return s
}

// causeSequences is sequences with causeLine.
func causeSequences(trs []Transition) []string {
	by := map[uint64][]string{}
	for i := range trs {
		by[trs[i].Cookie] = append(by[trs[i].Cookie], causeLine(&trs[i]))
	}
	var out []string
	for _, l := range by {
		out = append(out, strings.Join(l, "\n"))
	}
	slices.Sort(out)
	return out
}

// stepLine is a transition as causeLine writes it.
func stepLine(from, to inspect.State, local, peer netip.AddrPort, cause ...inspect.Cause) string {
	s := fmt.Sprintf("tcp inet %s -> %s %s %s", from, to, local, peer)
	for _, c := range cause {
		s += " " + c.String()
	}
	return s
}

// endingLines returns the lines each socket of an ending must produce,
// with the cause of each move to CLOSE, sorted as causeSequences sorts
// them.
func endingLines(how testnet.Ending, e testnet.Ended) []string {
	l, c := e.Listener, e.Client
	listener, client, server := testnet.Opened(l, c)
	listener = append(listener, testnet.ListenerClosed(l))
	reset := func(local, peer netip.AddrPort, cause inspect.Cause) testnet.Step {
		return testnet.Step{From: "ESTABLISHED", To: "CLOSE", Local: local, Peer: peer, Cause: cause.String()}
	}
	connect := func(cause inspect.Cause) [][]testnet.Step {
		return [][]testnet.Step{{
			{From: "CLOSE", To: "SYN_SENT", Local: c, Peer: l},
			{From: "SYN_SENT", To: "CLOSE", Local: c, Peer: l, Cause: cause.String()},
		}}
	}
	var socks [][]testnet.Step
	switch how {
	case testnet.OrderlyClientFirst:
		socks = [][]testnet.Step{listener, append(client, testnet.ClosedFirst(c, l)...), append(server, testnet.ClosedSecond(l, c)...)}
	case testnet.OrderlyServerFirst:
		socks = [][]testnet.Step{listener, append(client, testnet.ClosedSecond(c, l)...), append(server, testnet.ClosedFirst(l, c)...)}
	case testnet.ClientLinger0:
		socks = [][]testnet.Step{listener, append(client, reset(c, l, inspect.CauseResetSent)), append(server, reset(l, c, inspect.CauseResetReceived))}
	case testnet.ServerLinger0, testnet.AcceptQueue:
		socks = [][]testnet.Step{listener, append(client, reset(c, l, inspect.CauseResetReceived)), append(server, reset(l, c, inspect.CauseResetSent))}
	case testnet.Refused:
		socks = connect(inspect.CauseRefused)
	case testnet.TimedOut:
		socks = connect(inspect.CauseTimeout)
	}
	var out []string
	for _, s := range socks {
		out = append(out, stepLines("inet", true, s))
	}
	slices.Sort(out)
	return out
}

// TestCauses holds the trace of each scripted ending to its transitions,
// with the cause of every move to CLOSE: an orderly close either way
// (closed), an RST from either end by SO_LINGER 0 (reset-sent at the end
// that closed, reset-received at the other), a connect refused, a
// connect timing out, and a listener closed with a connection in its
// queue (reset-sent at the queued end, reset-received at the client).
func TestCauses(t *testing.T) {
	for _, how := range testnet.Endings {
		t.Run(string(how), func(t *testing.T) {
			ns := testnet.New(t)
			if how == testnet.TimedOut {
				ns.Blackhole(t)
			}
			r := startReader(t, open(t, ns, Options{}))
			e := ns.End(t, how, 7400)
			want := endingLines(how, e)
			got := r.take(t, countLines(want), 10*time.Second)
			r.quiet(t, 100*time.Millisecond)
			if diff := cmp.Diff(want, causeSequences(got)); diff != "" {
				t.Fatalf("sequences (-want +got):\n%s\ntrace:\n%s", diff, lines(got))
			}
		})
	}
}

// traceWatch is a trace watch of a namespace's IPv4 TCP sockets running
// in the background of a test, its events collected.
type traceWatch struct {
	mu      sync.Mutex
	events  []inspect.WatchEvent
	batches int
	cancel  context.CancelFunc
	done    chan error
}

// startTraceWatch starts a trace watch of ns and waits, at most five
// seconds, for its first batch.
func startTraceWatch(t *testing.T, ns *testnet.NS) *traceWatch {
	t.Helper()
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates}
	ev := &Events{Tracer: open(t, ns, Options{}), Source: &sockdiag.Source{NetNS: ns.FD()}, Query: q, Idle: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	w := &traceWatch{cancel: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- ev.Watch(ctx, func(batch []inspect.WatchEvent) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.batches++
			w.events = append(w.events, batch...)
			return nil
		})
	}()
	t.Cleanup(func() { w.stop(t) })
	w.waitFor(t, func([]inspect.WatchEvent) bool { return w.batches > 0 })
	return w
}

// waitFor waits until cond holds of the events so far, at most ten
// seconds, polling every 10ms; it reports whether it did.
func (w *traceWatch) waitFor(t *testing.T, cond func([]inspect.WatchEvent) bool) bool {
	t.Helper()
	for range 1000 {
		w.mu.Lock()
		ok := cond(w.events)
		w.mu.Unlock()
		if ok {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// stop ends the watch, once, and returns its events.
func (w *traceWatch) stop(t *testing.T) []inspect.WatchEvent {
	t.Helper()
	if w.cancel != nil {
		w.cancel()
		w.cancel = nil
		if err := <-w.done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

// TestResetChurnCauses makes 1,000 connections closed by their clients
// with SO_LINGER 0 under a trace watch, and requires every connection's
// two ends to be reported gone once, each with its cause: reset-sent at
// the client, reset-received at the server, and nothing lost.
func TestResetChurnCauses(t *testing.T) {
	const n = 1000
	ns := testnet.New(t)
	w := startTraceWatch(t, ns)
	ln := netip.MustParseAddrPort("127.0.0.1:7400")
	// ends counts the gone events by end and cause, such as "client
	// reset-sent", and the losses.
	ends := func(events []inspect.WatchEvent) map[string]int {
		out := map[string]int{}
		for i := range events {
			e := &events[i]
			switch {
			case e.Kind == inspect.EventLost:
				out["lost"]++
			case e.Kind != inspect.EventGone:
			case e.Socket.Peer == ln:
				out["client "+e.Cause.String()]++
			case e.Socket.Local == ln && e.Socket.Peer.Port() != 0:
				out["server "+e.Cause.String()]++
			}
		}
		return out
	}
	made, elapsed := ns.ResetChurn(t, ln.Port(), n, 0)
	w.waitFor(t, func(events []inspect.WatchEvent) bool {
		got := ends(events)
		return got["client reset-sent"]+got["server reset-received"] >= 2*n
	})
	time.Sleep(50 * time.Millisecond)
	got := ends(w.stop(t))
	t.Logf("%d connections from %d client addresses in %v: %v", n, len(made), elapsed.Round(time.Millisecond), got)
	want := map[string]int{"client reset-sent": n, "server reset-received": n}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gone ends by cause, and losses (-want +got):\n%s", diff)
	}
}

// TestLifetimeBytes has a client send 1,000 bytes and the server 500
// under a trace watch, then the server close first, and requires the
// client's gone to carry what the kernel counted at its move to CLOSE
// (bytes_acked counts the client's SYN and FIN, a sequence number each,
// bytes_received the server's FIN) and a lifetime no longer than the
// script ran, and the listener's gone a lifetime and no bytes.
func TestLifetimeBytes(t *testing.T) {
	ns := testnet.New(t)
	w := startTraceWatch(t, ns)
	start := time.Now()
	var client netip.AddrPort
	ns.Do(t, func() error {
		ln, err := net.Listen("tcp4", "127.0.0.1:7400")
		if err != nil {
			return err
		}
		defer ln.Close()
		c, err := net.Dial("tcp4", "127.0.0.1:7400")
		if err != nil {
			return err
		}
		defer c.Close()
		client = c.LocalAddr().(*net.TCPAddr).AddrPort()
		s, err := ln.Accept()
		if err != nil {
			return err
		}
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			return err
		}
		if _, err := io.ReadFull(s, make([]byte, 1000)); err != nil {
			return err
		}
		if _, err := s.Write(make([]byte, 500)); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, make([]byte, 500)); err != nil {
			return err
		}
		s.Close()
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			return fmt.Errorf("client read after the server's close: %v, want EOF", err)
		}
		c.Close()
		return ln.Close()
	})
	elapsed := time.Since(start)
	gone := func(events []inspect.WatchEvent) []inspect.WatchEvent {
		return slices.DeleteFunc(slices.Clone(events), func(e inspect.WatchEvent) bool { return e.Kind != inspect.EventGone })
	}
	w.waitFor(t, func(events []inspect.WatchEvent) bool { return len(gone(events)) >= 2 })
	got := gone(w.stop(t))
	if len(got) != 2 {
		t.Fatalf("%d gone events, want the client's and the listener's: %+v", len(got), got)
	}
	for _, e := range got {
		t.Logf("gone %v %v: lifetime %v, bytes %+v, cause %v", e.Socket.Local, e.Socket.Peer, e.Lifetime, e.Bytes, e.Cause)
		if e.Lifetime <= 0 || e.Lifetime > elapsed {
			t.Errorf("gone %v: lifetime %v, want more than 0 and at most the %v the script ran", e.Socket.Local, e.Lifetime, elapsed)
		}
	}
	c, l := got[0], got[1]
	if c.Socket.Local != client {
		c, l = l, c
	}
	if l.Bytes != nil {
		t.Errorf("listener gone with bytes %+v, want none", l.Bytes)
	}
	if diff := cmp.Diff(&inspect.Bytes{Acked: 1002, Received: 501}, c.Bytes); c.Socket.Local != client || diff != "" {
		t.Errorf("client %v gone with bytes (-want +got):\n%s", c.Socket.Local, diff)
	}
}
