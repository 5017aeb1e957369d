package inspect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// scriptedSource returns one snapshot per poll, with the error errs has
// for the poll's number (from 0); hook, when set, runs before a poll
// returns and gets its number.
type scriptedSource struct {
	snaps [][]Socket
	errs  map[int]error
	hook  func(poll int)
	polls int
}

func (s *scriptedSource) Sockets(ctx context.Context, q Query) ([]Socket, error) {
	n := s.polls
	s.polls++
	if s.hook != nil {
		s.hook(n)
	}
	if n >= len(s.snaps) {
		return nil, errors.New("script exhausted")
	}
	return s.snaps[n], s.errs[n]
}

// scriptedDestroys hands out what is sent on c: a *Socket or an error.
type scriptedDestroys struct {
	c chan any
}

func (d *scriptedDestroys) Destroyed(ctx context.Context, fn func(*Socket)) error {
	for first := true; ; first = false {
		var item any
		if first {
			select {
			case item = <-d.c:
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			select {
			case item = <-d.c:
			default:
				return nil
			}
		}
		if err, ok := item.(error); ok {
			return err
		}
		fn(item.(*Socket))
	}
}

// sendAt delivers items in order once the bubble's clock has moved on by
// at.
func (d *scriptedDestroys) sendAt(at time.Duration, items ...any) {
	go func() {
		time.Sleep(at)
		for _, it := range items {
			d.c <- it
		}
	}()
}

// line is a WatchEvent as the tests compare it.
func line(t0 time.Time, e WatchEvent) string {
	id := fmt.Sprintf("%#x", e.Socket.Cookie)
	switch {
	case e.Kind == EventLost || e.Kind == EventUnmatched:
		id = "-"
	case e.Socket.Cookie == 0:
		id = e.Socket.Local.String()
	}
	s := fmt.Sprintf("%v %s %s", e.Time.Sub(t0), e.Kind, id)
	switch e.Kind {
	case EventNew:
		s += " -> " + e.To.String()
	case EventChange:
		s += " " + e.From.String() + " -> " + e.To.String()
	case EventGone:
		s += " " + e.From.String() + " ->"
	}
	if e.InState != 0 {
		s += fmt.Sprintf(" after %v", e.InState)
	}
	if n := e.Lost + e.Unmatched; n != 0 {
		s += fmt.Sprintf(" %d", n)
	}
	if e.Reset {
		s += " reset " + e.Socket.Local.String() + " " + e.Socket.Peer.String()
	}
	if e.Cause != CauseUnknown {
		s += " " + e.Cause.String()
	}
	return s
}

var (
	wLn = netip.MustParseAddrPort("127.0.0.1:7788")
	wCl = netip.MustParseAddrPort("127.0.0.1:51234")
)

func sock(cookie uint64, st State, local, peer netip.AddrPort, inode uint64) Socket {
	return Socket{Protocol: TCP, Family: INet, State: st, Local: local, Peer: peer, Cookie: cookie, Inode: inode}
}

// runWatch runs the watcher setup makes inside a bubble, where its
// channels must be made, until it has delivered n batches, and returns
// every event as a line, and Watch's error.
func runWatch(t *testing.T, n int, setup func() *Watcher) ([]string, error) {
	t.Helper()
	var got []string
	err := watchEvents(t, n, setup, func(t0 time.Time, e WatchEvent) { got = append(got, line(t0, e)) })
	return got, err
}

// expectWatch runs the watcher setup makes as runWatch does and requires
// its events, as lines, to be want.
func expectWatch(t *testing.T, n int, setup func() *Watcher, want []string) {
	t.Helper()
	got, err := runWatch(t, n, setup)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// watchEvents runs the watcher setup makes inside a bubble until it has
// delivered n batches, calls fn for every event with the bubble's start,
// and returns Watch's error.
func watchEvents(t *testing.T, n int, setup func() *Watcher, fn func(t0 time.Time, e WatchEvent)) error {
	t.Helper()
	var err error
	synctest.Test(t, func(t *testing.T) {
		w := setup()
		t0 := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		batches := 0
		err = w.Watch(ctx, func(batch []WatchEvent) error {
			for _, e := range batch {
				fn(t0, e)
			}
			if batches++; batches == n {
				cancel()
			}
			return nil
		})
	})
	return err
}

func TestWatcherPolls(t *testing.T) {
	L := sock(1, Listen, wLn, netip.MustParseAddrPort("0.0.0.0:0"), 10)
	S := sock(2, Established, wLn, wCl, 11)
	C := sock(3, Established, wCl, wLn, 12)
	with := func(s Socket, st State, inode uint64) Socket { s.State, s.Inode = st, inode; return s }
	src := &scriptedSource{snaps: [][]Socket{
		{L},
		{L, S, C},
		{L, with(S, FinWait2, 0), with(C, CloseWait, 12)},
		{L, with(S, TimeWait, 0), with(C, CloseWait, 12)},
		{L, with(S, TimeWait, 0)},
		{L, with(S, TimeWait, 0)},
	}}
	want := []string{
		"0s new 0x1 -> LISTEN",
		"100ms new 0x2 -> ESTABLISHED",
		"100ms new 0x3 -> ESTABLISHED",
		"200ms change 0x2 ESTABLISHED -> FIN_WAIT2 after 100ms",
		"200ms change 0x3 ESTABLISHED -> CLOSE_WAIT after 100ms",
		"300ms change 0x2 FIN_WAIT2 -> TIME_WAIT after 100ms",
		"400ms gone 0x3 CLOSE_WAIT -> after 200ms",
	}
	expectWatch(t, 6, func() *Watcher {
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond}
	}, want)
}

// TestWatcherProcKeys watches sockets without cookies: the tuple is the
// key, TIME_WAIT's inode 0 keeps the socket, and a new inode on the same
// tuple is another socket.
func TestWatcherProcKeys(t *testing.T) {
	C := sock(0, Established, wCl, wLn, 12)
	with := func(s Socket, st State, inode uint64) Socket { s.State, s.Inode = st, inode; return s }
	src := &scriptedSource{snaps: [][]Socket{
		{C},
		{with(C, Established, 13)},
		{with(C, FinWait2, 0)},
		{with(C, TimeWait, 0)},
	}}
	want := []string{
		"0s new 127.0.0.1:51234 -> ESTABLISHED",
		"10ms new 127.0.0.1:51234 -> ESTABLISHED",
		"10ms gone 127.0.0.1:51234 ESTABLISHED -> after 10ms",
		"20ms change 127.0.0.1:51234 ESTABLISHED -> FIN_WAIT2 after 10ms",
		"30ms change 127.0.0.1:51234 FIN_WAIT2 -> TIME_WAIT after 10ms",
	}
	expectWatch(t, 4, func() *Watcher {
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 10 * time.Millisecond}
	}, want)
}

func TestWatcherDestroyed(t *testing.T) {
	L := sock(1, Listen, wLn, netip.MustParseAddrPort("0.0.0.0:0"), 10)
	S := sock(2, Established, wLn, wCl, 11)
	C := sock(3, Established, wCl, wLn, 12)
	other := netip.MustParseAddrPort("127.0.0.1:40000")
	X := sock(9, Close, wLn, other, 0) // lived and died between two polls
	freed := func(s Socket) *Socket { s.State, s.Inode = Close, 0; return &s }
	tw := S
	tw.State, tw.Inode = TimeWait, 0
	src := &scriptedSource{snaps: [][]Socket{
		{L, S, C},
		{L, tw},
		{L, tw},
		{tw},
		{tw},
	}}
	want := []string{
		"0s new 0x1 -> LISTEN",
		"0s new 0x2 -> ESTABLISHED",
		"0s new 0x3 -> ESTABLISHED",
		// X was never polled; C was, and died in CLOSE; S's full socket
		// was freed into TIME_WAIT, which the poll shows under its cookie.
		"50ms gone 0x9 CLOSE ->",
		"50ms change 0x3 ESTABLISHED -> CLOSE after 50ms",
		"50ms gone 0x3 CLOSE ->",
		"100ms change 0x2 ESTABLISHED -> TIME_WAIT after 100ms",
		"200ms change 0x1 LISTEN -> CLOSE after 200ms",
		"200ms gone 0x1 CLOSE ->",
	}
	expectWatch(t, 5, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		src.hook = func(poll int) {
			if poll == 2 {
				// Reported while the dump runs, which still shows it:
				// settled by the next poll.
				d.c <- freed(L)
				synctest.Wait()
			}
		}
		d.sendAt(50*time.Millisecond, freed(X), freed(C), freed(S))
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d}
	}, want)
}

// TestWatcherDestroyedSelection: a state the query does not select is not
// reported as a change; a socket freed before any poll saw it is reported
// whatever the state selection, but not if its protocol is not selected.
// The proc source's sockets match by tuple.
func TestWatcherDestroyedSelection(t *testing.T) {
	C := sock(0, Established, wCl, wLn, 12)
	X := sock(0, Established, wLn, netip.MustParseAddrPort("127.0.0.1:40000"), 13)
	U := X
	U.Protocol = UDP
	freed := func(s Socket, cookie uint64) *Socket { s.State, s.Inode, s.Cookie = Close, 0, cookie; return &s }
	src := &scriptedSource{snaps: [][]Socket{{C}, {}}}
	want := []string{
		"0s new 127.0.0.1:51234 -> ESTABLISHED",
		"30ms gone 127.0.0.1:51234 ESTABLISHED -> after 30ms",
		"30ms gone 0x4e CLOSE ->",
	}
	expectWatch(t, 2, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		d.sendAt(30*time.Millisecond, freed(C, 77), freed(X, 78), freed(U, 79))
		q := Query{Protocols: []Protocol{TCP}, States: StatesOf(Established)}
		return &Watcher{Source: src, Query: q, Interval: 100 * time.Millisecond, Destroyed: d}
	}, want)
}

// TestWatcherLost: an overflow is reported as lost, and the watcher polls
// at once instead of at the next tick.
func TestWatcherLost(t *testing.T) {
	C := sock(3, Established, wCl, wLn, 12)
	src := &scriptedSource{snaps: [][]Socket{{}, {C}, {C}}}
	want := []string{
		"30ms lost -",
		"30ms new 0x3 -> ESTABLISHED",
	}
	expectWatch(t, 3, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		d.sendAt(30*time.Millisecond, fmt.Errorf("receive: %w", os.NewSyscallError("recvfrom", unix.ENOBUFS)))
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d}
	}, want)
	if src.polls != 3 {
		t.Errorf("%d polls, want 3 (0ms, 30ms, 100ms)", src.polls)
	}
}

func TestWatcherErrors(t *testing.T) {
	errFn := errors.New("fn failed")
	errDestroy := errors.New("subscription broke")
	tests := []struct {
		name string
		w    func() *Watcher
		fn   func([]WatchEvent) error
		want error
	}{
		{"source", func() *Watcher { return &Watcher{Source: &scriptedSource{}, Interval: time.Millisecond} }, nil, nil},
		{"fn", func() *Watcher {
			return &Watcher{Source: &scriptedSource{snaps: [][]Socket{{}}}, Interval: time.Millisecond}
		}, func([]WatchEvent) error { return errFn }, errFn},
		{"destroy source", func() *Watcher {
			d := &scriptedDestroys{c: make(chan any)}
			d.sendAt(10*time.Millisecond, errDestroy)
			return &Watcher{Source: &scriptedSource{snaps: [][]Socket{{}, {}, {}}}, Interval: 100 * time.Millisecond, Destroyed: d}
		}, nil, errDestroy},
		{"interval", func() *Watcher { return &Watcher{Source: &scriptedSource{}} }, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fn := tt.fn
				if fn == nil {
					fn = func([]WatchEvent) error { return nil }
				}
				err := tt.w().Watch(context.Background(), fn)
				switch {
				case err == nil:
					t.Fatal("Watch returned nil, want an error")
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Errorf("Watch: %v, want %v", err, tt.want)
				}
			})
		})
	}
}

// TestWatcherListedTwice: a socket listed twice in one snapshot (a walk
// of the kernel's tables that shifted) is one socket.
func TestWatcherListedTwice(t *testing.T) {
	S := sock(0, Established, wLn, wCl, 11)
	again := S
	again.Expires = 200 * time.Millisecond
	C := sock(0, Established, wCl, wLn, 12)
	src := &scriptedSource{snaps: [][]Socket{
		{S, again},
		{S, C},
		{C, again, S, C},
	}}
	want := []string{
		"0s new 127.0.0.1:7788 -> ESTABLISHED",
		"10ms new 127.0.0.1:51234 -> ESTABLISHED",
	}
	expectWatch(t, 3, func() *Watcher {
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 10 * time.Millisecond}
	}, want)
}

// TestWatcherSuperseded: a snapshot that shows a connection at two stages
// of its making (a walk that read the table while it moved on) shows the
// later only: the full socket rather than the request it replaced, the
// accepted socket rather than the same one queued without a file, and a
// connection from a timewait socket's port rather than the timewait socket
// it replaced. A request alone and one on another connection stay.
func TestWatcherSuperseded(t *testing.T) {
	req := sock(0, SynRecv, wLn, wCl, 0)
	queued := sock(0, Established, wLn, wCl, 0)
	S := sock(0, Established, wLn, wCl, 11)
	other := sock(0, SynRecv, wLn, netip.MustParseAddrPort("127.0.0.1:40000"), 0)
	tw := sock(0, TimeWait, wCl, wLn, 0)
	C := sock(0, Established, wCl, wLn, 12)
	src := &scriptedSource{snaps: [][]Socket{
		{req},
		{req, queued, other},
		{S, queued, other, req},
		{S, other, tw, C},
	}}
	want := []string{
		"0s new 127.0.0.1:7788 -> SYN_RECV",
		"10ms change 127.0.0.1:7788 SYN_RECV -> ESTABLISHED after 10ms",
		"10ms new 127.0.0.1:7788 -> SYN_RECV",
		"30ms new 127.0.0.1:51234 -> ESTABLISHED",
	}
	expectWatch(t, 4, func() *Watcher {
		return &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 10 * time.Millisecond}
	}, want)
}

// TestWatcherLateDestroy: a socket a poll no longer shows, with no destroy
// report yet, waits one poll for its verdict. A report arriving meanwhile
// gives its real end (0x3: the change into CLOSE it was freed in, then
// gone). Without one, a socket with a file is in CLOSE, held by its owner
// (0x5: a change into CLOSE at the next poll, gone at its report); one
// without a file (0x4) is gone from its last polled state, as is one under
// a selection without CLOSE; a socket the next poll shows again (0x6, a
// dump that missed it) was never gone.
func TestWatcherLateDestroy(t *testing.T) {
	C := sock(3, CloseWait, wCl, wLn, 12)
	O := sock(4, FinWait1, wLn, netip.MustParseAddrPort("127.0.0.1:51235"), 0)
	R := sock(5, Established, wLn, netip.MustParseAddrPort("127.0.0.1:51236"), 13)
	M := sock(6, Established, wLn, netip.MustParseAddrPort("127.0.0.1:51237"), 14)
	freedC, freedR := C, R
	freedC.State, freedC.Inode = Close, 0
	freedR.State, freedR.Inode = Close, 0
	for _, tt := range []struct {
		states StateSet
		want   []string
	}{
		{AllStates, []string{
			"0s new 0x3 -> CLOSE_WAIT",
			"0s new 0x4 -> FIN_WAIT1",
			"0s new 0x5 -> ESTABLISHED",
			"0s new 0x6 -> ESTABLISHED",
			"150ms change 0x3 CLOSE_WAIT -> CLOSE after 150ms",
			"150ms gone 0x3 CLOSE ->",
			"200ms gone 0x4 FIN_WAIT1 -> after 100ms",
			"200ms change 0x5 ESTABLISHED -> CLOSE after 100ms",
			"350ms gone 0x5 CLOSE -> after 150ms",
		}},
		{AllStates &^ StatesOf(Close), []string{
			"0s new 0x3 -> CLOSE_WAIT",
			"0s new 0x4 -> FIN_WAIT1",
			"0s new 0x5 -> ESTABLISHED",
			"0s new 0x6 -> ESTABLISHED",
			"150ms gone 0x3 CLOSE_WAIT -> after 150ms",
			"200ms gone 0x4 FIN_WAIT1 -> after 100ms",
			"200ms gone 0x5 ESTABLISHED -> after 100ms",
		}},
	} {
		src := &scriptedSource{snaps: [][]Socket{{C, O, R, M}, {M}, {M}, {M}, {M}}}
		src.snaps[1] = []Socket{}
		got, err := runWatch(t, 5, func() *Watcher {
			d := &scriptedDestroys{c: make(chan any)}
			d.sendAt(150*time.Millisecond, &freedC)
			d.sendAt(350*time.Millisecond, &freedR)
			return &Watcher{Source: src, Query: Query{States: tt.states}, Interval: 100 * time.Millisecond, Destroyed: d}
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("states %v: events (-want +got):\n%s", tt.states, diff)
		}
	}
}

// TestWatcherInterrupted: a poll whose dump the kernel kept interrupting
// is skipped, reporting nothing, and the next complete poll is compared
// with the last complete one; destroy reports wait for it.
func TestWatcherInterrupted(t *testing.T) {
	L := sock(1, Listen, wLn, netip.MustParseAddrPort("0.0.0.0:0"), 10)
	S := sock(2, Established, wLn, wCl, 11)
	C := sock(3, Established, wCl, wLn, 12)
	X := sock(4, Established, wLn, netip.MustParseAddrPort("127.0.0.1:51235"), 13)
	intr := Incomplete(fmt.Errorf("inspect: netlink dump of tcp/inet, 3 attempts each: %w", netlinkdiag.ErrDumpInterrupted))
	// Polls 1 and 2 are interrupted and miss sockets that are still
	// there, or list one twice; reported, they would be gone and new.
	src := &scriptedSource{
		snaps: [][]Socket{{L, X}, {L}, {L, L, S}, {L, S, C}},
		errs:  map[int]error{1: intr, 2: intr},
	}
	var skips []int
	got, err := runWatch(t, 2, func() *Watcher {
		d := &scriptedDestroys{c: make(chan any)}
		gone := X
		gone.State = Close
		d.sendAt(150*time.Millisecond, &gone)
		return &Watcher{
			Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d,
			Interrupted: func(skipped int, err error) {
				if !errors.Is(err, netlinkdiag.ErrDumpInterrupted) {
					t.Errorf("Interrupted with %v, want ErrDumpInterrupted", err)
				}
				skips = append(skips, skipped)
			},
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0s new 0x1 -> LISTEN",
		"0s new 0x4 -> ESTABLISHED",
		"150ms change 0x4 ESTABLISHED -> CLOSE after 150ms",
		"150ms gone 0x4 CLOSE ->",
		"300ms new 0x2 -> ESTABLISHED",
		"300ms new 0x3 -> ESTABLISHED",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2}, skips); diff != "" {
		t.Errorf("Interrupted calls (-want +got):\n%s", diff)
	}
}

// TestWatcherInterruptedGivesUp: Watch gives up at the
// MaxInterruptedPolls-th interrupted poll in a row, and a complete poll
// starts the count again.
func TestWatcherInterruptedGivesUp(t *testing.T) {
	intr := Incomplete(fmt.Errorf("scripted: %w", netlinkdiag.ErrDumpInterrupted))
	// Poll 0 is complete, then MaxInterruptedPolls-1 are interrupted,
	// one is complete, and MaxInterruptedPolls are interrupted.
	polls := 2*MaxInterruptedPolls + 1
	src := &scriptedSource{snaps: make([][]Socket, polls), errs: map[int]error{}}
	for n := 1; n < polls; n++ {
		if n != MaxInterruptedPolls {
			src.errs[n] = intr
		}
	}
	calls, last := 0, 0
	var err error
	synctest.Test(t, func(t *testing.T) {
		w := &Watcher{Source: src, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond,
			Interrupted: func(skipped int, _ error) { calls, last = calls+1, skipped },
		}
		err = w.Watch(context.Background(), func([]WatchEvent) error { return nil })
	})
	want := fmt.Sprintf("inspect: watch: %d polls in a row: scripted: dump interrupted", MaxInterruptedPolls)
	if err == nil || err.Error() != want || !errors.Is(err, netlinkdiag.ErrDumpInterrupted) {
		t.Errorf("Watch: %v, want %q wrapping ErrDumpInterrupted", err, want)
	}
	if src.polls != polls {
		t.Errorf("%d polls, want %d", src.polls, polls)
	}
	// The poll that gives up is reported by the error, not Interrupted.
	if wantCalls := 2*MaxInterruptedPolls - 2; calls != wantCalls || last != wantCalls {
		t.Errorf("Interrupted called %d times, last with %d skipped; want %d and %d", calls, last, wantCalls, wantCalls)
	}
}

// TestWatcherClearedTuple: the destroy report of a socket closed with
// SO_LINGER 0 has no source address nor destination port. It is reported
// with the addresses the previous poll showed under its cookie, or, beside
// the proc source, which has no cookies, under what is left of its tuple;
// one no poll showed is reported with what is left, marked reset.
func TestWatcherClearedTuple(t *testing.T) {
	C := sock(3, Established, wCl, wLn, 12)
	cleared := func(s Socket) *Socket {
		s.State, s.Inode = Close, 0
		s.Local = netip.AddrPortFrom(netip.IPv4Unspecified(), s.Local.Port())
		s.Peer = netip.AddrPortFrom(s.Peer.Addr(), 0)
		return &s
	}
	never := sock(9, Established, netip.MustParseAddrPort("127.0.0.1:51235"), netip.MustParseAddrPort("127.0.0.1:7789"), 0)
	procC := C
	procC.Cookie = 0
	tests := []struct {
		name  string
		snaps [][]Socket
		want  []string
	}{
		{"netlink", [][]Socket{{C}, {}}, []string{
			"new 127.0.0.1:51234 127.0.0.1:7788",
			"gone 0.0.0.0:51235 127.0.0.1:0 reset",
			"change 127.0.0.1:51234 127.0.0.1:7788",
			"gone 127.0.0.1:51234 127.0.0.1:7788",
		}},
		{"proc", [][]Socket{{procC}, {}}, []string{
			"new 127.0.0.1:51234 127.0.0.1:7788",
			"gone 0.0.0.0:51235 127.0.0.1:0 reset",
			"change 127.0.0.1:51234 127.0.0.1:7788",
			"gone 127.0.0.1:51234 127.0.0.1:7788",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			synctest.Test(t, func(t *testing.T) {
				d := &scriptedDestroys{c: make(chan any)}
				d.sendAt(50*time.Millisecond, cleared(never), cleared(C))
				w := &Watcher{Source: &scriptedSource{snaps: tt.snaps}, Query: Query{States: AllStates}, Interval: 100 * time.Millisecond, Destroyed: d}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				polls := 0
				err := w.Watch(ctx, func(batch []WatchEvent) error {
					for _, e := range batch {
						l := fmt.Sprintf("%s %v %v", e.Kind, e.Socket.Local, e.Socket.Peer)
						if e.Reset {
							l += " reset"
						}
						got = append(got, l)
					}
					if polls++; polls == len(tt.snaps) {
						cancel()
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}
