package demo

import (
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// EntryKind says what an Entry is.
type EntryKind uint8

// The kinds of timeline entry.
const (
	EntryNote  EntryKind = iota + 1 // a line of commentary
	EntryStep                       // a step one of the programs took
	EntryState                      // a socket's state, observed or inferred
)

// String returns the kind's name in the JSON timeline: note, step, state.
func (k EntryKind) String() string {
	switch k {
	case EntryNote:
		return "note"
	case EntryStep:
		return "step"
	case EntryState:
		return "state"
	}
	return "unknown"
}

// Entry is one line of the timeline.
type Entry struct {
	// Elapsed is the time since the demo started: when a step was taken,
	// or when a state was seen (for an inferred state, when the state
	// after it was).
	Elapsed time.Duration
	Kind    EntryKind
	// Actor (server or client) and Text (the calls, "listen(5)") of a
	// step; Text of a note.
	Actor, Text string
	// Socket and State of a state entry; State is Gone once the kernel
	// freed the socket. Observed is false for a state the socket must
	// have passed through unseen.
	Socket   Role
	State    inspect.State
	Observed bool
}
