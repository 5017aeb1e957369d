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
	conns      *nsConns // for Options.AllNetNS, instead of diag
	// overflowFile is the namespace's TcpExt counters, nil when they
	// cannot be read: every TIME_WAIT is then looked up.
	overflowFile *os.File
	look         lookupFunc
	gapLook      gapLookupFunc
	// lookups counts the sock_diag lookups look and gapLook made (for
	// BenchmarkChurn); only the reading goroutine touches it.
	lookups uint64

	// wall is the wall clock's reading minus CLOCK_MONOTONIC's, taken at
	// Open, in nanoseconds.
	wall int64
	// mono reads CLOCK_MONOTONIC from Go's clock, without the system
	// call clock_gettime costs per record.
	mono monoclock.Mono

	rec      ringbuf.Record
	deadline time.Time // the deadline set on rd
	idleSeen time.Time // when the drop counter was last read while idle
	// lastRecord is when Read last read a record (see batchWait).
	lastRecord time.Time
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
	heldFINIn      bool       // whether held's socket had the peer's FIN
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

// batchWait is how long Read lets records gather when it has emptied the
// ring less than batchWait after reading one: the kernel wakes a reader
// waiting on an empty ring for each record, and under churn those
// wake-ups (an epoll_wait each) cost more than reading the records. A
// transition after a quiet spell wakes the reader at once; under churn
// one waits batchWait at most.
const batchWait = time.Millisecond

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
	own := inum
	if o.AllNetNS {
		if o.NetNS != 0 || o.OpenNetNS == nil {
			return nil, errors.New("trace: Options.AllNetNS takes no NetNS and needs OpenNetNS")
		}
		inum = 0 // no namespace filter
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
	if o.AllNetNS {
		t.conns = newNSConns(own, o.OpenNetNS, o.Unreachable)
		t.look, t.gapLook = t.conns.lookups()
	} else if err := t.dialLookups(o.NetNS); err != nil {
		return nil, err
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
	// After attaching: the first reading vouches for the time-wait
	// sockets made after it. The counter is per namespace: a Tracer of
	// every namespace looks each time-wait socket up in its own.
	if !o.AllNetNS {
		t.openOverflow(o.NetNS)
	}
	ok = true
	return t, nil
}

// dialLookups opens the sock_diag socket of the namespace open at nsFD
// for the Tracer's lookups.
func (t *Tracer) dialLookups(nsFD int) error {
	var err error
	t.diag, err = netlinkdiag.Dial(&netlinkdiag.Config{NetNS: nsFD})
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	t.look = func(tr *Transition) (inspect.State, uint64, error) {
		t.lookups++
		m, err := lookupSocket(t.diag, tr)
		return inspect.State(m.State), m.Cookie, err
	}
	t.gapLook = func(tr *Transition) (inspect.State, bool, error) {
		t.lookups++
		m, err := lookupSocket(t.diag, tr)
		return inspect.State(m.State), m.Timer == timerTimeWait, err
	}
	return nil
}

// openOverflow sets up the confirmation of time-wait sockets by the
// namespace's TCPTimeWaitOverflow counter (overflow.go), and takes the
// first reading. Where the counter cannot be read, it leaves every
// time-wait socket to a lookup.
func (t *Tracer) openOverflow(nsFD int) {
	f, err := openOverflow(nsFD)
	if err != nil {
		return
	}
	read := overflowReader(f)
	n, err := read()
	if err != nil {
		f.Close()
		return
	}
	t.overflowFile = f
	t.tw.over = overflows{read: read, mono: func() time.Duration { return t.mono.At(time.Now()) }}
	t.tw.over.take(n, t.tw.over.mono())
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
	if t.conns != nil {
		errs = append(errs, t.conns.close())
	}
	if t.overflowFile != nil {
		errs = append(errs, t.overflowFile.Close())
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
