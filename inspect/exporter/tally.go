package exporter

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// numStates is one more than the highest state number the kernel defines
// (NEW_SYN_RECV, 12), so a state indexes arrays of counts.
const numStates = int(inspect.NewSynRecv) + 1

// The slots of tally.slot: a listening port with a series of its own has
// its index in snapshot.ports plus slotOwn; a port that is not listening
// has slotNone.
const (
	slotNone  = 0
	slotOther = 1
	slotOwn   = 2
)

// sockKey names a socket across collections: by its cookie, which the
// kernel never reuses while the socket lives, or, from the /proc source,
// which has none, by its addresses (a CLOSE_WAIT socket's tuple is not
// reused before it closes).
type sockKey struct {
	cookie      uint64
	local, peer netip.AddrPort
}

func keyOf(s *inspect.Socket) sockKey {
	if s.Cookie != 0 {
		return sockKey{cookie: s.Cookie}
	}
	return sockKey{local: s.Local, peer: s.Peer}
}

// tally counts the sockets of one collection as they are handed over. Its
// tables are kept from one collection to the next, so a scrape allocates
// only what it returns.
type tally struct {
	snap *snapshot
	now  time.Time
	// slot maps every local port to slotNone, slotOther or slotOwn+i.
	slot [1 << 16]uint16
	// lo and hi are the ephemeral port range; hi is 0 when unknown.
	// ranges, when not empty, has it by namespace instead.
	lo, hi uint16
	ranges map[uint64]portRange
	dests  map[netip.AddrPort]int64
	// seen and next hold the first sighting of each CLOSE_WAIT socket on a
	// listening port: seen from the last collection, next for this one.
	seen, next map[sockKey]time.Time
	listeners  []listener
	// by, when set, splits the counts by group into groups.
	by     *Grouping
	groups map[uint64]*stateCounts
}

func newTally(by *Grouping) *tally {
	return &tally{
		dests:  map[netip.AddrPort]int64{},
		seen:   map[sockKey]time.Time{},
		next:   map[sockKey]time.Time{},
		by:     by,
		groups: map[uint64]*stateCounts{},
	}
}

// listener is a listening address's accept queue and its limit, summed over
// the sockets that share the address (SO_REUSEPORT).
type listener struct {
	addr           netip.AddrPort
	queue, backlog int64
}

// addListeners counts a batch of listening TCP sockets.
func (t *tally) addListeners(batch []inspect.Socket) error {
	for i := range batch {
		s := &batch[i]
		t.count(s)
		t.listeners = append(t.listeners, listener{addr: s.Local, queue: int64(s.RecvQ), backlog: int64(s.SendQ)})
	}
	return nil
}

// count adds s to the counts by protocol, family and state.
func (t *tally) count(s *inspect.Socket) {
	t.snap.seen++
	k := kindOf(s)
	if k < 0 || int(s.State) >= numStates {
		t.snap.unknown++
		return
	}
	t.snap.sockets[k][s.State]++
	if t.by != nil {
		t.countGroup(s, k)
	}
}

// assignPorts gives each listening port its slot once every listener is
// known: the ports chosen (all, or those in ports), lowest first, up to
// max of them, get series of their own, the others are counted as other.
// It folds the listeners into one per address and port.
func (t *tally) assignPorts(ports []uint16, max int) {
	slices.SortFunc(t.listeners, func(a, b listener) int {
		return cmp.Or(cmp.Compare(a.addr.Port(), b.addr.Port()), a.addr.Addr().Compare(b.addr.Addr()))
	})
	merged := t.listeners[:0]
	for _, l := range t.listeners {
		if n := len(merged); n > 0 && merged[n-1].addr == l.addr {
			merged[n-1].queue += l.queue
			merged[n-1].backlog += l.backlog
			continue
		}
		merged = append(merged, l)
	}
	t.listeners = merged
	snap := t.snap
	for _, l := range t.listeners {
		port := l.addr.Port()
		if t.slot[port] == slotNone {
			if (len(ports) == 0 || slices.Contains(ports, port)) && len(snap.ports) < max {
				t.slot[port] = slotOwn + uint16(len(snap.ports))
				snap.ports = append(snap.ports, portCount{port: port})
			} else {
				t.slot[port] = slotOther
				snap.otherPorts++
			}
		}
		if t.slot[port] == slotOther {
			snap.otherListener.queue += l.queue
			snap.otherListener.backlog += l.backlog
			continue
		}
		snap.listeners = append(snap.listeners, l)
	}
	if snap.otherPorts > 0 {
		snap.other = &portCount{}
	}
}

// addUnix counts a batch of unix sockets.
func (t *tally) addUnix(batch []inspect.Socket) error {
	for i := range batch {
		t.count(&batch[i])
	}
	return nil
}

// addConnections counts a batch of sockets that are not listening TCP
// sockets: by state, by listening port, and the ephemeral ports they hold.
func (t *tally) addConnections(batch []inspect.Socket) error {
	for i := range batch {
		s := &batch[i]
		t.count(s)
		if s.Protocol != inspect.TCP || int(s.State) >= numStates {
			continue
		}
		port := s.Local.Port()
		lo, hi := t.lo, t.hi
		if len(t.ranges) > 0 {
			r := t.ranges[s.NetNS]
			lo, hi = r.lo, r.hi
		}
		var pc *portCount
		switch slot := t.slot[port]; {
		case slot >= slotOwn:
			pc = &t.snap.ports[slot-slotOwn]
		case slot == slotOther:
			pc = t.snap.other
		case hi != 0 && port >= lo && port <= hi:
			t.dests[s.Peer]++
			continue
		default:
			continue
		}
		pc.states[s.State]++
		if s.State == inspect.CloseWait {
			k := keyOf(s)
			first, ok := t.seen[k]
			if !ok {
				first = t.now
			}
			t.next[k] = first
			if age := t.now.Sub(first); age > pc.oldestCloseWait {
				pc.oldestCloseWait = age
			}
		}
	}
	return nil
}

// finish ends a collection: it takes the top destinations into the
// snapshot, keeps this collection's CLOSE_WAIT sightings for the next one
// (or the last one's, when this one failed to list every socket), keeps
// the largest groups, and clears the tables.
func (t *tally) finish(top, maxGroups int, listed bool) {
	snap := t.snap
	if t.by != nil {
		t.finishGroups(maxGroups)
	}
	for d, n := range t.dests {
		snap.dests = append(snap.dests, destCount{dest: d, used: n})
	}
	slices.SortFunc(snap.dests, func(a, b destCount) int {
		return cmp.Or(cmp.Compare(b.used, a.used), a.dest.Addr().Compare(b.dest.Addr()), cmp.Compare(a.dest.Port(), b.dest.Port()))
	})
	snap.destinations = len(snap.dests)
	snap.dests = slices.Clip(snap.dests[:min(top, len(snap.dests))])
	if listed {
		t.seen, t.next = t.next, t.seen
	}
	clear(t.next)
	clear(t.dests)
	for _, l := range t.listeners {
		t.slot[l.addr.Port()] = slotNone
	}
	t.listeners = t.listeners[:0]
	t.snap = nil
}
