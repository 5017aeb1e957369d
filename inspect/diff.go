package inspect

import (
	"encoding/binary"
	"net/netip"

	"github.com/sockstate/sockstate/inspect/internal/u64map"
)

// Key identifies a socket across snapshots. sock_diag gives every socket a
// cookie that survives its move into TIME_WAIT, so where there is one the
// key is the cookie alone. The /proc fallback has no cookie, so its key is
// the protocol and the address tuple; a tuple reused by a new socket is
// told apart by the inode (see Diff). A unix or raw socket from /proc is
// keyed by its inode instead: /proc gives a unix socket no addresses, raw
// sockets of one protocol share theirs, and neither kind ever moves to
// TIME_WAIT and loses its inode.
type Key struct {
	Cookie      uint64
	Protocol    Protocol
	Local, Peer netip.AddrPort
	Inode       uint64
}

// KeyOf returns the key of s.
func KeyOf(s *Socket) Key {
	switch {
	case s.Cookie != 0:
		return Key{Cookie: s.Cookie}
	case s.Unix != nil || s.Protocol == Raw:
		return Key{Protocol: s.Protocol, Inode: s.Inode}
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
	// EventUnmatched counts the sockets the kernel reported destroyed
	// that a Watcher could not match to its query, because the kernel
	// cleared the addresses the filter reads (WatchEvent.Unmatched).
	EventUnmatched
)

// String returns the name used in sockstate's output: new, change, gone,
// lost, unmatched.
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
	case EventUnmatched:
		return "unmatched"
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
// for the old one, new for the new one. Sockets without cookies that share
// a tuple, such as SO_REUSEPORT listeners under /proc, are told apart by
// their inodes.
func Diff(prev, next []Socket) []Event {
	var d differ
	return d.diff(prev, next)
}

// differ is Diff with memory that it reuses from one call to the next: a
// Watcher's polls. The events it returns are valid until the next call.
type differ struct {
	// The index in prev of each key: cookies in a u64map.Map, and tuples
	// packed into words, whose map keys hash as plain memory, several
	// times faster than a Key; tuples that do not pack are in zoned.
	cookies u64map.Map
	tuples  map[packedTuple]int
	zoned   map[Key]int
	// inodes holds the index of each socket without a cookie that has a
	// file, to tell apart sockets that share a tuple.
	inodes  u64map.Map
	matched []bool
	events  []Event
}

// packedTuple is a Key without a cookie: the local and the peer address
// (As16), then the protocol, the ports and the kind of each address.
type packedTuple [5]uint64

// packTuple packs k, a Key without a cookie; ok is false for an address
// with an IPv6 zone, which does not fit.
func packTuple(k *Key) (p packedTuple, ok bool) {
	l, r := k.Local.Addr(), k.Peer.Addr()
	lk, ok1 := addrKind(l)
	rk, ok2 := addrKind(r)
	if !ok1 || !ok2 {
		return p, false
	}
	a, b := l.As16(), r.As16()
	p[0] = binary.NativeEndian.Uint64(a[:8])
	p[1] = binary.NativeEndian.Uint64(a[8:])
	p[2] = binary.NativeEndian.Uint64(b[:8])
	p[3] = binary.NativeEndian.Uint64(b[8:])
	p[4] = uint64(k.Protocol)<<40 | uint64(k.Local.Port())<<24 | uint64(k.Peer.Port())<<8 | lk<<2 | rk
	return p, true
}

// addrKind tells the addresses As16 does not: the zero Addr 0, IPv4 1,
// IPv6 2. ok is false for a zoned IPv6 address.
func addrKind(a netip.Addr) (kind uint64, ok bool) {
	switch {
	case a.Is4():
		return 1, true
	case a.Is6():
		return 2, a.Zone() == ""
	}
	return 0, true
}

// diff returns Diff(prev, next).
func (d *differ) diff(prev, next []Socket) []Event {
	if d.tuples == nil {
		d.tuples = map[packedTuple]int{}
		d.zoned = map[Key]int{}
	}
	d.cookies.Reset(len(prev))
	d.inodes.Reset(0)
	clear(d.tuples)
	clear(d.zoned)
	for i := range prev {
		p := &prev[i]
		if p.Cookie != 0 {
			d.cookies.Put(p.Cookie, uint64(i))
			continue
		}
		if p.Inode != 0 {
			d.inodes.Put(p.Inode, uint64(i))
		}
		k := KeyOf(p)
		if t, ok := packTuple(&k); ok {
			d.tuples[t] = i
		} else {
			d.zoned[k] = i
		}
	}
	events := d.events[:0]
	matched := append(d.matched[:0], make([]bool, len(prev))...)
	for i := range next {
		n := &next[i]
		j, ok := d.before(prev, n)
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

// before returns the index in prev of the socket with n's key: without a
// cookie, the one with n's inode too if there is one.
func (d *differ) before(prev []Socket, n *Socket) (int, bool) {
	if n.Cookie != 0 {
		j, ok := d.cookies.Get(n.Cookie)
		return int(j), ok
	}
	k := KeyOf(n)
	if n.Inode != 0 {
		if j, ok := d.inodes.Get(n.Inode); ok && KeyOf(&prev[j]) == k {
			return int(j), true
		}
	}
	if t, ok := packTuple(&k); ok {
		j, ok := d.tuples[t]
		return j, ok
	}
	j, ok := d.zoned[k]
	return j, ok
}

// reused reports whether next, found under prev's key, is another socket:
// both hold files and the files differ. A socket moving into TIME_WAIT
// loses its inode (0) and stays the same socket.
func reused(prev, next *Socket) bool {
	return prev.Inode != 0 && next.Inode != 0 && prev.Inode != next.Inode
}
