package trace

import (
	"fmt"
	"time"
)

// A move to CLOSE from CLOSING, or from FIN_WAIT2 after the peer's FIN,
// leaves a time-wait socket in TIME_WAIT unless the kernel could not make
// one: tcp_time_wait then counts LINUX_MIB_TCPTIMEWAITOVERFLOW (the
// namespace's TcpExt TCPTimeWaitOverflow in /proc/net/netstat), whether
// tcp_max_tw_buckets was reached or the allocation failed, and moves the
// socket to CLOSE all the same. So where the Tracer can read that counter
// it confirms such moves in batches instead of looking each one up: a
// move whose time-wait socket was made after a reading of the counter
// (its record is stamped more than confirmMargin after the reading:
// tcp_time_wait and the move to CLOSE run together with bottom halves
// off) is confirmed when the counter has not moved since. A move the
// readings cannot vouch for, or any in a batch during which the counter
// moved, is looked up.
const (
	// confirmEvery is the least time between two readings of the
	// counter: TIME_WAIT is reported that much later at most.
	confirmEvery = 2 * time.Millisecond
	// confirmMargin is more than the time between tcp_time_wait's count
	// and the move to CLOSE's record.
	confirmMargin = time.Millisecond
	// readings is how many readings are kept: the oldest is about
	// readings*confirmEvery old under churn.
	readings = 16
)

// overflowFunc reads the namespace's TCPTimeWaitOverflow counter.
type overflowFunc func() (uint64, error)

// reading is one reading of the counter, and a CLOCK_MONOTONIC time no
// earlier than the kernel's sum behind it.
type reading struct {
	mono time.Duration
	n    uint64
}

// overflows confirms moves to CLOSE that leave a time-wait socket in
// TIME_WAIT by the overflow counter (see above).
type overflows struct {
	read overflowFunc // nil: every move is looked up
	// mono returns CLOCK_MONOTONIC's time now, never ahead of the kernel.
	mono    func() time.Duration
	pending []Transition // moves to confirm, in order
	history [readings]reading
	count   int       // readings taken
	next    time.Time // when the next reading may be taken
}

// note keeps tr, a move to CLOSE that leaves a time-wait socket in
// TIME_WAIT if one was made, to confirm; without the counter it returns
// false and tr is to be looked up.
func (o *overflows) note(tr *Transition) bool {
	if o.read == nil {
		return false
	}
	o.pending = append(o.pending, *tr)
	return true
}

// due returns when the pending moves can be confirmed.
func (o *overflows) due() (time.Time, bool) {
	return o.next, len(o.pending) > 0
}

// take records a reading of the counter, n at mono.
func (o *overflows) take(n uint64, mono time.Duration) {
	o.history[o.count%readings] = reading{mono: mono, n: n}
	o.count++
}

// confirm reads the counter if the pending moves are due at now, then
// calls made for each move it confirms and lookUp for each it cannot.
// On an error every move is looked up.
func (o *overflows) confirm(now time.Time, made, lookUp func(*Transition)) error {
	if len(o.pending) == 0 || now.Before(o.next) {
		return nil
	}
	n, err := o.read()
	if err != nil {
		for i := range o.pending {
			lookUp(&o.pending[i])
		}
		o.pending = o.pending[:0]
		return fmt.Errorf("time-wait overflow counter: %w", err)
	}
	// After the reading: no earlier than the sum behind it.
	at := o.mono()
	for i := range o.pending {
		tr := &o.pending[i]
		if base, ok := o.before(tr.Mono - confirmMargin); ok && base.n == n {
			made(tr)
		} else {
			lookUp(tr)
		}
	}
	o.pending = o.pending[:0]
	o.take(n, at)
	o.next = now.Add(confirmEvery)
	return nil
}

// before returns the latest reading taken before mono.
func (o *overflows) before(mono time.Duration) (reading, bool) {
	for i := 1; i <= min(o.count, readings); i++ {
		if r := o.history[(o.count-i)%readings]; r.mono < mono {
			return r, true
		}
	}
	return reading{}, false
}
