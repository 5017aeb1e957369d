package trace

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
)

// fakeDiag answers lookups from a script: the answers for each local
// address, in turn, the last one repeating.
type fakeDiag struct {
	answers map[netip.AddrPort][]answer
	asked   []string
}

type answer struct {
	state  inspect.State
	cookie uint64
	err    error
}

func (f *fakeDiag) look(tr *Transition) (inspect.State, uint64, error) {
	f.asked = append(f.asked, tr.Local.String())
	a := f.answers[tr.Local]
	if len(a) == 0 {
		return 0, 0, fmt.Errorf("lookup: %w", syscall.ENOENT)
	}
	first := a[0]
	if len(a) > 1 {
		f.answers[tr.Local] = a[1:]
	}
	return first.state, first.cookie, first.err
}

func closing(port uint16, from inspect.State) Transition {
	return Transition{
		Cookie: uint64(port), Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
		Peer:  netip.MustParseAddrPort("127.0.0.1:80"),
		From:  from, To: inspect.Close,
	}
}

func timeWait(port uint16, cookie uint64, at time.Time, wall int64) Transition {
	tr := closing(port, inspect.Close)
	tr.Cookie = cookie
	tr.To = inspect.TimeWait
	tr.TimeWait = true
	tr.Time = at
	tr.Mono = time.Duration(at.UnixNano() - wall)
	return tr
}

func TestTimeWaits(t *testing.T) {
	start := time.Unix(1000, 0)
	const wall = int64(900 * time.Second)
	errBroken := errors.New("broken")
	tests := []struct {
		name    string
		watch   []Transition
		answers map[netip.AddrPort][]answer
		// steps are the times lookUp runs, relative to start; then, if
		// followDue, it runs whenever a retry is due.
		steps     []time.Duration
		followDue bool
		want      []Transition
		wantAsked []string
		wantErr   error
		wantDue   bool // a retry is still pending at the end
		// finIn says the closing sockets had received their peers' FIN:
		// a time-wait socket they leave starts in TIME_WAIT, and is
		// looked up at once.
		finIn bool
	}{
		{
			name:  "FIN_WAIT2 and CLOSING to CLOSE, found in TIME_WAIT",
			finIn: true,
			watch: []Transition{closing(1, inspect.FinWait2), closing(2, inspect.Closing)},
			answers: map[netip.AddrPort][]answer{
				closing(1, 0).Local: {{state: inspect.TimeWait, cookie: 1}},
				closing(2, 0).Local: {{state: inspect.TimeWait, cookie: 2}},
			},
			steps:     []time.Duration{0},
			want:      []Transition{timeWait(1, 1, start, wall), timeWait(2, 2, start, wall)},
			wantAsked: []string{"127.0.0.1:1", "127.0.0.1:2"},
		},
		{
			name: "other moves to CLOSE leave no time-wait socket",
			watch: []Transition{
				closing(1, inspect.LastAck), closing(2, inspect.SynSent),
				closing(3, inspect.Listen), closing(4, inspect.Established),
				{From: inspect.FinWait1, To: inspect.FinWait2},
			},
			steps: []time.Duration{0},
		},
		{
			name:      "no time-wait socket found: nothing reported",
			finIn:     true,
			watch:     []Transition{closing(1, inspect.FinWait2)},
			steps:     []time.Duration{0, time.Second},
			wantAsked: []string{"127.0.0.1:1"},
		},
		{
			name:  "time-wait socket in FIN_WAIT2 until the peer's FIN",
			finIn: true,
			watch: []Transition{closing(1, inspect.FinWait2)},
			answers: map[netip.AddrPort][]answer{
				closing(1, 0).Local: {
					{state: inspect.FinWait2, cookie: 1},
					{state: inspect.FinWait2, cookie: 1},
					{state: inspect.TimeWait, cookie: 1},
				},
			},
			// Retries are due 1 ms and then 2 ms after each look; the
			// step at 0.5 ms finds none due.
			steps:     []time.Duration{0, 500 * time.Microsecond, time.Millisecond, 3 * time.Millisecond},
			want:      []Transition{timeWait(1, 1, start.Add(3*time.Millisecond), wall)},
			wantAsked: []string{"127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1"},
		},
		{
			name:  "time-wait socket in FIN_WAIT2 that expires",
			finIn: true,
			watch: []Transition{closing(1, inspect.FinWait2)},
			answers: map[netip.AddrPort][]answer{
				closing(1, 0).Local: {{state: inspect.FinWait2}, {err: fmt.Errorf("x: %w", syscall.ENOENT)}},
			},
			steps:     []time.Duration{0, time.Millisecond, time.Hour},
			wantAsked: []string{"127.0.0.1:1", "127.0.0.1:1"},
		},
		{
			name:  "a FIN that never comes: given up after two minutes",
			finIn: true,
			watch: []Transition{closing(1, inspect.FinWait2)},
			answers: map[netip.AddrPort][]answer{
				closing(1, 0).Local: {{state: inspect.FinWait2}},
			},
			steps:     []time.Duration{0},
			followDue: true,
			// At 0, then after 1, 2, 4 ... 512 ms (at 1023 ms), then every
			// second while the next look is within two minutes of the
			// first: 2.023 s ... 119.023 s.
			wantAsked: func() []string {
				s := make([]string, 1+10+118)
				for i := range s {
					s[i] = "127.0.0.1:1"
				}
				return s
			}(),
		},
		{
			name:      "FIN_WAIT2 without the peer's FIN, peer elsewhere: first looked up after firstRetry",
			watch:     []Transition{remote(closing(1, inspect.FinWait2))},
			answers:   map[netip.AddrPort][]answer{closing(1, 0).Local: {{state: inspect.TimeWait, cookie: 1}}},
			steps:     []time.Duration{0, 500 * time.Microsecond, time.Millisecond},
			want:      []Transition{remote(timeWait(1, 1, start.Add(time.Millisecond), wall))},
			wantAsked: []string{"127.0.0.1:1"},
		},
		{
			name:      "FIN_WAIT2 without the peer's FIN, peer on loopback: first looked up after loopbackWait",
			watch:     []Transition{closing(1, inspect.FinWait2)},
			answers:   map[netip.AddrPort][]answer{closing(1, 0).Local: {{state: inspect.FinWait2, cookie: 1}}},
			steps:     []time.Duration{0, time.Millisecond, loopbackWait - time.Microsecond, loopbackWait},
			wantAsked: []string{"127.0.0.1:1"},
			wantDue:   true,
		},
		{
			name:      "FIN_WAIT2 without the peer's FIN, no time-wait socket made",
			watch:     []Transition{remote(closing(1, inspect.FinWait2))},
			steps:     []time.Duration{0, time.Millisecond, time.Hour},
			wantAsked: []string{"127.0.0.1:1"},
		},
		{
			name:  "a failing lookup is returned and dropped",
			finIn: true,
			watch: []Transition{closing(1, inspect.FinWait2), closing(2, inspect.FinWait2)},
			answers: map[netip.AddrPort][]answer{
				closing(1, 0).Local: {{err: errBroken}},
				closing(2, 0).Local: {{state: inspect.TimeWait, cookie: 2}},
			},
			steps:     []time.Duration{0, 0},
			want:      []Transition{timeWait(2, 2, start, wall)},
			wantAsked: []string{"127.0.0.1:1", "127.0.0.1:2"},
			wantErr:   errBroken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDiag{answers: tt.answers}
			var w timeWaits
			for i := range tt.watch {
				w.watch(&tt.watch[i], tt.finIn)
			}
			var errs []error
			for _, step := range tt.steps {
				if err := w.lookUp(f.look, start.Add(step), monoAt(start.Add(step), wall)); err != nil {
					errs = append(errs, err)
				}
			}
			for i := 0; tt.followDue && i < 1000; i++ {
				due, ok := w.due()
				if !ok {
					break
				}
				if err := w.lookUp(f.look, due, monoAt(due, wall)); err != nil {
					errs = append(errs, err)
				}
			}
			var got []Transition
			for {
				tr, ok := w.next()
				if !ok {
					break
				}
				got = append(got, tr)
			}
			if diff := cmp.Diff(tt.want, got, equateAddrs); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAsked, f.asked); diff != "" {
				t.Errorf("lookups (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr == nil && len(errs) > 0:
				t.Errorf("errors %v, want none", errs)
			case tt.wantErr != nil && (len(errs) != 1 || !errors.Is(errs[0], tt.wantErr)):
				t.Errorf("errors %v, want one wrapping %v", errs, tt.wantErr)
			}
			if _, due := w.due(); due != tt.wantDue {
				t.Errorf("retry pending %v, want %v", due, tt.wantDue)
			}
		})
	}
}

func TestTimeWaitsBound(t *testing.T) {
	f := &fakeDiag{answers: map[netip.AddrPort][]answer{}}
	var w timeWaits
	for port := uint16(1); port <= maxWaiting+10; port++ {
		tr := closing(port, inspect.FinWait2)
		f.answers[tr.Local] = []answer{{state: inspect.FinWait2}}
		w.watch(&tr, true)
	}
	if err := w.lookUp(f.look, time.Unix(1, 0), monoAt(time.Unix(1, 0), 0)); err != nil {
		t.Fatal(err)
	}
	if len(w.waiting) != maxWaiting {
		t.Errorf("%d retries pending, want the bound %d", len(w.waiting), maxWaiting)
	}
	if len(w.fresh) != 0 {
		t.Errorf("%d moves to CLOSE not looked up", len(w.fresh))
	}
}

// TestTimeWaitsPeerFIN: a time-wait socket left in FIN_WAIT2, whose peer
// is on this machine, is proved in TIME_WAIT by the peer's move from
// LAST_ACK to CLOSE with cause closed (its FIN acknowledged), with no
// lookup, whether or not lookUp ran between the two; the peer of another
// connection, or the peer's move to LAST_ACK, changes nothing; a peer
// ending with an error or an RST makes the lookup due at once.
func TestTimeWaitsPeerFIN(t *testing.T) {
	start := time.Unix(1000, 0)
	const wall = int64(900 * time.Second)
	closed := closing(1, inspect.FinWait2)
	closed.Mono = 5 * time.Second
	peer := func(port uint16, from, to inspect.State, cause inspect.Cause, at time.Duration) *Transition {
		return &Transition{
			Protocol: inspect.TCP, Family: inspect.INet,
			Local: closed.Peer, Peer: netip.AddrPortFrom(closed.Local.Addr(), port),
			From: from, To: to, Cause: cause, Mono: closed.Mono + at,
		}
	}
	proved := timeWaitOf(&closed, closed.Cookie, closed.Mono+300*time.Microsecond)
	tests := []struct {
		name      string
		lookUp    bool // lookUp runs after the close, before the peer's moves
		peer      []*Transition
		answers   []answer
		want      []Transition
		wantAsked int
	}{
		{
			name:   "proved, lookUp between",
			lookUp: true,
			peer: []*Transition{
				peer(2, inspect.LastAck, inspect.Close, inspect.CauseClosed, 100*time.Microsecond),
				peer(1, inspect.CloseWait, inspect.LastAck, 0, 200*time.Microsecond),
				peer(1, inspect.LastAck, inspect.Close, inspect.CauseClosed, 300*time.Microsecond),
			},
			want: []Transition{proved},
		},
		{
			name: "proved, no lookUp between",
			peer: []*Transition{
				peer(1, inspect.CloseWait, inspect.LastAck, 0, 200*time.Microsecond),
				peer(1, inspect.LastAck, inspect.Close, inspect.CauseClosed, 300*time.Microsecond),
			},
			want: []Transition{proved},
		},
		{
			name:      "the peer reset: looked up at once, none found",
			lookUp:    true,
			peer:      []*Transition{peer(1, inspect.LastAck, inspect.Close, inspect.CauseResetReceived, 300*time.Microsecond)},
			wantAsked: 1,
		},
		{
			name:      "the peer reset, no lookUp between: looked up at once",
			peer:      []*Transition{peer(1, inspect.LastAck, inspect.Close, inspect.CauseResetReceived, 300*time.Microsecond)},
			answers:   []answer{{state: inspect.TimeWait, cookie: 1}},
			want:      []Transition{timeWait(1, 1, start, wall)},
			wantAsked: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDiag{answers: map[netip.AddrPort][]answer{closed.Local: tt.answers}}
			var w timeWaits
			c := closed
			w.watch(&c, false)
			if tt.lookUp {
				if err := w.lookUp(f.look, start, monoAt(start, wall)); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range tt.peer {
				w.watch(p, false)
			}
			if err := w.lookUp(f.look, start, monoAt(start, wall)); err != nil {
				t.Fatal(err)
			}
			var got []Transition
			for tr, ok := w.nextProven(); ok; tr, ok = w.nextProven() {
				got = append(got, tr)
			}
			for tr, ok := w.next(); ok; tr, ok = w.next() {
				got = append(got, tr)
			}
			if diff := cmp.Diff(tt.want, got, equateAddrs); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if len(f.asked) != tt.wantAsked {
				t.Errorf("lookups %v, want %d", f.asked, tt.wantAsked)
			}
			if _, pending := w.due(); pending {
				t.Error("a retry is pending after the peer's move to CLOSE")
			}
		})
	}
}

// remote returns tr with its peer off this machine.
func remote(tr Transition) Transition {
	tr.Peer = netip.MustParseAddrPort("192.0.2.1:80")
	return tr
}

// monoAt is at on a CLOCK_MONOTONIC that reads wall less than the wall
// clock.
func monoAt(at time.Time, wall int64) time.Duration {
	return time.Duration(at.UnixNano() - wall)
}
