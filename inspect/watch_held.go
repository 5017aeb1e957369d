package inspect

import "time"

// A poll that no longer shows a socket whose destroy report has not come
// cannot tell two cases apart: the kernel freed it and the report is on
// its way (the feed has not read it yet), or the kernel took it out of its
// tables without freeing it: a TCP socket moved to CLOSE (an RST received,
// a timeout) whose owner keeps its file. So the verdict waits one poll:
// such a socket is held, and the next poll reports it with what came
// meanwhile. Its destroy report gives its real end (a change into the
// state it was freed in, then gone). Without one, a TCP socket with a
// file is in CLOSE, held by its owner: reported as the kernel moved it,
// X -> CLOSE, when the query selects CLOSE, and gone at its destroy
// report; others are reported gone from their last polled state, as a
// poll without destroy reports does at once.

// withHeld returns events with the sockets held by the last step added as
// gone events after the diff's, and how many of events are the diff's. A
// held socket the poll shows again is not gone: its new event becomes a
// change from the held state, or nothing when the state is the same.
func (t *tracker) withHeld(events []Event) ([]Event, int) {
	n := len(events)
	if len(t.held) == 0 {
		return events, n
	}
	byKey := make(map[Key]int, len(t.held))
	for i := range t.held {
		byKey[KeyOf(&t.held[i])] = i
	}
	back := make([]bool, len(t.held))
	for i := range events {
		e := &events[i]
		j, ok := byKey[KeyOf(&e.Socket)]
		if e.Kind != EventNew || !ok {
			continue
		}
		back[j] = true
		if e.Socket.State == t.held[j].State {
			e.Kind = 0
			continue
		}
		e.Kind, e.From = EventChange, t.held[j].State
	}
	for i := range t.held {
		if !back[i] {
			events = append(events, Event{Kind: EventGone, Socket: t.held[i], From: t.held[i].State})
		}
	}
	t.held = t.held[:0]
	return events, n
}

// settleGone settles the gone events no destroy report replaced: inState
// gets their time in state up to the poll that missed them, seen how long
// the watch saw them, events from the diff that await a destroy
// report are held for the next poll, and those held since the last
// (index diffEvents and after) become a move to CLOSE when they were
// TCP sockets with a file and the query selects CLOSE.
func (t *tracker) settleGone(events []Event, inState, seen []time.Duration, diffEvents int, now time.Time) {
	// A held socket was last seen in its state by the poll before the
	// one that missed it.
	missed := t.heldAt
	t.heldAt = now
	for i := range events {
		e := &events[i]
		if e.Kind != EventGone {
			continue
		}
		k := KeyOf(&e.Socket)
		if i < diffEvents && t.destroys && awaitsDestroy(&e.Socket) {
			t.held = append(t.held, e.Socket)
			e.Kind = 0
			continue
		}
		at := now
		if i >= diffEvents {
			at = missed
		}
		inState[i] = t.observed(k, at)
		delete(t.since, k)
		switch {
		case i >= diffEvents && t.heldInClose(&e.Socket):
			e.Kind, e.To = EventChange, Close
			e.Socket.State = Close
			t.since[k] = now
			t.polledGone.add(k, e.Socket)
		case t.destroys && awaitsDestroy(&e.Socket):
			t.polledGone.add(k, Socket{})
			seen[i] = t.seenFor(k, at)
		default:
			seen[i] = t.seenFor(k, at)
		}
	}
}

// heldInClose reports whether s, held a poll without a destroy report, is
// a TCP socket in CLOSE held by its owner that the query selects in CLOSE.
func (t *tracker) heldInClose(s *Socket) bool {
	c := *s
	c.State = Close
	return s.Protocol == TCP && s.Inode != 0 && s.State != Close && t.q.keeps(&c)
}

// freedAfterGone reports whether d, a destroy report, is of a socket a
// poll reported gone or moved to CLOSE, and, for the latter, adds its
// gone event to batch.
func (t *tracker) freedAfterGone(batch *[]WatchEvent, d *destroyedSocket) bool {
	k, s, ok := t.polledGone.take(&d.Socket)
	if !ok {
		return false
	}
	if s.Protocol != 0 {
		*batch = append(*batch, withEnd(WatchEvent{Event: Event{Kind: EventGone, Socket: s, From: Close}, Time: d.at, InState: t.observed(k, d.at), Seen: t.seenFor(k, d.at)}, d))
		delete(t.since, k)
	}
	return true
}
