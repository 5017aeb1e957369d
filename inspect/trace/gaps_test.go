package trace

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// found is what a scripted gap lookup answers.
type found struct {
	state    inspect.State
	timeWait bool
	err      error
}

func TestGaps(t *testing.T) {
	const start = time.Hour // the kernel's monotonic time of the move
	move := func(from, to inspect.State) Transition {
		return Transition{Mono: start, Cookie: 7, From: from, To: to}
	}
	tests := []struct {
		name  string
		moves []Transition
		found found
		lost  uint64 // once the reader has read past the lookup
	}{
		{
			name:  "FIN_WAIT1 then a time-wait socket",
			moves: []Transition{move(inspect.Established, inspect.FinWait1)},
			found: found{state: inspect.TimeWait, timeWait: true},
			lost:  2,
		},
		{
			name:  "FIN_WAIT1 then a time-wait socket in FIN_WAIT2",
			moves: []Transition{move(inspect.Established, inspect.FinWait1)},
			found: found{state: inspect.FinWait2, timeWait: true},
			lost:  2,
		},
		{
			name:  "FIN_WAIT2 then a time-wait socket",
			moves: []Transition{move(inspect.FinWait1, inspect.FinWait2)},
			found: found{state: inspect.TimeWait, timeWait: true},
			lost:  1,
		},
		{
			name:  "FIN_WAIT1 then FIN_WAIT2",
			moves: []Transition{move(inspect.Established, inspect.FinWait1)},
			found: found{state: inspect.FinWait2},
			lost:  1,
		},
		{
			name:  "FIN_WAIT1 then gone",
			moves: []Transition{move(inspect.Established, inspect.FinWait1)},
			found: found{err: fmt.Errorf("lookup: %w", syscall.ENOENT)},
			lost:  1,
		},
		{
			name:  "still in FIN_WAIT1",
			moves: []Transition{move(inspect.Established, inspect.FinWait1)},
			found: found{state: inspect.FinWait1},
		},
		{
			name:  "reported to CLOSE",
			moves: []Transition{move(inspect.Established, inspect.FinWait1), move(inspect.FinWait1, inspect.Close)},
			found: found{err: fmt.Errorf("lookup: %w", syscall.ENOENT)},
		},
		{
			name:  "not a state followed",
			moves: []Transition{move(inspect.CloseWait, inspect.LastAck)},
			found: found{err: fmt.Errorf("lookup: %w", syscall.ENOENT)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g gaps
			looks := 0
			look := func(tr *Transition) (inspect.State, bool, error) {
				looks++
				return tt.found.state, tt.found.timeWait, tt.found.err
			}
			for i := range tt.moves {
				g.watch(&tt.moves[i])
			}
			// Not due while the reader has not read gapQuiet past the move.
			if lost, err := g.check(look, start+gapQuiet/2, start+time.Second); lost != 0 || err != nil || looks != 0 {
				t.Fatalf("before due: %d lost, %v, %d lookups", lost, err, looks)
			}
			now := start + time.Second
			// Due: the lookup; the reader has not read past it yet.
			if lost, err := g.check(look, start+gapQuiet, now); lost != 0 || err != nil {
				t.Fatalf("at the lookup: %d lost, %v", lost, err)
			}
			lost, err := g.check(look, now+gapSettle+time.Millisecond, now+time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if lost != tt.lost {
				t.Errorf("%d lost, want %d", lost, tt.lost)
			}
		})
	}
}

// TestGapsLateRecord: a transition read after the lookup that found the
// socket moved on, but written before it, is no loss.
func TestGapsLateRecord(t *testing.T) {
	const start = time.Hour
	var g gaps
	look := func(tr *Transition) (inspect.State, bool, error) { return inspect.TimeWait, true, nil }
	fin1 := Transition{Mono: start, Cookie: 7, From: inspect.Established, To: inspect.FinWait1}
	g.watch(&fin1)
	now := start + time.Second
	if lost, err := g.check(look, start+gapQuiet, now); lost != 0 || err != nil {
		t.Fatalf("at the lookup: %d lost, %v", lost, err)
	}
	for _, tr := range []Transition{
		{Mono: now - time.Millisecond, Cookie: 7, From: inspect.FinWait1, To: inspect.FinWait2},
		{Mono: now - time.Millisecond, Cookie: 7, From: inspect.FinWait2, To: inspect.Close},
	} {
		g.watch(&tr)
	}
	if lost, err := g.check(look, now+time.Second, now+time.Second); lost != 0 || err != nil {
		t.Errorf("%d lost, %v; want none", lost, err)
	}
	if len(g.watched) != 0 {
		t.Errorf("%d sockets still followed, want none", len(g.watched))
	}
}

// TestGapsGiveUp: a socket that stays in FIN_WAIT2 is looked up less and
// less often, and not after gapGiveUp.
func TestGapsGiveUp(t *testing.T) {
	const start = time.Hour
	var g gaps
	looks := 0
	look := func(tr *Transition) (inspect.State, bool, error) {
		looks++
		return inspect.FinWait2, false, nil
	}
	fin2 := Transition{Mono: start, Cookie: 7, From: inspect.FinWait1, To: inspect.FinWait2}
	g.watch(&fin2)
	for now := start; now <= start+gapGiveUp+gapMaxRetry; now += gapInterval {
		if lost, err := g.check(look, now, now); lost != 0 || err != nil {
			t.Fatalf("%d lost, %v", lost, err)
		}
	}
	// 100 ms, 200, 400 ... 6.4 s, then every 10 s until two minutes.
	if looks < 10 || looks > 25 {
		t.Errorf("%d lookups in %v, want between 10 and 25", looks, gapGiveUp)
	}
	if len(g.watched) != 0 {
		t.Errorf("%d sockets still followed, want none", len(g.watched))
	}
}
