package inspect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// WatchEvent is an Event as a Watcher reports it: when it was seen, and
// for how long the socket had been seen in the state it left.
type WatchEvent struct {
	Event
	// Time is when the event was seen: the end of the poll that showed
	// it, or the arrival of the kernel's report of a destroyed socket.
	Time time.Time
	// InState is how long the socket was observed in From: from the first
	// poll that showed it there to Time. It is 0 when that is not known:
	// for new and lost events, and for a socket whose only sighting is its
	// destruction.
	InState time.Duration
	// Lost is, for an EventLost, how many reports were lost, when the
	// source counts them (the trace source counts state changes, the
	// kernel the destroy reports it drops): 0 when not known.
	Lost uint64
	// Unmatched is, for an EventUnmatched, how many sockets the kernel
	// reported destroyed since the last poll that could not be matched to
	// the query: no poll had shown them, and the kernel had cleared the
	// addresses the filter reads.
	Unmatched uint64
	// Reset marks a gone socket that no poll showed, reported with what
	// the kernel left of its tuple: tcp_disconnect (close with SO_LINGER
	// {1, 0}) clears the local address and the peer port.
	Reset bool
	// Cause is why the socket ended, on a change into CLOSE and on gone,
	// where the source can tell.
	Cause Cause
	// Lifetime is, on gone, how long the socket lived: from the state
	// change that made it to its end, where the source saw both (the
	// trace source, for sockets made while it runs); 0 when not known.
	Lifetime time.Duration
	// Bytes is, on gone, what the connection carried, where the source
	// knows it (the trace source, at the move to CLOSE); nil otherwise.
	Bytes *Bytes
}

// DestroySource reports sockets as the kernel frees them. The sock_diag
// destroy groups are one (SubscribeDestroyed); tests script others.
type DestroySource interface {
	// Destroyed waits for at least one freed socket, calls fn for it and
	// for every other already reported, then returns. Socket.State is the
	// state it was freed in. When the kernel dropped reports, Destroyed
	// returns an error wrapping unix.ENOBUFS; the next call goes on.
	Destroyed(ctx context.Context, fn func(*Socket)) error
}

// Watcher polls a Source and reports how its sockets change.
type Watcher struct {
	Source Source
	Query  Query
	// Interval is the time between the starts of two polls; it must be
	// positive. A poll that takes longer delays the next.
	Interval time.Duration
	// Destroyed, when set, reports the sockets the kernel frees, so that a
	// socket that lives and dies between two polls is still reported, and
	// one that was seen is reported in the state it died in. Its sockets
	// must be keyed as the Source's are (KeyOf): with cookies beside the
	// netlink source; by tuple beside the proc source, which has none.
	Destroyed DestroySource
	// Interrupted, when set, is called after each poll skipped because
	// the kernel interrupted every attempt at its dump (the error is
	// ErrIncomplete), with the number of polls skipped
	// so far in this watch and the poll's error.
	Interrupted func(skipped int, err error)
}

// MaxInterruptedPolls is how many polls in a row may be skipped for
// interrupted dumps before Watch gives up. Each poll has already tried
// every table three times; a hundred polls in a row (ten seconds at the
// CLI's 100ms) means the tables change faster than they can be walked.
const MaxInterruptedPolls = 100

// Watch polls until ctx ends, and after every poll calls fn with what
// changed since the one before, possibly nothing; the first poll reports
// every socket as new.
//
// Each batch holds the events in the order of their times: an EventLost
// for each time reports of destroyed sockets were lost, the sockets
// destroyed since the previous poll, the changes the poll showed, and an
// EventUnmatched when destroyed sockets could not be matched to the
// query. After a loss, Watch polls at once rather than at the next tick.
//
// A socket seen by the previous poll and destroyed since is reported at
// its destruction, not again by the poll; one the kernel freed in another
// state than the poll last showed, and which the query selects in that
// state, gets a change into it first. A socket freed before any poll saw
// it is reported gone if the query selects its protocol, family and
// addresses, whatever its states: the kernel frees every TCP socket in
// CLOSE. A report whose tuple the kernel cleared (a socket closed with
// SO_LINGER 0 loses its source address and destination port) names the
// socket the previous poll showed under its cookie; if no poll showed it,
// it is reported gone with what is left and Reset set when the query's
// filter selects it whatever the cleared fields hold (ClearedMatcher),
// counted in the batch's EventUnmatched when the answer turns on them,
// and left out when the filter rejects it whatever they hold. A socket
// reported gone is never reported again. A connection seen as its request
// socket (SYN_RECV) and then as its full socket, with another cookie, is
// reported as one: a change from SYN_RECV.
//
// A poll whose dump the kernel kept interrupting (its tables changed
// during every attempt) is skipped: fn is not called, the next poll is
// compared with the last complete one, and reports of destroyed sockets
// wait for it. Interrupted hears of each skip.
//
// Watch returns nil when ctx ends, fn's error when fn fails, and the
// error of a failed poll or destroy subscription, or of the last of
// MaxInterruptedPolls interrupted polls in a row.
func (w *Watcher) Watch(ctx context.Context, fn func([]WatchEvent) error) error {
	if w.Interval <= 0 {
		return fmt.Errorf("inspect: watch interval %v, want more than 0", w.Interval)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var feed *destroyFeed
	if w.Destroyed != nil {
		feed = newDestroyFeed()
		var wg sync.WaitGroup
		wg.Go(func() { feed.run(ctx, w.Destroyed) })
		defer wg.Wait()
		defer cancel()
	}

	ticker := time.NewTicker(w.Interval)
	defer ticker.Stop()
	t := tracker{q: &w.Query, since: map[Key]time.Time{}, destroys: w.Destroyed != nil}
	p := NewPoll(w.Source)
	defer p.Close()
	var resync <-chan struct{}
	if feed != nil {
		resync = feed.resync
	}
	// Each poll lists into the memory of the one before the last.
	var prev, spare []Socket
	skipped, inARow := 0, 0
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			case <-resync:
			}
		}
		start := time.Now()
		next, err := p.Poll(ctx, w.Query, spare)
		if ended(ctx, err) {
			return nil
		}
		if errors.Is(err, ErrIncomplete) {
			skipped++
			if inARow++; inARow == MaxInterruptedPolls {
				return fmt.Errorf("inspect: watch: %d polls in a row: %w", inARow, err)
			}
			if w.Interrupted != nil {
				w.Interrupted(skipped, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("inspect: watch: %w", err)
		}
		inARow = 0
		now := time.Now()
		var lost []loss
		var destroyed []destroyedSocket
		if feed != nil {
			if lost, destroyed, err = feed.take(); err != nil {
				return fmt.Errorf("inspect: watch: %w", err)
			}
		}
		batch, unresolved := t.step(prev, next, start, now, lost, destroyed)
		if feed != nil {
			feed.putBack(unresolved)
		}
		if err := fn(batch); err != nil {
			return err
		}
		prev, spare = next, prev
	}
}

// ended reports whether ctx has ended, counting a poll that failed
// because ctx's deadline passed a moment before ctx noticed.
func ended(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && errors.Is(err, context.DeadlineExceeded) && !time.Now().Before(deadline)
}

// destroyedSocket is a socket the kernel reported freed, and when the
// report arrived.
type destroyedSocket struct {
	Socket
	at time.Time
}

// destroyFeed collects what a DestroySource reports between two polls.
type destroyFeed struct {
	mu      sync.Mutex
	pending []destroyedSocket
	lost    []loss
	err     error
	// resync wakes the poll loop after a loss, so that it takes a fresh
	// dump at once.
	resync chan struct{}
}

func newDestroyFeed() *destroyFeed {
	return &destroyFeed{resync: make(chan struct{}, 1)}
}

func (f *destroyFeed) run(ctx context.Context, src DestroySource) {
	add := func(s *Socket) {
		f.mu.Lock()
		f.pending = append(f.pending, destroyedSocket{Socket: *s, at: time.Now()})
		f.mu.Unlock()
	}
	for {
		err := src.Destroyed(ctx, add)
		// A receive bound to ctx's deadline can time out a moment before
		// ctx's own timer marks it done: that is the end, not a failure.
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if err == nil {
			continue
		}
		var counted lossCounter
		isLoss := errors.Is(err, unix.ENOBUFS) || errors.As(err, &counted)
		f.mu.Lock()
		if isLoss {
			f.lost = append(f.lost, lossOf(err))
		} else {
			f.err = err
		}
		f.mu.Unlock()
		select {
		case f.resync <- struct{}{}:
		default:
		}
		if !isLoss {
			return
		}
	}
}

// take returns and forgets what arrived since the last take.
func (f *destroyFeed) take() (lost []loss, destroyed []destroyedSocket, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lost, destroyed = f.lost, f.pending
	f.lost, f.pending = nil, nil
	return lost, destroyed, f.err
}

// putBack returns reports that a poll could not settle, ahead of newer ones.
func (f *destroyFeed) putBack(d []destroyedSocket) {
	if len(d) == 0 {
		return
	}
	f.mu.Lock()
	f.pending = append(d, f.pending...)
	f.mu.Unlock()
}

// tracker turns successive polls and destroy reports into WatchEvents and
// remembers since when each socket has been in its state.
type tracker struct {
	q     *Query
	since map[Key]time.Time
	diff  differ
	// destroys says destroy reports come beside the polls.
	destroys bool
	// polledGone holds the sockets a poll found gone whose destroy
	// report has not come yet: the kernel sends it when the socket is
	// freed, which may be long after it left the tables (a reset socket
	// whose owner keeps its file), and the socket must not be reported
	// gone twice.
	polledGone goneSet
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
	events := t.diff.diff(prev, next)
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
		case t.polledGone.take(&d.Socket):
		case clearedTuple(&d.Socket):
			// Never seen, and its addresses are gone: reported as
			// what is left, marked, if the filter selects it whatever
			// they were, counted if that turns on them.
			switch t.q.keepsCleared(&d.Socket) {
			case selected:
				batch = append(batch, WatchEvent{Event: Event{Kind: EventGone, Socket: d.Socket, From: d.State}, Time: d.at, Reset: true})
			case undecided:
				unmatched++
			}
		case t.q.keepsFreed(&d.Socket):
			// Lived and died between two polls.
			batch = append(batch, WatchEvent{Event: Event{Kind: EventGone, Socket: d.Socket, From: d.State}, Time: d.at})
		}
	}

	// The time in state of gone sockets is taken first: a tuple reused by
	// a new socket is gone and new under one key.
	for i := range events {
		if e := &events[i]; e.Kind == EventGone {
			k := KeyOf(&e.Socket)
			inState[i] = t.observed(k, now)
			delete(t.since, k)
			if t.destroys && awaitsDestroy(&e.Socket) {
				t.polledGone.add(k)
			}
		}
	}
	for i := range events {
		e := &events[i]
		switch e.Kind {
		case EventNew:
			k := KeyOf(&e.Socket)
			t.since[k] = now
			t.polledGone.forget(k)
		case EventChange:
			k := KeyOf(&e.Socket)
			if inState[i] == 0 {
				inState[i] = t.observed(k, now)
			}
			t.since[k] = now
		case EventGone:
		default: // replaced by a destroy report
			continue
		}
		batch = append(batch, WatchEvent{Event: *e, Time: now, InState: inState[i]})
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
		batch = append(batch, WatchEvent{Event: Event{Kind: EventChange, Socket: s, From: from, To: d.State}, Time: d.at, InState: inState})
		inState = 0
	}
	return append(batch, WatchEvent{Event: Event{Kind: EventGone, Socket: s, From: s.State}, Time: d.at, InState: inState})
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
