package inspect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
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
	// knows it (the trace source, at the move to CLOSE; polling, from the
	// tcp_info of the socket's destroy report); nil otherwise.
	Bytes *Bytes
	// Seen is, on gone from polling, how long the watch saw the socket:
	// from the first poll that showed it to its end. It is not the
	// socket's lifetime, which may have begun before that poll; 0 for a
	// socket no poll showed.
	Seen time.Duration
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
	t := tracker{q: &w.Query, since: map[Key]time.Time{}, seen: map[Key]time.Time{}, destroys: w.Destroyed != nil}
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
