//go:build linux

package trace

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// Read returns the next transition, blocking until there is one. Between
// transitions it reports what the kernel could not:
//   - a gap: when the kernel dropped transitions because the ring buffer
//     was full, Read returns an error wrapping ErrLost before the first
//     transition after the gap (or, when none follows, within a quarter of
//     a second); when the kernel ran neither copy of the program, as soon
//     as it reads the count, or, for the uncounted gap, once a
//     lookup finds the socket moved on (see gaps). The Tracer goes on.
//   - TIME_WAIT: after a socket goes from FIN_WAIT2 or CLOSING to CLOSE,
//     Read returns a transition with TimeWait set once the time-wait
//     socket is in TIME_WAIT (see Transition.TimeWait and timewait.go):
//     right after its peer's move to CLOSE when that proves it, else
//     once a sock_diag lookup of its addresses finds it, after the
//     transitions the ring buffer held then.
//
// After Close, Read returns an error wrapping os.ErrClosed.
func (t *Tracer) Read() (Transition, error) {
	for {
		if t.closed.Load() {
			return Transition{}, fmt.Errorf("trace: read: %w", os.ErrClosed)
		}
		if t.held != nil {
			tr := *t.held
			t.held = nil
			t.tw.watch(&tr, t.heldFINIn)
			t.gaps.watch(&tr)
			return tr, nil
		}
		if tr, ok := t.tw.nextProven(); ok {
			tr.Time = time.Unix(0, t.wall+int64(tr.Mono))
			return tr, nil
		}
		now := time.Now()
		t.conns.sweep(now)
		if err := t.tw.lookUp(t.look, now, t.mono.At(now)); err != nil {
			return Transition{}, t.readError(err)
		}
		if now.Sub(t.gapsChecked) >= gapInterval {
			t.gapsChecked = now
			lost, err := t.gaps.check(t.gapLook, t.read, t.mono.At(now))
			if err != nil {
				return Transition{}, t.readError(err)
			}
			if lost > 0 {
				drops, misses, err := t.readLosses()
				if err != nil {
					return Transition{}, t.readError(err)
				}
				// Transitions the kernel counted as lost may be the
				// ones the lookups found missing: count them once.
				if drops == t.reportedDrops && misses <= t.reportedMisses {
					t.gapLost.Add(lost)
				}
				return Transition{}, t.lostError(drops, misses)
			}
		}

		deadline := t.idleSeen.Add(idleCheck)
		if !deadline.After(now) {
			deadline = now.Add(idleCheck)
			t.idleSeen = now
		}
		// idle: the deadline is the drop counter's. Records carry the
		// counter, so only an idle ring needs it read: not one merely
		// drained for a retry or a TIME_WAIT found, which under churn
		// comes once a connection and would cost a map read each.
		idle := true
		if due, ok := t.tw.due(); ok && due.Before(deadline) {
			deadline, idle = due, false
		}
		if t.tw.ready() {
			// A TIME_WAIT found waits for the records the ring holds
			// already: they happened before the lookup found it, and
			// some (the peer's FIN, as its move to LAST_ACK) caused it.
			deadline, idle = now, false
		}
		if !deadline.Equal(t.deadline) {
			t.rd.SetDeadline(deadline)
			t.deadline = deadline
		}
		if deadline.After(now) && now.Sub(t.lastRecord) < batchWait && t.ringEmpty() {
			// Records are flowing and the ring is empty: let them
			// gather rather than wake for each (see batchWait).
			time.Sleep(min(batchWait, deadline.Sub(now)))
		}
		err := t.rd.ReadInto(&t.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Nothing committed is left unread; what is in flight is
			// younger than gapSettle.
			t.read = max(t.read, t.mono.At(time.Now()))
			if tr, ok := t.tw.next(); ok {
				// On the kernel records' offset, as every Time is.
				tr.Time = time.Unix(0, t.wall+int64(tr.Mono))
				return tr, nil
			}
			if !idle {
				continue
			}
			if err := t.checkDrops(); err != nil {
				return Transition{}, err
			}
			continue
		}
		if err != nil {
			return Transition{}, t.readError(err)
		}
		t.lastRecord = now
		var tr Transition
		drops, err := decode(t.rec.RawSample, &tr)
		if err != nil {
			return Transition{}, err
		}
		t.read = max(t.read, tr.Mono)
		if kind := recordKind(t.rec.RawSample); kind != kindTransition {
			t.resets.note(&tr, kind)
			if drops > t.reportedDrops {
				return Transition{}, t.lostError(drops, t.reportedMisses)
			}
			continue
		}
		if t.repeats.seen(&tr) {
			continue
		}
		if tr.To == inspect.Close {
			tr.Cause = t.resets.cause(&tr)
		}
		tr.Time = time.Unix(0, t.wall+int64(tr.Mono))
		if drops > t.reportedDrops {
			// A copy: a pointer to tr would move every record's tr
			// to the heap.
			t.heldTr = tr
			t.held = &t.heldTr
			t.heldFINIn = recordFINIn(t.rec.RawSample)
			return Transition{}, t.lostError(drops, t.reportedMisses)
		}
		t.tw.watch(&tr, recordFINIn(t.rec.RawSample))
		t.gaps.watch(&tr)
		return tr, nil
	}
}

// ringEmpty reports whether the ring holds no record, false once Close
// has released it: the reader's AvailableBytes is not guarded against
// its Close, so mu is.
func (t *Tracer) ringEmpty() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.released && t.rd.AvailableBytes() == 0
}

// checkDrops reads the loss counters and reports a gap not yet reported.
func (t *Tracer) checkDrops() error {
	t.idleSeen = time.Now()
	drops, misses, err := t.readLosses()
	if err != nil {
		return t.readError(err)
	}
	if drops > t.reportedDrops || misses > t.reportedMisses {
		return t.lostError(drops, misses)
	}
	return nil
}

// lostError reports the losses not reported yet: drops and misses as
// readLosses returned them, and what gaps found.
func (t *Tracer) lostError(drops, misses uint64) error {
	drops, misses = max(drops, t.reportedDrops), max(misses, t.reportedMisses)
	if drops > t.reportedDrops || misses > t.reportedMisses {
		// The sockets gaps follows may have lost their next transition
		// among these: follow only those seen from now on.
		t.gaps = gaps{}
	}
	gapLost := t.gapLost.Load()
	n := drops - t.reportedDrops + misses - t.reportedMisses + gapLost - t.reportedGaps
	t.reportedDrops, t.reportedMisses, t.reportedGaps = drops, misses, gapLost
	all := drops + misses + gapLost
	t.lost.Store(all)
	return &LostError{N: n, All: all}
}

// readError wraps err, or says the Tracer is closed if it is.
func (t *Tracer) readError(err error) error {
	if t.closed.Load() {
		return fmt.Errorf("trace: read: %w", os.ErrClosed)
	}
	return fmt.Errorf("trace: read: %w", err)
}
