package trace

import (
	"container/heap"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// The kernel never reports TIME_WAIT through the tracepoint. tcp_time_wait
// (net/ipv4/tcp_minisocks.c) hashes a time-wait socket in the closing
// socket's place and then moves the closing socket to CLOSE, from
// FIN_WAIT2 or CLOSING. The time-wait socket starts in TIME_WAIT, or in
// FIN_WAIT2 when its owner closed it before the peer's FIN came: it then
// waits for that FIN (tcp_timewait_state_process) or for tcp_fin_timeout,
// and sock_diag reports that substate as its state.
//
// So after such a move to CLOSE the Tracer looks the addresses up: a
// time-wait socket in TIME_WAIT is reported at once; one in FIN_WAIT2 is
// looked up again, each time twice as late, until it is in TIME_WAIT or
// gone; nothing found, nothing reported. When the peer is on this machine
// too, its own transitions say when its FIN comes: its move to LAST_ACK
// (it sent the FIN) or from there to CLOSE (the time-wait socket
// acknowledged it) starts the lookups over at once.
const (
	// firstRetry is the first wait before looking again at a time-wait
	// socket in FIN_WAIT2; maxRetry the longest.
	firstRetry = time.Millisecond
	maxRetry   = time.Second
	// giveUp is how long after the move to CLOSE the lookups stop: past
	// tcp_fin_timeout's default of 60 s.
	giveUp = 2 * time.Minute
	// maxWaiting bounds the time-wait sockets waiting for a FIN; past it
	// a new one is not followed.
	maxWaiting = 4096
)

// lookupFunc asks sock_diag for the socket with tr's addresses and cookie
// and returns its state and cookie; an error wrapping ENOENT means there
// is none.
type lookupFunc func(tr *Transition) (inspect.State, uint64, error)

// timeWaits follows closing sockets until their time-wait sockets are in
// TIME_WAIT.
type timeWaits struct {
	fresh   []Transition // moves to CLOSE not looked up yet, in order
	waiting retryHeap    // time-wait sockets in FIN_WAIT2
	byConn  map[conn]*retry
	out     []Transition // TIME_WAIT transitions to return, in order
	head    int          // the next of out to return
}

// retry is a time-wait socket in FIN_WAIT2 to look up again at due.
type retry struct {
	close Transition
	due   time.Time
	wait  time.Duration
	until time.Time
	index int // in timeWaits.waiting
}

// conn is a connection's addresses, as one of its ends sees them.
type conn struct {
	local, peer netip.AddrPort
}

// watch notes tr if it may have left a time-wait socket behind, and, if
// it is the peer's FIN of one waiting in FIN_WAIT2, makes that one due.
func (w *timeWaits) watch(tr *Transition) {
	switch {
	case tr.To == inspect.Close && (tr.From == inspect.FinWait2 || tr.From == inspect.Closing):
		w.fresh = append(w.fresh, *tr)
	case tr.To == inspect.LastAck || (tr.From == inspect.LastAck && tr.To == inspect.Close):
		if r, ok := w.byConn[conn{tr.Peer, tr.Local}]; ok {
			r.due, r.wait = time.Time{}, firstRetry
			heap.Fix(&w.waiting, r.index)
		}
	}
}

// ready reports whether a TIME_WAIT transition waits to be returned.
func (w *timeWaits) ready() bool { return w.head < len(w.out) }

// next pops the oldest TIME_WAIT transition.
func (w *timeWaits) next() (Transition, bool) {
	if w.head == len(w.out) {
		return Transition{}, false
	}
	tr := w.out[w.head]
	w.head++
	if w.head == len(w.out) {
		w.out, w.head = w.out[:0], 0
	}
	return tr, true
}

// due returns when the earliest retry is due.
func (w *timeWaits) due() (time.Time, bool) {
	if len(w.waiting) == 0 {
		return time.Time{}, false
	}
	return w.waiting[0].due, true
}

// wait follows r, a time-wait socket in FIN_WAIT2.
func (w *timeWaits) wait(r *retry) {
	if w.byConn == nil {
		w.byConn = map[conn]*retry{}
	}
	w.byConn[conn{r.close.Local, r.close.Peer}] = r
	heap.Push(&w.waiting, r)
}

// lookUp makes the lookups due at now: every fresh move to CLOSE, then
// the retries whose time has come. mono is now on the kernel's
// CLOCK_MONOTONIC (monoclock.Mono: never ahead of it, behind by less than
// a system call), and a TIME_WAIT found is stamped no earlier than the
// move to CLOSE that was read before it. It stops at the first error other than
// ENOENT and returns it; the lookup that failed is dropped.
func (w *timeWaits) lookUp(look lookupFunc, now time.Time, mono time.Duration) error {
	for i := range w.fresh {
		r := retry{close: w.fresh[i], wait: firstRetry, until: now.Add(giveUp)}
		if err := w.check(look, &r, now, mono); err != nil {
			w.fresh = w.fresh[:copy(w.fresh, w.fresh[i+1:])]
			return err
		}
	}
	w.fresh = w.fresh[:0]
	for len(w.waiting) > 0 && !w.waiting[0].due.After(now) {
		r := heap.Pop(&w.waiting).(*retry)
		delete(w.byConn, conn{r.close.Local, r.close.Peer})
		if err := w.check(look, r, now, mono); err != nil {
			return err
		}
	}
	return nil
}

// check looks r's addresses up once.
func (w *timeWaits) check(look lookupFunc, r *retry, now time.Time, mono time.Duration) error {
	state, cookie, err := look(&r.close)
	switch {
	case errors.Is(err, syscall.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("time-wait lookup of %s %s: %w", r.close.Local, r.close.Peer, err)
	}
	switch state {
	case inspect.TimeWait:
		tw := r.close
		tw.Time = now
		tw.Mono = max(mono, r.close.Mono)
		tw.Cookie = cookie
		tw.From, tw.To = inspect.Close, inspect.TimeWait
		tw.TimeWait = true
		w.out = append(w.out, tw)
	case inspect.FinWait2:
		if now.Add(r.wait).After(r.until) || len(w.waiting) >= maxWaiting {
			return nil
		}
		r.due = now.Add(r.wait)
		r.wait = min(2*r.wait, maxRetry)
		w.wait(r)
	}
	return nil
}

// retryHeap orders retries by due time, and keeps each one's index.
type retryHeap []*retry

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h retryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *retryHeap) Push(x any) {
	r := x.(*retry)
	r.index = len(*h)
	*h = append(*h, r)
}
func (h *retryHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}
