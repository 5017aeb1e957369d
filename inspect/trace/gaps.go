package trace

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// The kernel sometimes calls neither copy of the program for a state
// change and counts no recursion miss: under churn,
// an orphaned socket's FIN_WAIT1 -> FIN_WAIT2 and FIN_WAIT2 -> CLOSE, made
// together in one softirq, reach tracefs and not the program. So the
// Tracer follows every socket it last saw move to FIN_WAIT1 or FIN_WAIT2.
// One that makes no further move for gapQuiet is looked up with sock_diag
// by its addresses and cookie: still in that state, it is looked up again
// later, each time twice as late; moved on (another state, a time-wait
// socket, or gone), its missing moves are counted as lost, once the
// reader has read every record the kernel wrote before the lookup.
const (
	// gapQuiet is how long a socket may stay in FIN_WAIT1 or FIN_WAIT2,
	// by the times of the records read, before it is looked up: on
	// loopback it leaves in microseconds, on a network in a round trip.
	gapQuiet = 100 * time.Millisecond
	// gapSettle is how far past a lookup the reader must have read before
	// the lookup is trusted: a record's time is taken just after its
	// place in the ring.
	gapSettle = 100 * time.Millisecond
	// gapMaxRetry is the longest wait between lookups of one socket, and
	// gapGiveUp how long after its move it is followed at all: past
	// tcp_fin_timeout's default of 60 s.
	gapMaxRetry = 10 * time.Second
	gapGiveUp   = 2 * time.Minute
	// gapInterval is how often Read looks for sockets due.
	gapInterval = 50 * time.Millisecond
	// maxGapWatch bounds the sockets followed; past it a new one is not.
	maxGapWatch = 1 << 16
)

// gapLookupFunc asks sock_diag for the socket with tr's addresses and
// cookie and returns its state and whether it is a time-wait socket; an
// error wrapping ENOENT means there is none.
type gapLookupFunc func(tr *Transition) (state inspect.State, timeWait bool, err error)

// gapWatch is a socket last seen moving to FIN_WAIT1 or FIN_WAIT2.
type gapWatch struct {
	last Transition
	due  time.Duration // CLOCK_MONOTONIC: when to look it up
	wait time.Duration // until the next lookup after due
	// looked is when a lookup found the socket moved on, 0 before; missed
	// is how many transitions that lookup shows were not reported.
	looked time.Duration
	missed uint64
}

// gaps finds transitions the kernel reported to tracefs but not to the
// program, by socket cookie.
type gaps struct {
	watched map[uint64]gapWatch // by value: no allocation per transition
}

// watch notes tr, the socket's latest transition.
func (g *gaps) watch(tr *Transition) {
	if tr.TimeWait {
		return
	}
	if tr.To != inspect.FinWait1 && tr.To != inspect.FinWait2 {
		delete(g.watched, tr.Cookie)
		return
	}
	if g.watched == nil {
		g.watched = make(map[uint64]gapWatch)
	}
	if _, ok := g.watched[tr.Cookie]; !ok && len(g.watched) >= maxGapWatch {
		return
	}
	g.watched[tr.Cookie] = gapWatch{last: *tr, due: tr.Mono + gapQuiet, wait: gapQuiet}
}

// check looks up the sockets due and returns the transitions found
// missing. read is how far the reader has read, as a CLOCK_MONOTONIC
// time: records written before it have been read. now is the time of
// the lookups. It stops at the first error other than ENOENT.
func (g *gaps) check(look gapLookupFunc, read, now time.Duration) (lost uint64, err error) {
	for cookie, w := range g.watched {
		if w.looked != 0 {
			// A transition read since the lookup would have replaced w.
			if read > w.looked+gapSettle {
				lost += w.missed
				delete(g.watched, cookie)
			}
			continue
		}
		if read < w.due {
			continue
		}
		state, timeWait, err := look(&w.last)
		switch {
		case errors.Is(err, syscall.ENOENT):
			// Gone: at least its move to CLOSE is missing.
			w.missed = 1
		case err != nil:
			return lost, fmt.Errorf("lookup of %s %s in %s: %w", w.last.Local, w.last.Peer, w.last.To, err)
		case timeWait:
			// tcp_time_wait moved it to CLOSE; from FIN_WAIT1 it went
			// through FIN_WAIT2 or CLOSING first.
			w.missed = 1
			if w.last.To == inspect.FinWait1 {
				w.missed = 2
			}
		case state == w.last.To:
			if now-w.last.Mono >= gapGiveUp {
				delete(g.watched, cookie)
				continue
			}
			w.due = now + w.wait
			w.wait = min(2*w.wait, gapMaxRetry)
			g.watched[cookie] = w
			continue
		default:
			w.missed = 1
		}
		w.looked = now
		g.watched[cookie] = w
	}
	return lost, nil
}
