package trace

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
)

// TestOverflows: moves to CLOSE whose time-wait sockets were made after a
// reading of the overflow counter are confirmed when it has not moved
// since; those the readings cannot vouch for, all of a batch during which
// it moved, and all of a batch whose reading failed are looked up.
func TestOverflows(t *testing.T) {
	start := time.Unix(1000, 0)
	errBroken := errors.New("broken")
	// closeAt is a move to CLOSE stamped at ms milliseconds.
	closeAt := func(port uint16, ms float64) Transition {
		tr := closing(port, inspect.FinWait2)
		tr.Mono = time.Duration(ms * float64(time.Millisecond))
		return tr
	}
	tests := []struct {
		name string
		// readings are the counter's values at the readings before the
		// batch, the first at 0 ms, each 2 ms after the one before.
		readings []uint64
		batch    []Transition
		// now is the counter's value when the batch is confirmed, at
		// 10 ms; err the reading's error.
		now                  uint64
		err                  error
		wantMade, wantLooked []uint16
	}{
		{
			name:     "counter unchanged: confirmed",
			readings: []uint64{5},
			batch:    []Transition{closeAt(1, 1.5), closeAt(2, 9)},
			now:      5,
			wantMade: []uint16{1, 2},
		},
		{
			name:       "counter moved: every move looked up",
			readings:   []uint64{5},
			batch:      []Transition{closeAt(1, 1.5), closeAt(2, 9)},
			now:        6,
			wantLooked: []uint16{1, 2},
		},
		{
			name:       "made within the margin of the only reading: looked up",
			readings:   []uint64{5},
			batch:      []Transition{closeAt(1, 0.5), closeAt(2, 1.5)},
			now:        5,
			wantMade:   []uint16{2},
			wantLooked: []uint16{1},
		},
		{
			name: "vouched for by the latest reading before it, less the margin",
			// Readings 5 at 0 ms, 6 at 2 ms, 6 at 4 ms: a move at 2.5 ms
			// goes back to 0 ms (moved since), one at 3.5 ms to 2 ms.
			readings:   []uint64{5, 6, 6},
			batch:      []Transition{closeAt(1, 2.5), closeAt(2, 3.5), closeAt(3, 9)},
			now:        6,
			wantMade:   []uint16{2, 3},
			wantLooked: []uint16{1},
		},
		{
			name:       "reading failed: every move looked up",
			readings:   []uint64{5},
			batch:      []Transition{closeAt(1, 9)},
			err:        errBroken,
			wantLooked: []uint16{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var value uint64
			var readErr error
			mono := time.Duration(0)
			o := overflows{
				read: func() (uint64, error) { return value, readErr },
				mono: func() time.Duration { return mono },
			}
			for i, n := range tt.readings {
				o.take(n, time.Duration(2*i)*time.Millisecond)
			}
			for i := range tt.batch {
				if !o.note(&tt.batch[i]) {
					t.Fatal("note refused a move with the counter read")
				}
			}
			if due, ok := o.due(); !ok || !due.IsZero() {
				t.Fatalf("due %v %v, want at once", due, ok)
			}
			value, readErr, mono = tt.now, tt.err, 10*time.Millisecond
			var made, looked []uint16
			err := o.confirm(start, func(tr *Transition) { made = append(made, tr.Local.Port()) },
				func(tr *Transition) { looked = append(looked, tr.Local.Port()) })
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("confirm: %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.wantMade, made); diff != "" {
				t.Errorf("confirmed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLooked, looked); diff != "" {
				t.Errorf("looked up (-want +got):\n%s", diff)
			}
			if _, ok := o.due(); ok {
				t.Error("moves still pending after confirm")
			}
		})
	}
}

// TestOverflowsPaced: a batch is confirmed confirmEvery after the last
// reading at the soonest; without the counter nothing is kept.
func TestOverflowsPaced(t *testing.T) {
	start := time.Unix(1000, 0)
	o := overflows{
		read: func() (uint64, error) { return 0, nil },
		mono: func() time.Duration { return 10 * time.Millisecond },
	}
	o.take(0, 0)
	confirmed := 0
	made := func(*Transition) { confirmed++ }
	tr := closing(1, inspect.FinWait2)
	tr.Mono = 5 * time.Millisecond
	for _, step := range []time.Duration{0, confirmEvery - time.Nanosecond, confirmEvery} {
		o.note(&tr)
		if err := o.confirm(start.Add(step), made, func(*Transition) { t.Error("looked up") }); err != nil {
			t.Fatal(err)
		}
	}
	// At 0 (first), then not before confirmEvery later: the second
	// note waits and goes with the third.
	if confirmed != 3 || o.count != 3 {
		t.Errorf("%d confirmed after %d readings, want 3 after 3 (the first and two)", confirmed, o.count)
	}
	var none overflows
	if none.note(&tr) {
		t.Error("note kept a move with no counter to read")
	}
}
