package trace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// Events reports a Tracer's transitions as inspect.WatchEvents, so that the
// trace serves where a polling inspect.Watcher does (sockstate watch and
// demo with --source trace). It follows the sockets Query selects, keyed
// by cookie:
//
//   - The first report lists the sockets of a sock_diag dump as new.
//   - Each transition of a selected socket is a change, From -> To, with
//     InState the time since that socket's previous transition (exact:
//     both times are the kernel's). A transition into the selection of a
//     socket not followed yet is a change when the query selects From, new
//     otherwise; one out of it is gone.
//   - A move to CLOSE is a change followed by gone, both with the
//     Transition's Cause: the connection is over, and the kernel frees the
//     socket then or when its owner closes the file. If the socket
//     connects or listens again, its next transition reports it anew. A
//     time-wait socket's end is gone with CauseClosed.
//   - A move from FIN_WAIT2 or CLOSING to CLOSE with a time-wait socket
//     left behind is no end: the connection goes on in the time-wait
//     socket, with the same cookie. It is not reported; the Tracer's
//     TIME_WAIT confirmation is, as a change FIN_WAIT2 (or CLOSING) ->
//     TIME_WAIT. No tracepoint fires when a time-wait socket dies, so
//     while there are any, Watch dumps them every reapInterval and reports
//     those gone that the dump no longer shows, and those that never
//     reached TIME_WAIT.
//   - The kernel fills a child socket's addresses in after its move from
//     LISTEN to SYN_RECV (inet_csk_clone_lock), and a client's local port
//     after its move to SYN_SENT when connect picks it. Such a transition
//     is held back until the socket's next one and reported with its
//     addresses; after holdFor without one, with the addresses it has.
//   - When transitions were lost (ErrLost), an EventLost, then a dump
//     diffed against what was known: Diff's new, change and gone.
//
// The Query's families, states and filter apply in userspace; the tracer
// sees TCP only, so the protocols must include TCP and UDP is left out.
type Events struct {
	// Tracer is read by Watch, which closes it when it returns.
	Tracer *Tracer
	// Source lists the sockets of the Tracer's namespace: an
	// sockdiag.Source, whose cookies are the Tracer's.
	Source inspect.Source
	Query  inspect.Query
	// Idle is how long Watch waits for a transition before it calls fn
	// with an empty batch, as a polling watcher does after a poll that
	// showed nothing new; 0 means 100ms.
	Idle time.Duration
}

const (
	// reapInterval is how often Watch dumps the time-wait sockets it
	// follows, to report those the kernel has freed.
	reapInterval = time.Second
	// holdFor bounds how long a transition waits for its socket's
	// addresses.
	holdFor = time.Second
	// readAhead is how many transitions the reading goroutine may read
	// ahead of fn.
	readAhead = 1024
)

// ErrNotTCP is returned by Watch when the query leaves TCP out.
var ErrNotTCP = errors.New("trace: the tracer sees TCP sockets only")

// read is one result of Tracer.Read.
type read struct {
	tr  Transition
	err error
}

// Watch reports the sockets and their changes until ctx ends, calling fn
// with each batch, as inspect.Watcher.Watch does; see Events. It closes
// the Tracer before it returns. It returns nil when ctx ends, fn's error
// when fn fails, and the error of a failed read or dump.
func (e *Events) Watch(ctx context.Context, fn func([]inspect.WatchEvent) error) error {
	q := e.Query
	if len(q.Protocols) > 0 && !slices.Contains(q.Protocols, inspect.TCP) {
		e.Tracer.Close()
		return ErrNotTCP
	}
	q.Protocols = []inspect.Protocol{inspect.TCP}
	idle := e.Idle
	if idle <= 0 {
		idle = 100 * time.Millisecond
	}

	// On return: stop the reading goroutine, whose Read the Close ends,
	// and wait for it.
	reads := make(chan read, readAhead)
	done := make(chan struct{})
	defer func() { <-done }()
	defer e.Tracer.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(done)
		for {
			tr, err := e.Tracer.Read()
			if errors.Is(err, os.ErrClosed) {
				return
			}
			select {
			case reads <- read{tr, err}:
			case <-ctx.Done():
				return
			}
			if err != nil && !errors.Is(err, ErrLost) {
				return
			}
		}
	}()

	f := follower{q: &q, known: map[uint64]inspect.Socket{}, since: map[uint64]time.Time{},
		parked: map[uint64]bool{}, held: map[uint64]Transition{}}
	batch, err := f.resync(ctx, e.Source, nil)
	if err != nil {
		return endOr(ctx, err)
	}
	if err := fn(batch); err != nil {
		return err
	}
	lastReap := time.Now()
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			now := time.Now()
			batch = f.flushHeld(batch, now)
			if f.following() && now.Sub(lastReap) >= reapInterval {
				lastReap = now
				if batch, err = f.reap(ctx, e.Source, batch); err != nil {
					return endOr(ctx, err)
				}
			}
		case r := <-reads:
			// Take what else has been read, up to a ring's burst.
			for n := 0; ; n++ {
				if batch, err = f.take(ctx, e.Source, batch, &r); err != nil {
					return endOr(ctx, err)
				}
				if n == readAhead {
					break
				}
				var more bool
				select {
				case r, more = <-reads:
				default:
				}
				if !more {
					break
				}
			}
		}
		// Two CPUs' records reach the ring a few µs out of the order of
		// their times, and held transitions keep theirs: a batch goes
		// out in time order, each socket's events in theirs.
		slices.SortStableFunc(batch, func(a, b inspect.WatchEvent) int { return a.Time.Compare(b.Time) })
		if err := fn(batch); err != nil {
			return err
		}
		timer.Reset(idle)
	}
}

// endOr returns nil if ctx has ended, which explains err, and err
// otherwise.
func endOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	// A dump bounded by ctx's deadline may fail a moment before ctx
	// notices the deadline passed.
	if deadline, ok := ctx.Deadline(); ok && errors.Is(err, context.DeadlineExceeded) && !time.Now().Before(deadline) {
		return nil
	}
	return err
}

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
