package inspect

import "net/netip"

// Key identifies a socket across snapshots. sock_diag gives every socket a
// cookie that survives its move into TIME_WAIT, so where there is one the
// key is the cookie alone. The /proc fallback has no cookie, so its key is
// the protocol and the address tuple; a tuple reused by a new socket is
// told apart by the inode (see Diff).
type Key struct {
	Cookie      uint64
	Protocol    Protocol
	Local, Peer netip.AddrPort
}

// KeyOf returns the key of s.
func KeyOf(s *Socket) Key {
	if s.Cookie != 0 {
		return Key{Cookie: s.Cookie}
	}
	return Key{Protocol: s.Protocol, Local: s.Local, Peer: s.Peer}
}

// EventKind says what happened to a socket between two snapshots.
type EventKind uint8

// The kinds of event Diff reports.
const (
	EventNew    EventKind = iota + 1 // appeared
	EventChange                      // changed state
	EventGone                        // disappeared
	// EventLost says that the kernel's reports were lost, of destroyed
	// sockets (its queue overflowed) or, from trace.Events, of state
	// changes (the ring buffer was full): sockets that lived and died
	// around then may be missing. Diff never returns it; a Watcher and
	// trace.Events do, each followed by what a fresh dump shows.
	EventLost
)

// String returns the name used in sockstate's output: new, change, gone,
// lost.
func (k EventKind) String() string {
	switch k {
	case EventNew:
		return "new"
	case EventChange:
		return "change"
	case EventGone:
		return "gone"
	case EventLost:
		return "lost"
	}
	return "unknown"
}

// Event is one socket's change between two snapshots.
type Event struct {
	Kind EventKind
	// Socket is the socket as last seen: from the newer snapshot for new
	// and change, from the older one for gone.
	Socket Socket
	// From is the state before (0 for new); To the state after (0 for gone).
	From, To State
}

// Diff compares two snapshots and returns the events that turn prev into
// next: a change for each socket whose state differs, new for each socket
// only in next, gone for each only in prev. New and change events come in
// next's order, then gone events in prev's. A key present in both whose
// inodes are both known and differ is a new socket on a reused tuple: gone
// for the old one, new for the new one.
func Diff(prev, next []Socket) []Event {
	var d differ
	return d.diff(prev, next)
}

// differ is Diff with memory that it reuses from one call to the next: a
// Watcher's polls. The events it returns are valid until the next call.
type differ struct {
	// The index in prev of each key: cookies apart, as 64-bit map keys
	// hash several times faster than a Key.
	cookies map[uint64]int
	tuples  map[Key]int
	matched []bool
	events  []Event
}

// diff returns Diff(prev, next).
func (d *differ) diff(prev, next []Socket) []Event {
	if d.cookies == nil {
		d.cookies = make(map[uint64]int, len(prev))
		d.tuples = map[Key]int{}
	}
	clear(d.cookies)
	clear(d.tuples)
	for i := range prev {
		if c := prev[i].Cookie; c != 0 {
			d.cookies[c] = i
		} else {
			d.tuples[KeyOf(&prev[i])] = i
		}
	}
	events := d.events[:0]
	matched := append(d.matched[:0], make([]bool, len(prev))...)
	for i := range next {
		n := &next[i]
		j, ok := d.before(n)
		if ok && matched[j] {
			ok = false
		}
		if ok && reused(&prev[j], n) {
			ok = false
		}
		if !ok {
			events = append(events, Event{Kind: EventNew, Socket: *n, To: n.State})
			continue
		}
		matched[j] = true
		if p := &prev[j]; p.State != n.State {
			events = append(events, Event{Kind: EventChange, Socket: *n, From: p.State, To: n.State})
		}
	}
	for j := range prev {
		if !matched[j] {
			events = append(events, Event{Kind: EventGone, Socket: prev[j], From: prev[j].State})
		}
	}
	d.matched, d.events = matched, events
	return events
}

// before returns the index in prev of the socket with n's key.
func (d *differ) before(n *Socket) (int, bool) {
	if n.Cookie != 0 {
		j, ok := d.cookies[n.Cookie]
		return j, ok
	}
	j, ok := d.tuples[KeyOf(n)]
	return j, ok
}

// reused reports whether next, found under prev's key, is another socket:
// both hold files and the files differ. A socket moving into TIME_WAIT
// loses its inode (0) and stays the same socket.
func reused(prev, next *Socket) bool {
	return prev.Inode != 0 && next.Inode != 0 && prev.Inode != next.Inode
}
