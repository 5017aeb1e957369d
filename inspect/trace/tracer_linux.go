//go:build linux

package trace

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/monoclock"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// Tracer reports TCP state changes as the kernel makes them. Read from one
// goroutine; Close may be called from any.
type Tracer struct {
	events, drops, claims *ebpf.Map
	// The primary and backup copies of the program (see program) and
	// their links, in the order they are attached.
	progs [2]*ebpf.Program
	links [2]link.Link
	// resetProgs and resetLinks are the programs of tcp:tcp_receive_reset
	// and tcp:tcp_send_reset (resetProgram), and resets what they said.
	resetProgs [2]*ebpf.Program
	resetLinks [2]link.Link
	resets     resets
	rd         *ringbuf.Reader
	diag       *netlinkdiag.Conn
	look       lookupFunc
	gapLook    gapLookupFunc

	// wall is the wall clock's reading minus CLOCK_MONOTONIC's, taken at
	// Open, in nanoseconds.
	wall int64
	// mono reads CLOCK_MONOTONIC from Go's clock, without the system
	// call clock_gettime costs per record.
	mono monoclock.Mono

	rec      ringbuf.Record
	deadline time.Time // the deadline set on rd
	idleSeen time.Time // when the drop counter was last read while idle
	// reportedDrops, reportedMisses and reportedGaps are the losses Read
	// has reported: records the full ring refused, events both copies of
	// the program missed, and transitions gaps found missing. held is a
	// transition read after a gap, returned after the error that reports
	// the gap.
	reportedDrops  uint64
	reportedMisses uint64
	reportedGaps   uint64
	held           *Transition
	heldTr         Transition // what held points to
	tw             timeWaits
	repeats        repeats
	gaps           gaps
	// read is the CLOCK_MONOTONIC time up to which the ring's records
	// have been read; gapsChecked is when gaps last looked for sockets
	// due.
	read        time.Duration
	gapsChecked time.Time

	closed  atomic.Bool
	lost    atomic.Uint64
	gapLost atomic.Uint64
	// mu keeps Close from closing the programs and maps while
	// readLosses, called by Read or Lost on other goroutines, reads
	// them; released says Close has.
	mu       sync.Mutex
	released bool
}

// idleCheck is how often an idle Read reads the drop counter, so that a
// loss with no transition after it is reported all the same.
const idleCheck = 250 * time.Millisecond

// Open loads the eBPF program, attaches it to sock:inet_sock_set_state and
// returns a Tracer that reads its ring buffer. It needs kernel BTF, Linux
// 5.8 or later (ring buffers), and CAP_BPF with CAP_PERFMON (or
// CAP_SYS_ADMIN). Without them the error names what is missing and wraps
// the errno (os.ErrPermission) or ebpf.ErrNotSupported.
func Open(opts *Options) (*Tracer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.RingSize == 0 {
		o.RingSize = DefaultRingSize
	}
	inum, err := netnsInode(o.NetNS)
	if err != nil {
		return nil, err
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("trace: kernel BTF (/sys/kernel/btf/vmlinux): %w", err)
	}
	l, err := newLayout(spec)
	if err != nil {
		return nil, err
	}

	t := &Tracer{}
	ok := false
	defer func() {
		if !ok {
			t.release()
		}
	}()
	t.events, err = ebpf.NewMap(&ebpf.MapSpec{
		Name:       "sockstate_ring",
		Type:       ebpf.RingBuf,
		MaxEntries: uint32(o.RingSize),
	})
	if err != nil {
		return nil, loadError("ring buffer", err)
	}
	t.drops, err = ebpf.NewMap(&ebpf.MapSpec{
		Name:       "sockstate_drops",
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  8,
		MaxEntries: 1,
	})
	if err != nil {
		return nil, loadError("drop counter", err)
	}
	t.claims, err = ebpf.NewMap(&ebpf.MapSpec{
		Name:       "sockstate_claim",
		Type:       ebpf.PerCPUArray,
		KeySize:    4,
		ValueSize:  claimSize,
		MaxEntries: 1,
	})
	if err != nil {
		return nil, loadError("claims", err)
	}
	m := maps{events: t.events.FD(), drops: t.drops.FD(), claims: t.claims.FD()}
	for i, name := range []string{"sockstate", "sockstate_bak"} {
		t.progs[i], err = ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:         name,
			Type:         ebpf.Tracing,
			AttachType:   ebpf.AttachTraceRawTp,
			AttachTo:     "inet_sock_set_state",
			License:      "GPL",
			Instructions: program(l, inum, m, i == 1),
		})
		if err != nil {
			return nil, loadError("program", err)
		}
	}
	for i, tp := range resetTracepoints {
		t.resetProgs[i], err = ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:         tp.name,
			Type:         ebpf.Tracing,
			AttachType:   ebpf.AttachTraceRawTp,
			AttachTo:     tp.attachTo,
			License:      "GPL",
			Instructions: resetProgram(l, inum, m, tp.kind),
		})
		if err != nil {
			return nil, loadError("program for tcp:"+tp.attachTo, err)
		}
	}
	t.diag, err = netlinkdiag.Dial(&netlinkdiag.Config{NetNS: o.NetNS})
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	t.look = func(tr *Transition) (inspect.State, uint64, error) {
		m, err := lookupSocket(t.diag, tr)
		return inspect.State(m.State), m.Cookie, err
	}
	t.gapLook = func(tr *Transition) (inspect.State, bool, error) {
		m, err := lookupSocket(t.diag, tr)
		return inspect.State(m.State), m.Timer == timerTimeWait, err
	}
	t.rd, err = ringbuf.NewReader(t.events)
	if err != nil {
		return nil, fmt.Errorf("trace: ring buffer reader: %w", err)
	}
	// Read with care: the demo sets these times against packets' stamps.
	if t.wall, err = monoclock.WallOffset(); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if t.mono, err = monoclock.NewMono(); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	// Attach last: from here on the kernel writes records. The
	// tracepoint calls its probes in the order they were attached, which
	// the copies rely on: primary, then backup.
	for i, p := range t.progs {
		t.links[i], err = link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			return nil, loadError("attach to sock:inet_sock_set_state", err)
		}
	}
	for i, p := range t.resetProgs {
		t.resetLinks[i], err = link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			return nil, loadError("attach to tcp:"+resetTracepoints[i].attachTo, err)
		}
	}
	ok = true
	return t, nil
}

// resetTracepoints are the tracepoints of resets, with their programs'
// names and record kinds.
var resetTracepoints = [2]struct {
	name, attachTo string
	kind           int32
}{
	{"sockstate_rstin", "tcp_receive_reset", kindResetReceived},
	{"sockstate_rstout", "tcp_send_reset", kindResetSent},
}

// Read returns the next transition, blocking until there is one. Between
// transitions it reports what the kernel could not:
//   - a gap: when the kernel dropped transitions because the ring buffer
//     was full, Read returns an error wrapping ErrLost before the first
//     transition after the gap (or, when none follows, within a quarter of
//     a second); when the kernel ran neither copy of the program, as soon
//     as it reads the count, or, for the uncounted gap, once a
//     lookup finds the socket moved on (see gaps). The Tracer goes on.
//   - TIME_WAIT: after a socket goes from FIN_WAIT2 or CLOSING to CLOSE,
//     Read looks up its addresses with sock_diag and returns a transition
//     with TimeWait set once the time-wait socket is in TIME_WAIT (see
//     Transition.TimeWait), after the transitions the ring buffer held
//     when the lookup found it.
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
			t.tw.watch(&tr)
			t.gaps.watch(&tr)
			return tr, nil
		}
		now := time.Now()
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
			return Transition{}, t.lostError(drops, t.reportedMisses)
		}
		t.tw.watch(&tr)
		t.gaps.watch(&tr)
		return tr, nil
	}
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

// Lost returns how many transitions went unreported since Open: records
// the full ring buffer refused, and state changes the kernel ran neither
// copy of the program for, whether the kernel counted them or sock_diag
// lookups found them missing (see gaps).
func (t *Tracer) Lost() uint64 {
	if drops, misses, err := t.readLosses(); err == nil {
		return drops + misses + t.gapLost.Load()
	}
	return t.lost.Load()
}

// Close detaches the program and releases what Open took. A Read in
// progress returns an error wrapping os.ErrClosed.
func (t *Tracer) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if drops, misses, err := t.readLossesLocked(); err == nil {
		t.lost.Store(drops + misses + t.gapLost.Load())
	}
	t.released = true
	return t.release()
}

// release closes everything Open made, link first so the kernel stops
// writing, and returns the first error.
func (t *Tracer) release() error {
	var errs []error
	for _, l := range append(t.links[:], t.resetLinks[:]...) {
		if l != nil {
			errs = append(errs, l.Close())
		}
	}
	if t.rd != nil {
		errs = append(errs, t.rd.Close())
	}
	if t.diag != nil {
		errs = append(errs, t.diag.Close())
	}
	for _, p := range append(t.progs[:], t.resetProgs[:]...) {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	if t.claims != nil {
		errs = append(errs, t.claims.Close())
	}
	if t.drops != nil {
		errs = append(errs, t.drops.Close())
	}
	if t.events != nil {
		errs = append(errs, t.events.Close())
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("trace: close: %w", err)
		}
	}
	return nil
}

// timerTimeWait is the timer sock_diag reports for a time-wait socket
// (inet_twsk_diag_fill), and for no other.
const timerTimeWait = 3
