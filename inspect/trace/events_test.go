package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/ssfilter"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// fakeSource returns its sockets, whatever the query.
type fakeSource struct{ socks []inspect.Socket }

func (f *fakeSource) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	return f.socks, nil
}

var (
	srv  = netip.MustParseAddrPort("127.0.0.1:80")
	cli  = netip.MustParseAddrPort("127.0.0.1:40000")
	any4 = netip.MustParseAddrPort("0.0.0.0:0")
	t0   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// tr is a transition of the socket with cookie c at t0 plus ms.
func tr(c uint64, local, peer netip.AddrPort, from, to inspect.State, ms int) Transition {
	return Transition{Time: t0.Add(time.Duration(ms) * time.Millisecond), Cookie: c, Protocol: inspect.TCP, Family: inspect.INet,
		Local: local, Peer: peer, From: from, To: to}
}

// eventLine formats e for comparison: kind, cookie, local, peer, from, to, in
// state.
func eventLine(e *inspect.WatchEvent) string {
	return fmt.Sprintf("%s %d %s %s %s->%s %v", e.Kind, e.Socket.Cookie, e.Socket.Local, e.Socket.Peer, e.From, e.To, e.InState)
}

// TestFollower feeds scripted transitions to a follower and requires the
// watch events the Events doc promises.
func TestFollower(t *testing.T) {
	tw := tr(2, srv, cli, inspect.Close, inspect.TimeWait, 9)
	tw.TimeWait = true
	established := inspect.StatesOf(inspect.Established)
	for _, tt := range []struct {
		name   string
		states inspect.StateSet
		filter []string
		in     []Transition
		want   []string
	}{
		{
			name:   "listener: a change in, then CLOSE and gone",
			states: inspect.AllStates,
			in:     []Transition{tr(1, srv, any4, inspect.Close, inspect.Listen, 0), tr(1, srv, any4, inspect.Listen, inspect.Close, 5)},
			want: []string{
				"change 1 127.0.0.1:80 0.0.0.0:0 CLOSE->LISTEN 0s",
				"change 1 127.0.0.1:80 0.0.0.0:0 LISTEN->CLOSE 5ms",
				"gone 1 127.0.0.1:80 0.0.0.0:0 CLOSE->unknown(0) 0s",
			},
		},
		{
			name:   "child held for its addresses; FIN_WAIT2 -> CLOSE silent; TIME_WAIT from FIN_WAIT2",
			states: inspect.AllStates,
			in: []Transition{
				tr(2, srv, any4, inspect.Listen, inspect.SynRecv, 0),
				tr(2, srv, cli, inspect.SynRecv, inspect.Established, 1),
				tr(2, srv, cli, inspect.Established, inspect.FinWait1, 3),
				tr(2, srv, cli, inspect.FinWait1, inspect.FinWait2, 4),
				tr(2, srv, cli, inspect.FinWait2, inspect.Close, 6),
				tw,
			},
			want: []string{
				"change 2 127.0.0.1:80 127.0.0.1:40000 LISTEN->SYN_RECV 0s",
				"change 2 127.0.0.1:80 127.0.0.1:40000 SYN_RECV->ESTABLISHED 1ms",
				"change 2 127.0.0.1:80 127.0.0.1:40000 ESTABLISHED->FIN_WAIT1 2ms",
				"change 2 127.0.0.1:80 127.0.0.1:40000 FIN_WAIT1->FIN_WAIT2 1ms",
				"change 2 127.0.0.1:80 127.0.0.1:40000 FIN_WAIT2->TIME_WAIT 5ms",
			},
		},
		{
			name:   "state selection: new on entering it, gone on leaving it",
			states: established,
			in: []Transition{
				tr(3, cli, srv, inspect.Close, inspect.SynSent, 0),
				tr(3, cli, srv, inspect.SynSent, inspect.Established, 1),
				tr(3, cli, srv, inspect.Established, inspect.CloseWait, 8),
				tr(3, cli, srv, inspect.CloseWait, inspect.LastAck, 9),
			},
			want: []string{
				"new 3 127.0.0.1:40000 127.0.0.1:80 unknown(0)->ESTABLISHED 0s",
				"gone 3 127.0.0.1:40000 127.0.0.1:80 ESTABLISHED->unknown(0) 7ms",
			},
		},
		{
			name:   "filter: another port is left out",
			states: inspect.AllStates,
			filter: []string{"sport", "=", ":80"},
			in: []Transition{
				tr(3, cli, srv, inspect.Close, inspect.SynSent, 0),
				tr(3, cli, srv, inspect.SynSent, inspect.Established, 1),
				tr(1, srv, any4, inspect.Close, inspect.Listen, 2),
			},
			want: []string{"change 1 127.0.0.1:80 0.0.0.0:0 CLOSE->LISTEN 0s"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := inspect.Query{States: tt.states}
			if tt.filter != nil {
				f, err := ssfilter.Parse(tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				q.Filter = f
			}
			f := follower{q: &q, known: map[uint64]inspect.Socket{}, since: map[uint64]time.Time{},
				parked: map[uint64]bool{}, held: map[uint64]Transition{}}
			var batch []inspect.WatchEvent
			for i := range tt.in {
				batch = f.apply(batch, &tt.in[i])
			}
			got := []string{}
			for i := range batch {
				got = append(got, eventLine(&batch[i]))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFollowerReap requires a followed TIME_WAIT socket, and a parked one
// that never reached it, gone once a dump no longer shows them, and a
// held transition reported with the addresses it has after holdFor.
func TestFollowerReap(t *testing.T) {
	q := inspect.Query{States: inspect.AllStates}
	f := follower{q: &q, known: map[uint64]inspect.Socket{}, since: map[uint64]time.Time{},
		parked: map[uint64]bool{}, held: map[uint64]Transition{}}
	tw := tr(2, srv, cli, inspect.Close, inspect.TimeWait, 2)
	tw.TimeWait = true
	in := []Transition{
		tr(2, srv, cli, inspect.FinWait1, inspect.FinWait2, 0),
		tr(2, srv, cli, inspect.FinWait2, inspect.Close, 1),
		tw,
		tr(4, cli, srv, inspect.FinWait1, inspect.FinWait2, 3),
		tr(4, cli, srv, inspect.FinWait2, inspect.Close, 4),
		tr(5, netip.MustParseAddrPort("127.0.0.1:0"), srv, inspect.Close, inspect.SynSent, 5),
	}
	var batch []inspect.WatchEvent
	for i := range in {
		batch = f.apply(batch, &in[i])
	}
	if !f.following() {
		t.Fatal("following() = false with a TIME_WAIT and a parked socket")
	}
	batch = f.flushHeld(batch[:0], t0.Add(2*holdFor))
	batch, err := f.reap(context.Background(), &fakeSource{}, batch)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for i := range batch {
		e := &batch[i]
		got[fmt.Sprintf("%s %d %s->%s", e.Kind, e.Socket.Cookie, e.From, e.To)] = true
	}
	want := map[string]bool{
		"change 5 CLOSE->SYN_SENT":     true,
		"gone 2 TIME_WAIT->unknown(0)": true,
		"gone 4 FIN_WAIT2->unknown(0)": true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if f.following() {
		t.Errorf("following() = true after the reap; known %v", f.known)
	}
}

// TestFollowerResync requires the dump after a loss diffed against what
// was known: a change, a gone and a new.
func TestFollowerResync(t *testing.T) {
	q := inspect.Query{States: inspect.AllStates}
	f := follower{q: &q, known: map[uint64]inspect.Socket{}, since: map[uint64]time.Time{},
		parked: map[uint64]bool{}, held: map[uint64]Transition{}}
	sock := func(c uint64, local, peer netip.AddrPort, st inspect.State) inspect.Socket {
		return inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet, State: st, Local: local, Peer: peer, Cookie: c}
	}
	first, err := f.resync(context.Background(), &fakeSource{[]inspect.Socket{
		sock(1, srv, any4, inspect.Listen), sock(2, srv, cli, inspect.Established),
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := f.resync(context.Background(), &fakeSource{[]inspect.Socket{
		sock(2, srv, cli, inspect.CloseWait), sock(3, cli, srv, inspect.Established),
	}}, f.known)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range [][]inspect.WatchEvent{first, after} {
		for i := range b {
			got = append(got, fmt.Sprintf("%s %d %s->%s", b[i].Kind, b[i].Socket.Cookie, b[i].From, b[i].To))
		}
		got = append(got, "--")
	}
	want := []string{
		"new 1 unknown(0)->LISTEN", "new 2 unknown(0)->ESTABLISHED", "--",
		"change 2 ESTABLISHED->CLOSE_WAIT", "new 3 unknown(0)->ESTABLISHED", "gone 1 LISTEN->unknown(0)", "--",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, ok := f.known[1]; ok || len(f.known) != 2 {
		t.Errorf("known after the resync: %v", f.known)
	}
}

// interruptedSource fails its first n dumps as a kernel that keeps
// interrupting them does, then returns its sockets.
type interruptedSource struct {
	n, calls int
	socks    []inspect.Socket
}

func (s *interruptedSource) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	s.calls++
	if s.calls <= s.n {
		return nil, inspect.Incomplete(fmt.Errorf("dump: %w", netlinkdiag.ErrDumpInterrupted))
	}
	return s.socks, nil
}

// TestFollowerResyncInterrupted: a resync whose dump the kernel keeps
// interrupting dumps again, as a Watcher polls again, and gives up with
// the error after inspect.MaxInterruptedPolls tries.
func TestFollowerResyncInterrupted(t *testing.T) {
	q := inspect.Query{States: inspect.AllStates}
	listener := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Listen, Local: srv, Peer: any4, Cookie: 1}
	for _, tt := range []struct {
		interrupted int
		wantNew     int
		wantErr     bool
	}{
		{3, 1, false},
		{inspect.MaxInterruptedPolls, 0, true},
	} {
		f := follower{q: &q, known: map[uint64]inspect.Socket{}, since: map[uint64]time.Time{},
			parked: map[uint64]bool{}, held: map[uint64]Transition{}}
		src := &interruptedSource{n: tt.interrupted, socks: []inspect.Socket{listener}}
		batch, err := f.resync(context.Background(), src, nil)
		if (err != nil) != tt.wantErr || tt.wantErr && !errors.Is(err, netlinkdiag.ErrDumpInterrupted) {
			t.Errorf("%d interrupted: error %v, want one: %v", tt.interrupted, err, tt.wantErr)
		}
		if len(batch) != tt.wantNew || src.calls != min(tt.interrupted+1, inspect.MaxInterruptedPolls) {
			t.Errorf("%d interrupted: %d events after %d dumps", tt.interrupted, len(batch), src.calls)
		}
	}
}
