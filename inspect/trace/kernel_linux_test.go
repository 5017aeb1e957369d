package trace

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
)

// open opens a Tracer on ns, closed when the test ends. A kernel without
// what the Tracer needs (ebpf.ErrNotSupported) skips the test; any other
// error fails it.
func open(t testing.TB, ns *testnet.NS, opts Options) *Tracer {
	t.Helper()
	opts.NetNS = ns.FD()
	tr, err := Open(&opts)
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("this kernel cannot run the trace source: %v", err)
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tr
}

// item is one result of Read.
type item struct {
	tr  Transition
	err error
}

// reader reads a Tracer on its own goroutine until the Tracer is closed.
type reader struct {
	items chan item
	done  chan struct{}
}

func startReader(t testing.TB, tr *Tracer) *reader {
	r := &reader{items: make(chan item, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			x, err := tr.Read()
			if errors.Is(err, os.ErrClosed) {
				close(r.items)
				return
			}
			r.items <- item{x, err}
		}
	}()
	t.Cleanup(func() {
		tr.Close()
		<-r.done
	})
	return r
}

// take returns the next n transitions, failing t on a Read error other
// than ErrLost or when they do not come within timeout.
func (r *reader) take(t testing.TB, n int, timeout time.Duration) []Transition {
	t.Helper()
	var got []Transition
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(got) < n {
		select {
		case x, ok := <-r.items:
			if !ok {
				t.Fatalf("tracer closed after %d of %d transitions", len(got), n)
			}
			if x.err != nil {
				t.Fatalf("Read after %d transitions: %v", len(got), x.err)
			}
			got = append(got, x.tr)
		case <-timer.C:
			t.Fatalf("%d of %d transitions within %v:\n%s", len(got), n, timeout, lines(got))
		}
	}
	return got
}

// quiet fails t if anything arrives within d.
func (r *reader) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case x := <-r.items:
		t.Errorf("unexpected after the last transition: %s %v", line(&x.tr), x.err)
	case <-time.After(d):
	}
}

// line is the form the tests compare: no time, no cookie.
func line(tr *Transition) string {
	s := fmt.Sprintf("%s %s %s -> %s %s %s", tr.Protocol, tr.Family, tr.From, tr.To, tr.Local, tr.Peer)
	if tr.TimeWait {
		s += " (time-wait socket)"
	}
	return s
}

func lines(trs []Transition) string {
	var b strings.Builder
	for i := range trs {
		fmt.Fprintf(&b, "%d %d %s\n", trs[i].Mono, trs[i].Cookie, line(&trs[i]))
	}
	return b.String()
}

// sequences groups trs by socket cookie, keeping each socket's order, and
// returns each socket's lines joined, sorted.
func sequences(trs []Transition) []string {
	by := map[uint64][]string{}
	var order []uint64
	for i := range trs {
		c := trs[i].Cookie
		if _, ok := by[c]; !ok {
			order = append(order, c)
		}
		by[c] = append(by[c], line(&trs[i]))
	}
	var out []string
	for _, c := range order {
		out = append(out, strings.Join(by[c], "\n"))
	}
	slices.Sort(out)
	return out
}

// countLines counts the transitions in sequences' output.
func countLines(seqs []string) int {
	n := 0
	for _, s := range seqs {
		n += strings.Count(s, "\n") + 1
	}
	return n
}

func monotonic(t testing.TB) time.Duration {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// closer says which end of a connection closes first.
type closer int

const (
	serverFirst closer = iota
	clientFirst
)

func (c closer) String() string {
	if c == serverFirst {
		return "server closes first"
	}
	return "client closes first"
}

// conversation is the addresses of one scripted connection.
type conversation struct {
	listener, client netip.AddrPort
}

// converse listens on loopback and port (0 for any), connects, and closes
// both ends in the order first says, the second end only after it has
// read the first's FIN (EOF), then closes the listener.
func converse(loopback string, port uint16, first closer) (conversation, error) {
	var cv conversation
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, fmt.Sprint(port)))
	if err != nil {
		return cv, err
	}
	defer ln.Close()
	cv.listener = ln.Addr().(*net.TCPAddr).AddrPort()
	c, err := net.Dial("tcp", cv.listener.String())
	if err != nil {
		return cv, err
	}
	defer c.Close()
	cv.client = c.LocalAddr().(*net.TCPAddr).AddrPort()
	s, err := ln.Accept()
	if err != nil {
		return cv, err
	}
	defer s.Close()
	a, b := s, c
	if first == clientFirst {
		a, b = c, s
	}
	if err := a.Close(); err != nil {
		return cv, err
	}
	if n, err := b.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		return cv, fmt.Errorf("read after the peer closed: %d bytes, %v, want EOF", n, err)
	}
	if err := b.Close(); err != nil {
		return cv, err
	}
	return cv, ln.Close()
}

// textbook returns the lines each socket of cv must produce, sorted as
// sequences sorts them.
func textbook(cv conversation, first closer) []string {
	family := "inet"
	if cv.listener.Addr().Is6() {
		family = "inet6"
	}
	l, c := cv.listener, cv.client
	listener, client, server := testnet.Opened(l, c)
	listener = append(listener, testnet.ListenerClosed(l))
	if first == serverFirst {
		server = append(server, testnet.ClosedFirst(l, c)...)
		client = append(client, testnet.ClosedSecond(c, l)...)
	} else {
		client = append(client, testnet.ClosedFirst(c, l)...)
		server = append(server, testnet.ClosedSecond(l, c)...)
	}
	out := []string{
		stepLines(family, false, listener),
		stepLines(family, false, client),
		stepLines(family, false, server),
	}
	slices.Sort(out)
	return out
}

// stepLines writes steps as line writes their transitions, one a line,
// with the cause of each move to CLOSE when withCause is set (causeLine).
func stepLines(family string, withCause bool, steps []testnet.Step) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "tcp %s %s -> %s %s %s", family, s.From, s.To, s.Local, s.Peer)
		switch {
		case s.To == "TIME_WAIT":
			b.WriteString(" (time-wait socket)")
		case withCause && s.To == "CLOSE":
			b.WriteString(" " + s.Cause)
		}
	}
	return b.String()
}

// TestSequences holds the trace of scripted connections to the textbook:
// every state of every socket, each closer, IPv4 and IPv6, in a namespace
// of the test's own while another namespace makes the same connections
// (which the kernel filter must drop).
func TestSequences(t *testing.T) {
	for _, loopback := range []string{"127.0.0.1", "::1"} {
		for _, first := range []closer{serverFirst, clientFirst} {
			t.Run(fmt.Sprintf("%s %s", loopback, first), func(t *testing.T) {
				ns, other := testnet.New(t), testnet.New(t)
				r := startReader(t, open(t, ns, Options{}))

				start := monotonic(t)
				var cv conversation
				ns.Do(t, func() (err error) {
					cv, err = converse(loopback, 0, first)
					return err
				})
				end := monotonic(t)
				other.Do(t, func() error {
					_, err := converse(loopback, 0, first)
					return err
				})

				want := textbook(cv, first)
				got := r.take(t, countLines(want), 5*time.Second)
				r.quiet(t, 100*time.Millisecond)
				if diff := cmp.Diff(want, sequences(got)); diff != "" {
					t.Fatalf("sequences (-want +got):\n%s\ntrace:\n%s", diff, lines(got))
				}
				checkTimes(t, got, start, end)
			})
		}
	}
}

// checkTimes requires the tracepoint's transitions to fall within the
// script's run and each socket's to keep their order in time, and the
// TIME_WAIT transitions to come after the move to CLOSE.
func checkTimes(t *testing.T, got []Transition, start, end time.Duration) {
	t.Helper()
	last := map[uint64]time.Duration{}
	for i := range got {
		tr := &got[i]
		if !tr.TimeWait && (tr.Mono < start || tr.Mono > end) {
			t.Errorf("%s at %v, outside the script's run %v..%v", line(tr), tr.Mono, start, end)
		}
		if tr.Mono < last[tr.Cookie] {
			t.Errorf("%s at %v, before the socket's previous transition at %v", line(tr), tr.Mono, last[tr.Cookie])
		}
		last[tr.Cookie] = tr.Mono
		// Time is Mono on the wall clock, by the offset taken at Open.
		if off := tr.Time.UnixNano() - int64(tr.Mono); off != got[0].Time.UnixNano()-int64(got[0].Mono) {
			t.Errorf("%s at %v, Mono %v: another clock offset than the first transition's", line(tr), tr.Time, tr.Mono)
		}
	}
}
