package trace

import (
	"context"
	"errors"
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
