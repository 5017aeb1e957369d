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
// No tracepoint reports the time-wait socket itself, and the functions
// that make it (tcp_time_wait, inet_twsk_hashdance_schedule,
// __inet_twsk_schedule) cannot be traced everywhere: loading fentry on them
// is refused (EPERM) on the 6.18 kernel this was built on, which runs
// under lockdown, and kprobes may be configured out. So the Tracer works
// from what the tracepoint shows. Every record carries the socket's
// sk_flags, whose SOCK_DONE says the peer's FIN came. A move to CLOSE
// from FIN_WAIT2 without it (tcp_time_wait(sk, TCP_FIN_WAIT2, ...)) leaves
// a time-wait socket in FIN_WAIT2, if the kernel made one; from CLOSING,
// or from FIN_WAIT2 after the peer's FIN, one in TIME_WAIT.
//
// A time-wait socket in FIN_WAIT2 whose peer is on this machine needs no
// lookup: the peer's move from LAST_ACK to CLOSE with no error and no RST
// (cause closed) means its FIN was acknowledged, and only a time-wait
// socket holds the closing end's addresses then: tcp_timewait_state_process
// moves it to TIME_WAIT before it sends that ACK. Without a time-wait
// socket the FIN would have met an RST (ECONNRESET). So that move reports
// TIME_WAIT at once, stamped with the peer's move. One in TIME_WAIT is
// confirmed by the overflow counter where it can be read (overflow.go).
//
// Otherwise the Tracer looks the addresses up with sock_diag: a move to
// CLOSE that leaves a time-wait socket in TIME_WAIT, if the kernel made
// one (tcp_max_tw_buckets, memory), is looked up at once, and a time-wait
// socket in FIN_WAIT2 whose peer has not closed is looked up later, each
// time twice as late, until it is in TIME_WAIT or gone; nothing found,
// nothing reported. A peer on loopback is given loopbackWait to close
// before the first lookup; one elsewhere, firstRetry. A peer's move to
// CLOSE with an error or an RST makes the lookup due at once.
const (
	// firstRetry is the first wait before looking again at a time-wait
	// socket in FIN_WAIT2; maxRetry the longest. loopbackWait is the
	// first wait when the peer is on loopback, whose own move to CLOSE
	// is expected to report TIME_WAIT without a lookup.
	firstRetry   = time.Millisecond
	loopbackWait = 100 * time.Millisecond
	maxRetry     = time.Second
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
	fin2    []Transition // moves to CLOSE leaving FIN_WAIT2, not followed yet
	waiting retryHeap    // time-wait sockets in FIN_WAIT2
	byConn  map[conn]*retry
	out     []Transition // TIME_WAIT transitions to return, in order
	head    int          // the next of out to return
	// proven is TIME_WAIT transitions a peer's move proved, returned
	// before any further record.
	proven []Transition
	// over confirms moves to CLOSE by the overflow counter, where it is
	// read (overflow.go).
	over overflows
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
	// netns tells apart connections of one tuple in two namespaces, for
	// a Tracer of every namespace.
	netns uint64
}

// watch notes tr if it may have left a time-wait socket behind, finIn
// saying whether the socket had received its peer's FIN, and, if it is
// the move to CLOSE of the peer of one waiting in FIN_WAIT2, proves that
// one in TIME_WAIT or makes its lookup due.
func (w *timeWaits) watch(tr *Transition, finIn bool) {
	switch {
	case tr.To == inspect.Close && tr.From == inspect.FinWait2 && !finIn:
		w.fin2 = append(w.fin2, *tr)
	case tr.To == inspect.Close && (tr.From == inspect.FinWait2 || tr.From == inspect.Closing):
		if !w.over.note(tr) {
			w.fresh = append(w.fresh, *tr)
		}
	case tr.From == inspect.LastAck && tr.To == inspect.Close:
		r, ok := w.byConn[conn{tr.Peer, tr.Local, tr.NetNS}]
		if !ok {
			w.proveUnscheduled(tr)
			return
		}
		if tr.Cause != inspect.CauseClosed {
			r.due, r.wait = time.Time{}, firstRetry
			heap.Fix(&w.waiting, r.index)
			return
		}
		heap.Remove(&w.waiting, r.index)
		delete(w.byConn, conn{r.close.Local, r.close.Peer, r.close.NetNS})
		w.proven = append(w.proven, timeWaitOf(&r.close, r.close.Cookie, max(tr.Mono, r.close.Mono)))
	}
}

// proveUnscheduled looks for tr's peer among the moves to CLOSE that
// lookUp has not scheduled yet (it runs between records, so only a caller
// that feeds several records at once finds one there).
func (w *timeWaits) proveUnscheduled(tr *Transition) {
	for i := range w.fin2 {
		c := &w.fin2[i]
		if c.Local != tr.Peer || c.Peer != tr.Local {
			continue
		}
		if tr.Cause == inspect.CauseClosed {
			w.proven = append(w.proven, timeWaitOf(c, c.Cookie, max(tr.Mono, c.Mono)))
		} else {
			w.fresh = append(w.fresh, *c)
		}
		w.fin2 = append(w.fin2[:i], w.fin2[i+1:]...)
		return
	}
}

// nextProven pops the oldest TIME_WAIT transition a peer's move proved.
func (w *timeWaits) nextProven() (Transition, bool) {
	if len(w.proven) == 0 {
		return Transition{}, false
	}
	tr := w.proven[0]
	w.proven = w.proven[:copy(w.proven, w.proven[1:])]
	return tr, true
}

// timeWaitOf returns the move into TIME_WAIT of the time-wait socket, of
// cookie, that close left behind, at mono.
func timeWaitOf(close *Transition, cookie uint64, mono time.Duration) Transition {
	tw := *close
	tw.Mono = mono
	tw.Cookie = cookie
	tw.From, tw.To = inspect.Close, inspect.TimeWait
	tw.TimeWait = true
	return tw
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

// due returns when the earliest retry or confirmation is due.
func (w *timeWaits) due() (time.Time, bool) {
	due, ok := w.over.due()
	if len(w.waiting) > 0 && (!ok || w.waiting[0].due.Before(due)) {
		due, ok = w.waiting[0].due, true
	}
	return due, ok
}

// wait follows r, a time-wait socket in FIN_WAIT2.
func (w *timeWaits) wait(r *retry) {
	if w.byConn == nil {
		w.byConn = map[conn]*retry{}
	}
	w.byConn[conn{r.close.Local, r.close.Peer, r.close.NetNS}] = r
	heap.Push(&w.waiting, r)
}

// lookUp makes the lookups due at now: the moves the overflow counter
// cannot confirm, if they are due, and every fresh move to CLOSE, then,
// after scheduling the time-wait sockets left in FIN_WAIT2, the retries
// whose time has come. mono is now on the kernel's
// CLOCK_MONOTONIC (monoclock.Mono: never ahead of it, behind by less than
// a system call), and a TIME_WAIT found is stamped no earlier than the
// move to CLOSE that was read before it. It stops at the first error other than
// ENOENT and returns it; the lookup that failed is dropped.
func (w *timeWaits) lookUp(look lookupFunc, now time.Time, mono time.Duration) error {
	made := func(tr *Transition) {
		tw := timeWaitOf(tr, tr.Cookie, max(mono, tr.Mono))
		tw.Time = now
		w.out = append(w.out, tw)
	}
	unconfirmed := func(tr *Transition) { w.fresh = append(w.fresh, *tr) }
	if err := w.over.confirm(now, made, unconfirmed); err != nil {
		return err
	}
	for i := range w.fresh {
		r := retry{close: w.fresh[i], wait: firstRetry, until: now.Add(giveUp)}
		if err := w.check(look, &r, now, mono); err != nil {
			w.fresh = w.fresh[:copy(w.fresh, w.fresh[i+1:])]
			return err
		}
	}
	w.fresh = w.fresh[:0]
	for i := range w.fin2 {
		first := firstRetry
		if w.fin2[i].Peer.Addr().IsLoopback() {
			first = loopbackWait
		}
		if len(w.waiting) < maxWaiting {
			w.wait(&retry{close: w.fin2[i], due: now.Add(first), wait: first, until: now.Add(giveUp)})
		}
	}
	w.fin2 = w.fin2[:0]
	for len(w.waiting) > 0 && !w.waiting[0].due.After(now) {
		r := heap.Pop(&w.waiting).(*retry)
		delete(w.byConn, conn{r.close.Local, r.close.Peer, r.close.NetNS})
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
		tw := timeWaitOf(&r.close, cookie, max(mono, r.close.Mono))
		tw.Time = now
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
