// Package demo runs the textbook TCP exchange in one process, on loopback,
// one step at a time, and shows each socket's states as the kernel reports
// them: the server binds 127.0.0.1:7788, listens with a backlog of 5,
// accepts, receives up to 1024 bytes, sends "thank you !" and closes; the
// client connects, sends a message, receives the reply and closes.
//
// The states come from an Events source: an inspect.Watcher polling
// sock_diag or /proc/net, or a tracer that reports every state change
// (Config.EveryChange), of which nothing is inferred. With polling, states
// that the exchange must go through but that were not seen, too brief for
// polling on loopback (SYN_SENT, SYN_RECV, FIN_WAIT1, LAST_ACK), are
// inferred by comparing what was seen of each socket with the sequence
// the TCP state machine (RFC 9293, section 3.3.2; tcp_states.h) prescribes,
// and shown as passed through, not observed.
//
// With a packet capture (Config.Capture) Run also returns a Ladder: the
// timeline and the connection's packets in one order, each state change
// after the packet that caused it (ladder.go).
package demo

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/capture"
)

// DefaultAddr is the textbook server's address, on loopback: the textbook
// binds every interface, which is no safe default.
var DefaultAddr = netip.MustParseAddrPort("127.0.0.1:7788")

// Events is where the demo learns of state changes: it calls fn after each
// look at the sockets, the first time with what exists, until ctx ends.
// An *inspect.Watcher is one; a *trace.Events, which reports every state
// change, is another.
type Events interface {
	Watch(ctx context.Context, fn func([]inspect.WatchEvent) error) error
}

// Config configures Run.
type Config struct {
	// Addr is where the server binds; the zero value means DefaultAddr.
	// If the port is taken, the server binds a free one and says so,
	// unless Fixed.
	Addr netip.AddrPort
	// Fixed makes a taken Addr an error: the user named it.
	Fixed bool
	// Closer is the side that closes first.
	Closer Closer
	// Step is the pause after each step of the programs.
	Step time.Duration
	// Events reports the TCP sockets of Addr's family in the namespace
	// the sockets are made in.
	Events Events
	// NetNS is a network namespace file descriptor to make the sockets
	// in; 0 means the caller's.
	NetNS int
	// ClientNetNS and ClientAddr, when set, put the client in a namespace
	// of its own, bound to ClientAddr, across a link from the server's
	// (--rtt); Link describes the link in the line after the heading,
	// and Interface names the device Capture captures on (lo if empty).
	ClientNetNS int
	ClientAddr  netip.Addr
	Link        string
	Interface   string
	// LinkDropped, if not nil, counts the packets the link dropped; Run
	// says so at the end when there are any.
	LinkDropped func() uint64
	// Source names the event source in the timeline's heading.
	Source string
	// Names spells the states in the timeline's text and in Result; nil
	// for the kernel's names.
	Names Names
	// EveryChange says that Events reports every state change as the
	// kernel makes it (the tracer), not what looks at the sockets show:
	// then each socket's whole textbook sequence, CLOSE included, must be
	// observed in order, and Run waits for it (up to settleTimeout)
	// after the last step.
	EveryChange bool
	// Out receives each entry of the timeline as it happens. If it fails,
	// Run stops with its error.
	Out func(*Entry) error
	// Capture, if not nil, captures the packets of Addr's port on
	// loopback in the namespace the sockets are made in; Run follows the
	// server's port if it binds another, stops the capture and returns
	// the Ladder. NoCapture says why there is none, in the line after the
	// heading.
	Capture   *capture.Capture
	NoCapture string
	// OutRows, with Capture, receives the ladder's rows as they settle:
	// at each step the rows before the step before it (a step's time for
	// late packets and state changes to come in), the rest at the end,
	// each row once. A row that comes in later than that (a loaded
	// machine) is given with the next rows, out of the ladder's order;
	// Result.Ladder has the order. If it fails, Run stops with its error.
	OutRows func([]Row) error
}

// Result is what Run observed.
type Result struct {
	// Missed names each state the textbook requires that was not seen;
	// empty when the demo succeeded.
	Missed []string
	// Summary lists each socket's observed states.
	Summary string
	// Ladder is the timeline with the packets, when Config.Capture was
	// given.
	Ladder *Ladder
}

// run is one run of the demo.
type run struct {
	cfg   Config
	start time.Time

	mu      sync.Mutex // guards what follows, and the order of entries
	outErr  error
	entries []Entry // every entry emitted, for the ladder
	// given holds the ladder's rows OutRows was given, by Row.key;
	// steps counts the steps taken, the last at lastStep.
	given    map[int]bool
	steps    int
	lastStep time.Duration
	progress map[Role]*progress
	looks    int           // the reports Events has made
	looked   chan struct{} // signalled after each report
	// The sockets' addresses, known as the steps make them.
	listen, server, client netip.AddrPort
}

// Run runs the demo: it starts cfg.Events, waits for its first report,
// takes the steps, waits one more step for their last effects, and checks
// what it saw. It returns an error when the programs fail or ctx ends;
// a run that missed a required state returns a Result naming it.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Addr == (netip.AddrPort{}) {
		cfg.Addr = DefaultAddr
	}
	r := &run{cfg: cfg, start: time.Now(), looked: make(chan struct{}, 1), progress: map[Role]*progress{
		Listener:   newProgress(Listener, cfg.Closer, cfg.EveryChange),
		ServerConn: newProgress(ServerConn, cfg.Closer, cfg.EveryChange),
		Client:     newProgress(Client, cfg.Closer, cfg.EveryChange),
	}}
	if cfg.Capture != nil {
		defer cfg.Capture.Stop()
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	ready := make(chan struct{})
	// watchStopped is closed when Watch returns, with its error in
	// watchErr: a closed channel is seen by every wait, however many,
	// where a value sent would be taken by the first and awaited forever
	// by the next.
	watchStopped := make(chan struct{})
	var watchErr error
	go func() {
		defer close(watchStopped)
		first := true
		watchErr = cfg.Events.Watch(watchCtx, func(batch []inspect.WatchEvent) error {
			err := r.observe(batch)
			if first {
				first = false
				close(ready)
			}
			return err
		})
	}()
	// stopped is the error that ends the demo once Watch returned: the
	// timeline's own failure to be written first, then a signal's (the
	// watcher stops with ctx, often before the wait that sees ctx), then
	// Watch's.
	stopped := func(what string) error {
		if err := r.outputErr(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ended(ctx)
		}
		if watchErr == nil {
			return fmt.Errorf("demo: %s early, without an error", what)
		}
		return fmt.Errorf("demo: %s: %w", what, watchErr)
	}
	select {
	case <-ready:
	case <-watchStopped:
		return nil, stopped("watching the sockets")
	case <-ctx.Done():
		return nil, ended(ctx)
	}

	r.note(fmt.Sprintf("the textbook TCP server and client, in one process; a step every %v; states from %s", cfg.Step, cfg.Source))
	if cfg.Link != "" {
		r.note(cfg.Link)
	}
	if cfg.NoCapture != "" {
		r.note(cfg.NoCapture)
	}
	pause := func() error {
		if err := r.outputErr(); err != nil {
			return err
		}
		select {
		case <-time.After(cfg.Step):
			return r.outputErr()
		case <-watchStopped:
			return stopped("watching the sockets stopped")
		case <-ctx.Done():
			return ended(ctx)
		}
	}
	err := r.exchange(ctx, pause)
	if err == nil {
		err = r.settle(ctx, watchStopped, stopped)
	}
	stopWatch()
	<-watchStopped
	if err == nil && watchErr != nil && !errors.Is(watchErr, context.Canceled) {
		err = stopped("watching the sockets")
	}
	if err != nil {
		return nil, err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{Missed: check(cfg.Closer, r.progress, cfg.Names), Summary: summary(r.progress, cfg.Names)}
	if cfg.EveryChange {
		res.Missed = checkEvery(r.progress, cfg.Names)
	} else if cfg.ClientAddr.IsValid() {
		res.Missed = append(res.Missed, checkLink(cfg.Closer, r.progress, cfg.Names)...)
	}
	r.emit(&Entry{Elapsed: time.Since(r.start), Kind: EntryNote, Text: res.Summary})
	if cfg.LinkDropped != nil {
		if n := cfg.LinkDropped(); n > 0 {
			r.emit(&Entry{Elapsed: time.Since(r.start), Kind: EntryNote, Text: fmt.Sprintf("the link dropped %d packets (its queue was full, or a device refused one)", n)})
		}
	}
	closer := ServerConn
	if cfg.Closer == ClientCloses {
		closer = Client
	}
	if r.progress[closer].pos == len(r.progress[closer].expect)-1 {
		r.emit(&Entry{Elapsed: time.Since(r.start), Kind: EntryNote, Text: fmt.Sprintf("the %s stays in %s for 60 s after the demo ends", closer, cfg.Names.State(inspect.TimeWait))})
	}
	if cfg.Capture != nil {
		pkts, lost, err := cfg.Capture.Stop()
		if err != nil {
			return nil, fmt.Errorf("demo: capturing the packets: %w", err)
		}
		res.Ladder = buildLadder(r.entries, pkts, r.start, r.client, r.server, cfg.EveryChange)
		res.Ladder.Lost = lost
		res.Ladder.RawIP = cfg.Capture.RawIP()
		res.Ladder.Names = cfg.Names
		if cfg.Interface != "" {
			res.Ladder.Interface = cfg.Interface
		}
		r.outRows(res.Ladder.Rows)
	}
	return res, r.outErr
}

// observe turns a batch of events about the demo's sockets into timeline
// entries: for each state seen, first the states it implies were passed
// through unseen.
func (r *run) observe(batch []inspect.WatchEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.looks++
	select {
	case r.looked <- struct{}{}:
	default:
	}
	for i := range batch {
		e := &batch[i]
		if e.Kind == inspect.EventLost {
			text := "the kernel dropped reports (its buffer was full, or the tracer found a state change it was not given); states may be missing"
			if e.Lost > 0 {
				text = fmt.Sprintf("%d state changes lost: %s", e.Lost, text)
			}
			r.emit(&Entry{Elapsed: e.Time.Sub(r.start), Kind: EntryNote, Text: text})
			continue
		}
		role, ok := r.roleOf(&e.Socket)
		if !ok {
			continue
		}
		st := e.To
		if e.Kind == inspect.EventGone {
			// A request socket gives way to the full socket that the
			// handshake makes; that is no end of the connection.
			if e.From == inspect.SynRecv || e.From == inspect.NewSynRecv {
				continue
			}
			st = Gone
		}
		p := r.progress[role]
		if len(p.observed) > 0 && p.observed[len(p.observed)-1] == st {
			continue
		}
		at := e.Time.Sub(r.start)
		for _, skipped := range p.enter(st) {
			r.emit(&Entry{Elapsed: at, Kind: EntryState, Socket: role, State: skipped})
		}
		r.emit(&Entry{Elapsed: at, Kind: EntryState, Socket: role, State: p.observed[len(p.observed)-1], Observed: true})
	}
	return r.outErr
}

// settleTimeout bounds the wait for the last looks at the sockets.
const settleTimeout = 5 * time.Second

// settle waits until Events has looked at the sockets twice more, so that
// one look began after the last step, however long a look takes: a dump
// walks the kernel's whole TCP table, shared by every namespace. With
// EveryChange it waits, up to settleTimeout, until every socket reached
// the end of its sequence too: the tracer confirms TIME_WAIT with lookups
// that back off to a second apart.
func (r *run) settle(ctx context.Context, watchStopped <-chan struct{}, stopped func(string) error) error {
	r.mu.Lock()
	want := r.looks + 2
	r.mu.Unlock()
	timeout := time.After(settleTimeout)
	for {
		r.mu.Lock()
		done := r.looks >= want
		if r.cfg.EveryChange {
			for _, p := range r.progress {
				done = done && p.pos == len(p.expect)-1
			}
		}
		r.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-r.looked:
		case <-timeout:
			if r.cfg.EveryChange {
				// check names what is missing.
				return nil
			}
			return fmt.Errorf("demo: no look at the sockets in %v after the last step", settleTimeout)
		case <-watchStopped:
			return stopped("watching the sockets stopped")
		case <-ctx.Done():
			return ended(ctx)
		}
	}
}

// roleOf says which of the demo's sockets s is, by its ends: the listener
// is bound to the listening address with no peer; the server's connection
// has the client as its peer; the client is bound to the client's address.
func (r *run) roleOf(s *inspect.Socket) (Role, bool) {
	switch {
	case !r.listen.IsValid():
		return 0, false
	case s.Local == r.listen && s.Peer.Port() == 0:
		return Listener, true
	case !r.client.IsValid():
		return 0, false
	case s.Local == r.server && s.Peer == r.client:
		return ServerConn, true
	case s.Local == r.client && s.Peer == r.server:
		return Client, true
	}
	return 0, false
}

// step records a step about to be taken, before its effects can show.
func (r *run) step(actor, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := time.Since(r.start)
	// The first step lets out the heading; every later one the rows
	// before the step before it.
	cutoff := r.lastStep
	if r.steps == 0 {
		cutoff = at
	}
	r.flushRows(cutoff)
	r.steps, r.lastStep = r.steps+1, at
	r.emit(&Entry{Elapsed: at, Kind: EntryStep, Actor: actor, Text: text})
}

func (r *run) note(text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emit(&Entry{Elapsed: time.Since(r.start), Kind: EntryNote, Text: text})
}

// emit hands e to Out, keeping Out's first error; r.mu is held.
func (r *run) emit(e *Entry) {
	r.entries = append(r.entries, *e)
	if r.outErr == nil {
		r.outErr = r.cfg.Out(e)
	}
}

func (r *run) outputErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outErr
}

// setAddrs records the sockets' addresses for roleOf.
func (r *run) setAddrs(listen, server, client netip.AddrPort) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listen, r.server, r.client = listen, server, client
}
