package inspect

import (
	"fmt"
	"strings"
)

// State is a socket state with the kernel's numbering from
// include/net/tcp_states.h. UDP reuses it: an unconnected UDP socket is in
// Close (printed UNCONN), a connected one in Established.
type State uint8

// The kernel's TCP states, in tcp_states.h order.
const (
	Established State = 1 + iota
	SynSent
	SynRecv
	FinWait1
	FinWait2
	TimeWait
	Close
	CloseWait
	LastAck
	Listen
	Closing
	NewSynRecv
)

// BoundInactive is TCP_BOUND_INACTIVE (Linux 6.5): a TCP socket bound to
// a port that neither listens nor connects. sock_diag lists such sockets,
// from the kernel's bind table, only when this state is asked for, and ss
// asks for it only with -B: it is in no group, AllStates included.
const BoundInactive State = 13

// maxState is the highest state number of a socket in the kernel's
// tables (TCP_NEW_SYN_RECV); BoundInactive comes after it.
const maxState = NewSynRecv

var kernelNames = [...]string{
	Established: "ESTABLISHED",
	SynSent:     "SYN_SENT",
	SynRecv:     "SYN_RECV",
	FinWait1:    "FIN_WAIT1",
	FinWait2:    "FIN_WAIT2",
	TimeWait:    "TIME_WAIT",
	Close:       "CLOSE",
	CloseWait:   "CLOSE_WAIT",
	LastAck:     "LAST_ACK",
	Listen:      "LISTEN",
	Closing:     "CLOSING",
	NewSynRecv:  "NEW_SYN_RECV",
}

// ssNames are the names ss(8) accepts after "state" and "exclude".
var ssNames = [...]string{
	Established: "established",
	SynSent:     "syn-sent",
	SynRecv:     "syn-recv",
	FinWait1:    "fin-wait-1",
	FinWait2:    "fin-wait-2",
	TimeWait:    "time-wait",
	Close:       "closed",
	CloseWait:   "close-wait",
	LastAck:     "last-ack",
	Listen:      "listening",
	Closing:     "closing",
	NewSynRecv:  "new-syn-recv",
}

// String returns the kernel's name of s (as in tcp_states.h without the
// TCP_ prefix), or unknown(N) for a number the kernel does not define.
func (s State) String() string {
	if s == BoundInactive {
		return "BOUND_INACTIVE"
	}
	if s == 0 || s > maxState {
		return fmt.Sprintf("unknown(%d)", uint8(s))
	}
	return kernelNames[s]
}

// SSName returns the name ss(8) uses for s in state filters, or unknown(N).
func (s State) SSName() string {
	if s == BoundInactive {
		return "bound-inactive"
	}
	if s == 0 || s > maxState {
		return fmt.Sprintf("unknown(%d)", uint8(s))
	}
	return ssNames[s]
}

// ParseState accepts a kernel name (TIME_WAIT) or an ss name (time-wait), in
// any case.
func ParseState(name string) (State, error) {
	for s := Established; s <= maxState; s++ {
		if strings.EqualFold(name, kernelNames[s]) || strings.EqualFold(name, ssNames[s]) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("inspect: unknown state %q", name)
}

// StateSet is a set of states as a bit mask, bit N for state N: the layout of
// sock_diag's idiag_states, so it goes to the kernel unchanged.
type StateSet uint32

// AllStates is every state the kernel defines.
const AllStates StateSet = (1<<(maxState+1) - 1) &^ 1

// StatesOf returns the set holding exactly the given states.
func StatesOf(states ...State) StateSet {
	var set StateSet
	for _, s := range states {
		set |= 1 << s
	}
	return set
}

// Has reports whether s is in the set.
func (set StateSet) Has(s State) bool { return s < 32 && set&(1<<s) != 0 }

// The state groups of ss(8), and the sets its -a, -l and default select.
const (
	// ConnectedStates is ss's "connected": every state but LISTEN and CLOSE.
	ConnectedStates = AllStates &^ (1<<Listen | 1<<Close)
	// SynchronizedStates is ss's "synchronized": connected but not SYN_SENT.
	SynchronizedStates = ConnectedStates &^ (1 << SynSent)
	// BucketStates is ss's "bucket": the minisockets, SYN_RECV and TIME_WAIT.
	BucketStates = StateSet(1<<SynRecv | 1<<TimeWait)
	// BigStates is ss's "big": every state but the minisockets. The kernel
	// keeps a pending connection as a request socket in NEW_SYN_RECV and
	// reports it as SYN_RECV whenever SYN_RECV is asked for.
	BigStates = AllStates &^ BucketStates &^ (1 << NewSynRecv)
	// DefaultStates is what ss lists with neither -a nor -l: connected
	// sockets without the minisockets.
	DefaultStates = ConnectedStates &^ BucketStates &^ (1 << NewSynRecv)
	// ListeningStates is what ss -l lists: TCP listeners and unconnected
	// UDP sockets, which the kernel keeps in CLOSE.
	ListeningStates = StateSet(1<<Listen | 1<<Close)
)
