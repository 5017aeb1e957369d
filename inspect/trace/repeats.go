package trace

import "github.com/sockstate/sockstate/inspect"

// repeatWindow is how many recent transitions repeats remembers: more than
// a softirq's burst of state changes, which is what can come between a
// record and its repeat.
const repeatWindow = 512

// change is a socket's transition, without its time.
type change struct {
	cookie   uint64
	from, to inspect.State
}

// repeats drops the second record of one state change, which the backup
// copy of the program writes when more state changes than it keeps tokens
// for came between the two copies (see program). A socket cannot change
// from one state to another twice in a row, so a change seen within the
// window is a repeat. A change to the same state (CLOSE -> CLOSE) can
// happen twice and is never dropped.
type repeats struct {
	window [repeatWindow]change
	next   int
	// held is the changes the window holds: each once, as a change
	// already held is dropped, not added again.
	held map[change]struct{}
}

// seen reports whether tr repeats a recent transition, and remembers it.
func (r *repeats) seen(tr *Transition) bool {
	if tr.From == tr.To {
		return false
	}
	c := change{tr.Cookie, tr.From, tr.To}
	if r.held == nil {
		r.held = make(map[change]struct{}, repeatWindow)
	}
	if _, ok := r.held[c]; ok {
		return true
	}
	if old := r.window[r.next]; old != (change{}) {
		delete(r.held, old)
	}
	r.window[r.next] = c
	r.held[c] = struct{}{}
	r.next = (r.next + 1) % repeatWindow
	return false
}
