package inspect

import (
	"slices"
	"time"
)

// tracker turns successive polls and destroy reports into WatchEvents and
// remembers since when each socket has been in its state.
type tracker struct {
	q     *Query
	since map[Key]time.Time
	// seen is when a poll first showed each socket (WatchEvent.Seen).
	seen map[Key]time.Time
	diff differ
	// destroys says destroy reports come beside the polls.
	destroys bool
	// polledGone holds the sockets a poll found gone whose destroy
	// report has not come yet: the kernel sends it when the socket is
	// freed, which may be long after it left the tables (a reset socket
	// whose owner keeps its file), and the socket must not be reported
	// gone twice.
	polledGone goneSet
	// held is the sockets the last poll no longer showed whose destroy
	// report had not come: their verdict waits for this poll
	// (watch_held.go).
	held []Socket
	// heldAt is when the poll that held them ended.
	heldAt time.Time
}

// step reports what changed from prev to next, polled from start to now,
// given the losses and destroyed sockets reported meanwhile. It returns
// the reports it cannot settle yet: a socket that the poll still showed,
// reported destroyed after the poll had begun, may have been freed after
// the dump passed it.
func (t *tracker) step(prev, next []Socket, start, now time.Time, lost []loss, destroyed []destroyedSocket) (batch []WatchEvent, unresolved []destroyedSocket) {
	for _, l := range lost {
		batch = append(batch, WatchEvent{Event: Event{Kind: EventLost}, Time: l.at, Lost: l.n})
	}
	events, diffEvents := t.withHeld(t.diff.diff(prev, next))
	inState := make([]time.Duration, len(events))
	t.joinRequests(events, inState, now)
	slices.SortStableFunc(destroyed, func(a, b destroyedSocket) int { return a.at.Compare(b.at) })

	// Each destroyed socket is looked up under both keys, since the
	// source decides which one its sockets have.
	var byKey map[Key]int
	var inNext []bool
	if len(destroyed) > 0 {
		byKey = make(map[Key]int, 2*len(destroyed))
		for i := range destroyed {
			s := &destroyed[i].Socket
			if s.Cookie != 0 {
				byKey[Key{Cookie: s.Cookie}] = i
			}
			if !clearedTuple(s) {
				byKey[Key{Protocol: s.Protocol, Local: s.Local, Peer: s.Peer}] = i
			}
		}
		// A timewait socket is found by its tuple too: it inherits the
		// full socket's cookie only if one was made (sockets get theirs
		// when first dumped), and the destroy report makes one for the
		// full socket.
		inNext = make([]bool, len(destroyed))
		for i := range next {
			n := &next[i]
			if j, ok := byKey[KeyOf(n)]; ok {
				inNext[j] = true
			}
			if j, ok := byKey[Key{Protocol: n.Protocol, Local: n.Local, Peer: n.Peer}]; ok {
				inNext[j] = true
			}
		}
	}
	gone := make([]*Event, len(destroyed)) // the poll's gone event each destroy replaces
	for i := range events {
		if e := &events[i]; e.Kind == EventGone && byKey != nil {
			if j, ok := byKey[KeyOf(&e.Socket)]; ok && !inNext[j] {
				gone[j] = e
			}
		}
	}
	requestsOf(events, destroyed, inNext, gone)
	clearedOf(events, destroyed, inNext, gone)
	var unmatched uint64

	for j := range destroyed {
		d := &destroyed[j]
		switch {
		case inNext[j] && d.at.Before(start):
			// Reported before the dump began and still there: the kernel
			// freed the full socket and keeps the connection as a
			// timewait socket (TIME_WAIT, or FIN_WAIT2 once closed),
			// which has the same cookie and tuple.
		case inNext[j]:
			unresolved = append(unresolved, *d)
		case gone[j] != nil:
			batch = t.died(batch, gone[j].Socket, d)
			gone[j].Kind = 0
		case t.freedAfterGone(&batch, d):
		case clearedTuple(&d.Socket):
			// Never seen, and its addresses are gone: reported as
			// what is left, marked, if the filter selects it whatever
			// they were, counted if that turns on them.
			switch t.q.keepsCleared(&d.Socket) {
			case selected:
				batch = append(batch, withEnd(WatchEvent{Event: Event{Kind: EventGone, Socket: d.Socket, From: d.State}, Time: d.at, Reset: true}, d))
			case undecided:
				unmatched++
			}
		case t.q.keepsFreed(&d.Socket):
			// Lived and died between two polls.
			batch = append(batch, withEnd(WatchEvent{Event: Event{Kind: EventGone, Socket: d.Socket, From: d.State}, Time: d.at}, d))
		}
	}

	// The time in state of gone sockets is taken first: a tuple reused by
	// a new socket is gone and new under one key.
	seen := make([]time.Duration, len(events))
	t.settleGone(events, inState, seen, diffEvents, now)
	for i := range events {
		e := &events[i]
		switch e.Kind {
		case EventNew:
			// In its state since the listing began at the latest: a
			// destroy report the feed stamped during the listing then
			// comes after it.
			k := KeyOf(&e.Socket)
			t.since[k] = start
			t.seen[k] = now
			t.polledGone.forget(k)
		case EventChange:
			k := KeyOf(&e.Socket)
			if inState[i] == 0 {
				inState[i] = t.observed(k, now)
			}
			t.since[k] = start
		case EventGone:
		default: // replaced by a destroy report
			continue
		}
		batch = append(batch, WatchEvent{Event: *e, Time: now, InState: inState[i], Seen: seen[i]})
	}
	if unmatched > 0 {
		batch = append(batch, WatchEvent{Event: Event{Kind: EventUnmatched}, Time: now, Unmatched: unmatched})
	}
	slices.SortStableFunc(batch, func(a, b WatchEvent) int { return a.Time.Compare(b.Time) })
	return batch, unresolved
}

// clearedTuple reports whether s, as the kernel reported it destroyed, has
// a tuple no socket had: a peer address without its port, or a peer
// without a local address. tcp_disconnect, which closing with SO_LINGER
// {on, 0} runs, clears the source address and the destination port
// before the socket is freed (the source port and destination address
// stay), and the destroy report carries what is left.
func clearedTuple(s *Socket) bool {
	peer := s.Peer.Addr().IsValid() && !s.Peer.Addr().IsUnspecified()
	return peer && (s.Peer.Port() == 0 || s.Local.Addr().IsUnspecified())
}

// died reports the end of a socket the previous poll showed as s, freed
// as d reports: a change into the state it was freed in when that differs
// and the query selects it, then gone.
func (t *tracker) died(batch []WatchEvent, s Socket, d *destroyedSocket) []WatchEvent {
	k := KeyOf(&s)
	inState := t.observed(k, d.at)
	delete(t.since, k)
	if d.State != s.State && t.q.keeps(&Socket{Protocol: s.Protocol, Family: s.Family, State: d.State, Local: s.Local, Peer: s.Peer}) {
		from := s.State
		s.State = d.State
		batch = append(batch, withEnd(WatchEvent{Event: Event{Kind: EventChange, Socket: s, From: from, To: d.State}, Time: d.at, InState: inState}, d))
		inState = 0
	}
	return append(batch, withEnd(WatchEvent{Event: Event{Kind: EventGone, Socket: s, From: s.State}, Time: d.at, InState: inState, Seen: t.seenFor(k, d.at)}, d))
}

// observed returns how long the socket under k has been seen in its
// state at now, 0 if it never was.
func (t *tracker) observed(k Key, now time.Time) time.Duration {
	since, ok := t.since[k]
	if !ok {
		return 0
	}
	return max(now.Sub(since), 0)
}

// keepsFreed reports whether q selects s, a socket freed before any poll
// saw it, by its protocol, family and filter. The state selection does
// not apply: the kernel frees every TCP socket in CLOSE, which says
// nothing of the states it lived in. A socket that never had a port never
// was in a table a poll reads, so it is left out.
func (q *Query) keepsFreed(s *Socket) bool {
	return s.Local.Port() != 0 &&
		slices.Contains(q.ProtocolsOrDefault(), s.Protocol) &&
		slices.Contains(q.FamiliesOrDefault(), s.Family) &&
		(q.Filter == nil || q.Filter.Match(s))
}

// keeps reports whether q selects s: keepsFreed, and its state.
func (q *Query) keeps(s *Socket) bool {
	return q.keepsFreed(s) && q.States.Has(s.State)
}
