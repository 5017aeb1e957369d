package trace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// follower turns transitions and dumps into watch events.
type follower struct {
	q *inspect.Query
	// known holds the selected sockets as last reported, by cookie, and
	// since when each has been in its state.
	known map[uint64]inspect.Socket
	since map[uint64]time.Time
	// parked holds the known sockets in FIN_WAIT2 or CLOSING whose full
	// socket went to CLOSE: their time-wait socket goes on.
	parked map[uint64]bool
	// held holds the transitions waiting for their socket's addresses.
	held map[uint64]Transition
	// born holds when the followed sockets made while the watch runs
	// were made, for their lifetimes.
	born map[uint64]time.Time
}

// take adds what one read brings to batch.
func (f *follower) take(ctx context.Context, src inspect.Source, batch []inspect.WatchEvent, r *read) ([]inspect.WatchEvent, error) {
	if errors.Is(r.err, ErrLost) {
		lost := inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventLost}, Time: time.Now()}
		if le, ok := errors.AsType[*LostError](r.err); ok {
			lost.Lost = le.N
		}
		batch = append(batch, lost)
		more, err := f.resync(ctx, src, f.known)
		return append(batch, more...), err
	}
	if r.err != nil {
		return batch, fmt.Errorf("trace: watch: %w", r.err)
	}
	return f.apply(batch, &r.tr), nil
}

// incomplete reports whether the kernel fills tr's addresses in after it.
func incomplete(tr *Transition) bool {
	return tr.To != inspect.Close && (tr.Local.Port() == 0 || tr.From == inspect.Listen && tr.To == inspect.SynRecv)
}

// apply adds the events of tr to batch.
func (f *follower) apply(batch []inspect.WatchEvent, tr *Transition) []inspect.WatchEvent {
	if h, ok := f.held[tr.Cookie]; ok {
		delete(f.held, tr.Cookie)
		h.Local, h.Peer = tr.Local, tr.Peer
		batch = f.report(batch, &h)
	} else if incomplete(tr) {
		f.held[tr.Cookie] = *tr
		return batch
	}
	return f.report(batch, tr)
}

// flushHeld reports the held transitions that waited holdFor, with the
// addresses they have.
func (f *follower) flushHeld(batch []inspect.WatchEvent, now time.Time) []inspect.WatchEvent {
	for c, h := range f.held {
		if now.Sub(h.Time) >= holdFor {
			delete(f.held, c)
			batch = f.report(batch, &h)
		}
	}
	return batch
}

// report adds the events of tr, whose addresses are known, to batch.
func (f *follower) report(batch []inspect.WatchEvent, tr *Transition) []inspect.WatchEvent {
	c := tr.Cookie
	prev, wasKnown := f.known[c]
	if tr.To == inspect.Close && (tr.From == inspect.FinWait2 || tr.From == inspect.Closing) && !tr.TimeWait {
		if wasKnown {
			f.parked[c] = true
		}
		return batch
	}
	from := tr.From
	if wasKnown {
		from = prev.State
	}
	// connect(2) and listen(2) move a socket out of CLOSE, and a
	// listener's clone leaves LISTEN: the socket's first change.
	born := !wasKnown && (tr.From == inspect.Close || tr.From == inspect.Listen && tr.To == inspect.SynRecv)
	delete(f.parked, c)
	s := tr.Socket()
	inState := time.Duration(0)
	if wasKnown {
		inState = max(tr.Time.Sub(f.since[c]), 0)
	}
	switch selected := selects(f.q, &s); {
	case wasKnown && selected:
		batch = append(batch, inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventChange, Socket: s, From: from, To: s.State}, Time: tr.Time, InState: inState})
	case wasKnown:
		prev.Local, prev.Peer = s.Local, s.Peer
		gone := inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: prev, From: from}, Time: tr.Time, InState: inState, Cause: tr.Cause}
		f.end(&gone, tr)
		return append(batch, gone)
	case selected && f.q.States.Has(from):
		batch = append(batch, inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventChange, Socket: s, From: from, To: s.State}, Time: tr.Time})
	case selected:
		batch = append(batch, inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventNew, Socket: s, To: s.State}, Time: tr.Time})
	default:
		return batch
	}
	if born {
		if f.born == nil {
			f.born = map[uint64]time.Time{}
		}
		f.born[c] = tr.Time
	}
	if s.State == inspect.Close {
		batch[len(batch)-1].Cause = tr.Cause
		gone := inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: s, From: s.State}, Time: tr.Time, Cause: tr.Cause}
		f.end(&gone, tr)
		return append(batch, gone)
	}
	f.known[c], f.since[c] = s, tr.Time
	return batch
}

// end gives gone, the end of tr's socket, its lifetime when the socket
// was made while followed, and at a connection's move to CLOSE the bytes
// it carried; then forgets the socket.
func (f *follower) end(gone *inspect.WatchEvent, tr *Transition) {
	if born, ok := f.born[tr.Cookie]; ok {
		gone.Lifetime = max(tr.Time.Sub(born), 0)
	}
	if tr.To == inspect.Close && tr.From != inspect.Listen {
		gone.Bytes = &inspect.Bytes{Acked: tr.Acked, Received: tr.Received}
	}
	f.forget(tr.Cookie)
}

func (f *follower) forget(c uint64) {
	delete(f.known, c)
	delete(f.since, c)
	delete(f.parked, c)
	delete(f.born, c)
}

// selects reports whether q selects s, which the tracer saw: TCP, of q's
// families, in q's states and matched by q's filter.
func selects(q *inspect.Query, s *inspect.Socket) bool {
	return (len(q.Families) == 0 || slices.Contains(q.Families, s.Family)) &&
		q.States.Has(s.State) &&
		(q.Filter == nil || q.Filter.Match(s))
}

// resync dumps the sockets and reports how they differ from known (nil at
// the start, when every socket is new), then takes the dump as known.
func (f *follower) resync(ctx context.Context, src inspect.Source, known map[uint64]inspect.Socket) ([]inspect.WatchEvent, error) {
	dump, err := list(ctx, src, *f.q)
	if err != nil {
		return nil, fmt.Errorf("trace: watch: listing the sockets: %w", err)
	}
	now := time.Now()
	prev := make([]inspect.Socket, 0, len(known))
	for _, s := range known {
		prev = append(prev, s)
	}
	var batch []inspect.WatchEvent
	for _, ev := range inspect.Diff(prev, dump) {
		c := ev.Socket.Cookie
		var inState time.Duration
		if ev.Kind != inspect.EventNew {
			inState = max(now.Sub(f.since[c]), 0)
		}
		batch = append(batch, inspect.WatchEvent{Event: ev, Time: now, InState: inState})
		if ev.Kind == inspect.EventGone {
			f.forget(c)
		} else {
			f.since[c] = now
		}
	}
	for i := range dump {
		f.known[dump[i].Cookie] = dump[i]
	}
	for c := range f.parked {
		if s, ok := f.known[c]; !ok || s.State != inspect.FinWait2 && s.State != inspect.Closing {
			delete(f.parked, c)
		}
	}
	return batch, nil
}

// following reports whether a time-wait socket is followed: parked, or
// known in TIME_WAIT.
func (f *follower) following() bool {
	if len(f.parked) > 0 {
		return true
	}
	for _, s := range f.known {
		if s.State == inspect.TimeWait {
			return true
		}
	}
	return false
}

// reap dumps the time-wait sockets and reports gone those followed that
// the dump does not show: in TIME_WAIT, their time is up; parked, they
// never reached it.
func (f *follower) reap(ctx context.Context, src inspect.Source, batch []inspect.WatchEvent) ([]inspect.WatchEvent, error) {
	q := *f.q
	q.States = inspect.StatesOf(inspect.FinWait2, inspect.Closing, inspect.TimeWait)
	dump, err := list(ctx, src, q)
	if err != nil {
		return batch, fmt.Errorf("trace: watch: listing the time-wait sockets: %w", err)
	}
	there := make(map[uint64]bool, len(dump))
	for i := range dump {
		there[dump[i].Cookie] = true
	}
	now := time.Now()
	for c, s := range f.known {
		if there[c] || !f.parked[c] && s.State != inspect.TimeWait {
			continue
		}
		gone := inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: s, From: s.State}, Time: now, InState: max(now.Sub(f.since[c]), 0), Cause: inspect.CauseClosed}
		if b, ok := f.born[c]; ok {
			gone.Lifetime = max(now.Sub(b), 0)
		}
		batch = append(batch, gone)
		f.forget(c)
	}
	return batch, nil
}

// list lists q from src, again while the kernel interrupts the dump (each
// dump tried each table a few times already), up to
// inspect.MaxInterruptedPolls times, 10 ms apart, as a Watcher skips that
// many polls before it gives up.
func list(ctx context.Context, src inspect.Source, q inspect.Query) ([]inspect.Socket, error) {
	for attempt := 1; ; attempt++ {
		socks, err := src.Sockets(ctx, q)
		if !errors.Is(err, inspect.ErrIncomplete) || attempt == inspect.MaxInterruptedPolls {
			return socks, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
