package inspect

import (
	"context"
	"errors"
)

// Query says which sockets a Source returns.
type Query struct {
	// Protocols to list; empty means UDP and TCP, unless UnixTypes is
	// set.
	Protocols []Protocol
	// Families to list; empty means INet and INet6. They apply to the
	// Protocols: unix sockets are chosen with UnixTypes.
	Families []Family
	// UnixTypes are the unix socket types to list, ss's u_str, u_dgr and
	// u_seq; empty lists no unix socket.
	UnixTypes []UnixType
	// States to return; sent to the kernel as idiag_states. The empty set
	// returns nothing.
	States StateSet
	// Filter keeps the sockets it matches; nil keeps every socket. The
	// netlink source sends its Bytecode to the kernel, the proc source
	// applies Match.
	Filter Filter
	// Info asks for Socket.Info and Memory for Socket.Memory. Only the
	// netlink source has them: it asks the kernel for the extensions
	// (idiag_ext) only when they are wanted, as they cost time per
	// socket. The proc source ignores both.
	Info, Memory bool
	// Cgroup asks for Socket.CgroupID, which only the netlink source has.
	Cgroup bool
	// EveryKind says no kind was chosen by name: the Protocols are every
	// kind, as ss lists them with no kind flag, and one the kernel or the
	// source cannot list (MPTCP on a kernel without mptcp_diag, or from
	// /proc) is left out, as ss leaves it out, instead of failing.
	EveryKind bool
	// Inline says that the caller's work on each batch of a Streamer's
	// Each is light, such as counting: the netlink source then does it on
	// the goroutine that receives from the kernel instead of handing the
	// batches to another, which costs less CPU (a tenth of a collection of
	// 18,000 sockets) and gains no overlap. It changes nothing listed.
	Inline bool
}

// ProtocolsOrDefault returns q.Protocols, or UDP and TCP when it and
// UnixTypes are empty.
func (q *Query) ProtocolsOrDefault() []Protocol {
	if len(q.Protocols) == 0 && len(q.UnixTypes) == 0 {
		return []Protocol{UDP, TCP}
	}
	return q.Protocols
}

// FamiliesOrDefault returns q.Families, or INet and INet6 when it is
// empty.
func (q *Query) FamiliesOrDefault() []Family {
	if len(q.Families) == 0 {
		return []Family{INet, INet6}
	}
	return q.Families
}

// Filter chooses sockets: ssfilter.Filter, ss's expression language, is
// one.
type Filter interface {
	// Match reports whether the filter keeps s.
	Match(s *Socket) bool
	// Bytecode returns the filter for sockets of family f as an
	// INET_DIAG_REQ_BYTECODE program (sock_diag(7)), nil when it keeps
	// every socket of f. A filter the kernel cannot run returns an
	// error, and a source that can then applies Match itself.
	Bytecode(f Family) ([]byte, error)
}

// Source lists sockets. Implementations: the netlink source (sock_diag), the
// proc source (/proc/net) and the automatic source that tries both.
//
// A Source may do more than list: the optional interfaces Streamer and
// Poller say how, and are found by type assertion, on the Source or on
// the one it wraps (Wrapper).
type Source interface {
	Sockets(ctx context.Context, q Query) ([]Socket, error)
}

// Wrapper is a Source that wraps another, such as one that adds a hint to
// its errors. Each and NewPoll look through it for a Streamer or Poller
// that it is not itself, so a wrapper must list what it wraps lists.
type Wrapper interface {
	Source
	Unwrap() Source
}

// Find returns the first of src and the sources it wraps (Wrapper) that is
// a T, and whether there is one.
func Find[T any](src Source) (T, bool) {
	for src != nil {
		if t, ok := src.(T); ok {
			return t, true
		}
		w, ok := src.(Wrapper)
		if !ok {
			break
		}
		src = w.Unwrap()
	}
	var zero T
	return zero, false
}

// Poller is a Source that lists again and again keeping what it can from
// one listing to the next, such as its sock_diag socket and buffers: a
// Watcher's polls.
type Poller interface {
	Source
	NewPoll() Poll
}

// Poll is a series of listings of one Poller.
type Poll interface {
	// Poll lists what the Source's Sockets lists, each socket once,
	// appending to dst[:0], whose sockets it overwrites.
	Poll(ctx context.Context, q Query, dst []Socket) ([]Socket, error)
	// Close releases what the Poll keeps.
	Close()
}

// NewPoll returns a Poll of src: its Poller's (found as Find finds it), or
// for any other Source one that calls Sockets and drops the repeats it
// may list.
func NewPoll(src Source) Poll {
	if p, ok := Find[Poller](src); ok {
		return p.NewPoll()
	}
	return &sourcePoll{s: src}
}

// sourcePoll polls any Source.
type sourcePoll struct {
	s    Source
	seen Sightings
}

func (p *sourcePoll) Poll(ctx context.Context, q Query, _ []Socket) ([]Socket, error) {
	socks, err := p.s.Sockets(ctx, q)
	return DropRepeats(socks, &p.seen), err
}

func (*sourcePoll) Close() {}

// ErrIncomplete says that a listing may lack sockets: the kernel kept
// interrupting a sock_diag dump (its tables changed during every attempt).
// The sockets listed are still returned. Sources wrap it with Incomplete.
var ErrIncomplete = errors.New("inspect: the listing may be incomplete")

// Incomplete returns err, with its message unchanged, as an error that is
// also ErrIncomplete.
func Incomplete(err error) error {
	return incompleteError{err}
}

type incompleteError struct{ err error }

func (e incompleteError) Error() string   { return e.err.Error() }
func (e incompleteError) Unwrap() []error { return []error{e.err, ErrIncomplete} }
