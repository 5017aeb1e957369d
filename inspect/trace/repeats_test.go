package trace

import (
	"testing"

	"github.com/sockstate/sockstate/inspect"
)

func TestRepeats(t *testing.T) {
	tr := func(cookie uint64, from, to inspect.State) *Transition {
		return &Transition{Cookie: cookie, From: from, To: to}
	}
	var r repeats
	steps := []struct {
		tr   *Transition
		want bool
	}{
		{tr(1, inspect.Close, inspect.SynSent), false},
		{tr(2, inspect.Close, inspect.SynSent), false},
		{tr(1, inspect.SynSent, inspect.Established), false},
		{tr(1, inspect.Close, inspect.SynSent), true},
		{tr(1, inspect.SynSent, inspect.Established), true},
		{tr(3, inspect.Close, inspect.Close), false},
		{tr(3, inspect.Close, inspect.Close), false},
	}
	for i, s := range steps {
		if got := r.seen(s.tr); got != s.want {
			t.Errorf("step %d %+v: seen %v, want %v", i, *s.tr, got, s.want)
		}
	}
	// Past the window a change is new again.
	for c := uint64(100); c < 100+repeatWindow; c++ {
		if r.seen(tr(c, inspect.Listen, inspect.Close)) {
			t.Fatalf("cookie %d seen", c)
		}
	}
	if r.seen(tr(1, inspect.Close, inspect.SynSent)) {
		t.Error("a change older than the window is still seen")
	}
	if len(r.held) != repeatWindow {
		t.Errorf("%d changes remembered, want %d", len(r.held), repeatWindow)
	}
}
