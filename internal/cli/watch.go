package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/trace"
)

const watchUsage = `usage: sockstate watch [FLAGS] [state NAME] [exclude NAME] [EXPRESSION]

Print socket state changes as they happen, one line per event: the time
(local; -j gives it in UTC), netid (left out when -t or -u says it), local
and peer address, FROM -> TO, and how long the socket was seen in FROM.
The first poll prints every socket as new. Every state is watched unless a
state selection or -l says otherwise; filter expressions are ss's. On a
terminal narrower than 105 columns the time has milliseconds and the word
"after" goes: a loopback IPv4 line of -t fits in 80.

  -t, --tcp          TCP sockets
  -u, --udp          UDP sockets (with neither -t nor -u: both)
  -a, --all          every state (the default; accepted as ls takes it)
  -l, --listening    listening sockets only (and unconnected UDP), as ls -l
  -4, --ipv4         IPv4 only
  -6, --ipv6         IPv6 only
  -j, --json         JSON Lines, an object per event
      --no-snapshot  leave out the first poll's sockets, printed as new
      --ss-names     ss's state names: ESTAB, TIME-WAIT, UNCONN (also
                     SOCKSTATE_SS_NAMES=1)
      --color WHEN   auto (on a terminal, unless NO_COLOR or TERM=dumb),
                     always or never
  -N, --net NAME     watch the network namespace NAME (under /run/netns)
      --netns PATH   watch the network namespace at PATH, such as /proc/PID/ns/net
      --interval D   time between polls, at least 1ms (default 100ms)
      --duration D   stop after D (default 0: until interrupted)
      --all-netns    every network namespace on the host, each event's line
                     starting with its namespace (JSON: "netns"); polls only
      --source S     auto (below), netlink, proc or trace (TCP only, as
                     root: every state change the kernel makes, from an
                     eBPF program)
  -h, --help         this text

auto traces TCP where it may load the eBPF program (CAP_BPF and
CAP_PERFMON, kernel BTF), and polls UDP, and TCP where tracing is refused,
through sock_diag (or /proc where that is refused); its first line on
stderr says which and why. Traced, each move into CLOSE and each gone
says why the connection ended: closed, reset-received, reset-sent,
refused, timeout or aborted.

With sock_diag (auto, netlink) and root, the kernel also reports every
socket it frees, so one that lives and dies between two polls is still
printed, as gone in the state it died in. A socket closed with SO_LINGER 0
loses its source address and destination port before that report: one
no poll showed is printed with what is left ("reset, addresses cleared by
the kernel") when the filter selects it whatever they were, and counted
in an "unmatched" line after the poll when the filter turns on them.

When the kernel's tables change during every attempt at a sock_diag dump
(ss: "Dump was interrupted and may be inconsistent"), that poll is skipped,
said once on stderr, and the next poll shows its changes; watch stops after
100 such polls in a row.
`

type watchOptions struct {
	sel     selection
	display display
	// listening is -l; -a changes nothing, every state being watched.
	listening  bool
	noSnapshot bool
	ns         netnsFlags
	json       bool
	interval   time.Duration
	duration   time.Duration
	source     string
	allNetNS   bool
}

// durationFlag returns a setter that parses a duration of at least min
// into *p.
func durationFlag(cmd, name string, p *time.Duration, min time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return usagef("%s: --%s %q: not a duration such as 100ms or 2s", cmd, name, v)
		}
		if d < min {
			return usagef("%s: --%s %s: want at least %v", cmd, name, v, min)
		}
		*p = d
		return nil
	}
}

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts := watchOptions{interval: 100 * time.Millisecond, source: "auto", display: newDisplay()}
	help := false
	specs := append(opts.sel.specs(), opts.ns.specs()...)
	specs = append(specs, []flagSpec{
		{short: 'a', long: "all", set: func(string) error { return nil }},
		{short: 'l', long: "listening", set: boolFlag(&opts.listening)},
		{long: "no-snapshot", set: boolFlag(&opts.noSnapshot)},
		opts.display.colorSpec("watch"),
		opts.display.ssNamesSpec(),
		{short: 'j', long: "json", set: boolFlag(&opts.json)},
		{long: "interval", hasValue: true, set: durationFlag("watch", "interval", &opts.interval, time.Millisecond)},
		{long: "duration", hasValue: true, set: durationFlag("watch", "duration", &opts.duration, 0)},
		{long: "source", hasValue: true, set: func(v string) error { opts.source = v; return nil }},
		{long: "all-netns", set: boolFlag(&opts.allNetNS)},
		{short: 'h', long: "help", set: boolFlag(&help)},
	}...)
	words, err := parseFlags("watch", args, specs)
	if err != nil {
		return err
	}
	if help {
		fmt.Fprint(stdout, watchUsage)
		return errHelp
	}
	if err := opts.ns.check("watch"); err != nil {
		return err
	}
	states := inspect.AllStates
	if opts.listening {
		states = inspect.ListeningStates
	}
	q, err := opts.sel.query("watch", states, words)
	if err != nil {
		return err
	}
	if opts.allNetNS && (opts.ns.name != "" || opts.ns.path != "") {
		return usagef("watch: --all-netns watches every namespace and -N or --netns names one; give one")
	}
	nsFD, closeNS, err := opts.ns.openFD("watch")
	if err != nil {
		return err
	}
	defer closeNS()
	var w watcher
	var names *allNetNSNames
	if opts.allNetNS {
		w, names, err = newAllNetNSWatcher(opts.source, q, opts.interval, stderr)
	} else {
		var closeWatcher func()
		w, closeWatcher, err = newEvents("watch", opts.source, q, opts.interval, nsFD, stderr)
		if err == nil {
			defer closeWatcher()
		}
	}
	if err != nil {
		return err
	}

	if opts.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.duration)
		defer cancel()
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	format := "text"
	if opts.json {
		format = "jsonl"
	}
	o := newOutput(format, out, view{
		color:       opts.display.colored(stdout),
		ssNames:     opts.display.ssNames,
		width:       terminalWidth(stdout),
		oneProtocol: len(q.Protocols) == 1,
	})
	if names != nil {
		o = &netnsEvents{output: o, w: out, json: opts.json, ssNames: opts.display.ssNames, names: names}
	}
	snapshot := opts.noSnapshot // the first batch, the first poll's, is still to skip
	err = w.Watch(ctx, func(batch []inspect.WatchEvent) error {
		skipNew := snapshot
		snapshot = false
		for i := range batch {
			if skipNew && batch[i].Kind == inspect.EventNew {
				continue
			}
			if err := o.event(&batch[i]); err != nil {
				return err
			}
		}
		return out.Flush()
	})
	if flushErr := out.Flush(); err == nil {
		err = flushErr
	}
	if errors.Is(err, inspect.ErrIncomplete) {
		err = fmt.Errorf("%w; --source proc reads /proc/net, which is never interrupted", err)
	}
	return err
}

// watcher reports socket events: an inspect.Watcher or a trace.Events.
type watcher interface {
	Watch(ctx context.Context, fn func([]inspect.WatchEvent) error) error
}

// newEvents returns the watcher --source names for command cmd: trace
// events, or a polling watcher (newWatcher). The function returned
// releases what it holds.
// nsFD is the namespace to watch (0: the caller's).
func newEvents(cmd, source string, q inspect.Query, interval time.Duration, nsFD int, stderr io.Writer) (watcher, func(), error) {
	switch source {
	case "trace":
		if len(q.Protocols) > 0 && !slices.Contains(q.Protocols, inspect.TCP) {
			return nil, nil, usagef("%s: --source trace sees TCP sockets only", cmd)
		}
		ev, err := openTrace(q, interval, nsFD)
		if err != nil {
			return nil, nil, err
		}
		return ev, func() { ev.Tracer.Close() }, nil
	case "auto":
		return autoEvents(q, interval, nsFD, stderr)
	case "netlink", "proc":
		return newWatcher(source, q, interval, nsFD, stderr)
	}
	return nil, nil, usagef("%s: --source %q: use auto, netlink, proc or trace", cmd, source)
}

// openTrace returns trace events of the namespace open at nsFD (0: the
// caller's) for q, with an empty batch after each idle interval. Without
// privilege the error is the Tracer's one line naming the capabilities
// missing.
func openTrace(q inspect.Query, idle time.Duration, nsFD int) (*trace.Events, error) {
	t, err := trace.Open(&trace.Options{NetNS: nsFD})
	if err != nil {
		return nil, err
	}
	return &trace.Events{Tracer: t, Source: &sockdiag.Source{NetNS: nsFD}, Query: q, Idle: idle}, nil
}

// newWatcher returns a Watcher over the source --source names, with the
// kernel's destroy reports beside sock_diag. Without them (no
// CAP_NET_ADMIN, or the proc source chosen) it says once on stderr what
// is missed, and watches by polling alone. Where no sock_diag socket can
// be opened at all, auto says so in one line and polls /proc, and netlink
// fails. The function returned releases the subscription.
func newWatcher(source string, q inspect.Query, interval time.Duration, nsFD int, stderr io.Writer) (*inspect.Watcher, func(), error) {
	src, err := newSource(source, stderr, nsFD)
	if err != nil {
		return nil, nil, err
	}
	w := &inspect.Watcher{Source: src, Query: q, Interval: interval}
	w.Interrupted = func(skipped int, err error) {
		if skipped == 1 {
			fmt.Fprintf(stderr, "sockstate: watch: %v; a poll whose dump is interrupted is skipped and the next shows its changes (watch stops after %d in a row)\n", err, inspect.MaxInterruptedPolls)
		}
	}
	if source == "proc" {
		return w, func() {}, nil
	}
	d, err := sockdiag.SubscribeDestroyed(nsFD, q)
	if err != nil {
		// Tell a kernel or sandbox without sock_diag, which fails the
		// dumps too, from one that only refuses the destroy groups: one
		// line for the cause, not one per symptom.
		if dialErr := sockdiag.Probe(nsFD); sockdiag.NetlinkUnavailable(dialErr) {
			if source == "netlink" {
				return nil, nil, fmt.Errorf("watch: %w; --source proc reads /proc/net instead", dialErr)
			}
			fmt.Fprintf(stderr, "sockstate: sock_diag unavailable, reading /proc/net instead (sockets that live and die between two polls are missed): %v\n", dialErr)
			w.Source = &procsrc.Source{NetNS: nsFD}
			return w, func() {}, nil
		}
		hint := ""
		if errors.Is(err, os.ErrPermission) {
			hint = " (run as root for them)"
		}
		fmt.Fprintf(stderr, "sockstate: no destroy reports%s, so sockets that live and die between two polls are missed: %v\n", hint, err)
		return w, func() {}, nil
	}
	w.Destroyed = d
	return w, func() { d.Close() }, nil
}

// isTerminal reports whether w is a terminal, the only place colours go.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// eventState names state st of a socket of protocol p as sockstate prints
// states: the kernel's name, UNCONN for a UDP socket in CLOSE; with ss,
// ss's spelling.
func eventState(p inspect.Protocol, st inspect.State, ss bool) string {
	s := inspect.Socket{Protocol: p, State: st}
	return stateName(&s, ss)
}

// stateColors are the ANSI colours of states on a terminal: green while
// data flows, yellow for the handshake and the closing states, cyan for
// listeners, blue for TIME_WAIT, red for the end.
var stateColors = map[inspect.State]string{
	inspect.Established: "32",
	inspect.SynSent:     "33", inspect.SynRecv: "33", inspect.NewSynRecv: "33",
	inspect.FinWait1: "33", inspect.FinWait2: "33", inspect.CloseWait: "33",
	inspect.LastAck: "33", inspect.Closing: "33",
	inspect.TimeWait: "34",
	inspect.Listen:   "36",
	inspect.Close:    "31",
}

// eventPrinter writes watch events as text lines.
type eventPrinter struct {
	w     io.Writer
	color bool
	layout
	buf []byte
}

// print writes e as one line:
//
//	10:00:00.123456 tcp 127.0.0.1:7788  127.0.0.1:51234 ESTABLISHED -> CLOSE_WAIT  after 301ms
//
// or, on a terminal too narrow for that (layout.narrow),
//
//	10:00:00.123 127.0.0.1:7788  127.0.0.1:51234 ESTABLISHED -> CLOSE_WAIT 301ms
func (p *eventPrinter) print(e *inspect.WatchEvent) error {
	b := e.Time.AppendFormat(p.buf[:0], p.timeFormat())
	if e.Kind == inspect.EventLost {
		b = append(b, " lost: "...)
		if e.Lost > 0 {
			b = strconv.AppendUint(b, e.Lost, 10)
			b = append(b, " reports, "...)
		}
		b = append(b, "the kernel dropped reports (of destroyed sockets or state changes: its buffer was full, or the tracer found a state change it was not given); resynchronised from a fresh dump\n"...)
		p.buf = b
		_, err := p.w.Write(b)
		return err
	}
	if e.Kind == inspect.EventUnmatched {
		b = append(b, " unmatched: "...)
		b = strconv.AppendUint(b, e.Unmatched, 10)
		b = append(b, " destroyed sockets that no poll showed could not be matched to the filter: the kernel cleared the addresses it reads\n"...)
		p.buf = b
		_, err := p.w.Write(b)
		return err
	}
	s := &e.Socket
	b = append(b, ' ')
	if !p.oneProtocol {
		b = append(b, s.Netid()...)
		b = append(b, ' ')
	}
	from, to := "new", "gone"
	var fromState, toState inspect.State
	if e.Kind != inspect.EventNew {
		from, fromState = eventState(s.Protocol, e.From, p.ssNames), e.From
	}
	if e.Kind != inspect.EventGone {
		to, toState = eventState(s.Protocol, e.To, p.ssNames), e.To
	}
	local, peer := endpoint(s.Local), endpoint(s.Peer)
	p.see(local, peer, from)
	b = pad(b, local, p.localW)
	b = append(b, ' ')
	b = pad(b, peer, p.peerW)
	b = append(b, ' ')
	b = p.state(b, from, fromState, p.fromW)
	b = append(b, " -> "...)
	b = p.tail(b, e, to, toState)
	b = append(b, '\n')
	p.buf = b
	_, err := p.w.Write(b)
	return err
}

// tail appends the end of e's line from its second state, to: the cause,
// the time in the first state and the reset mark, each where known, with
// the columns padded when more follows.
func (p *eventPrinter) tail(b []byte, e *inspect.WatchEvent, to string, toState inspect.State) []byte {
	if p.narrow {
		// Under 105 columns: no padding and no "after", so that a
		// loopback IPv4 line fits in 80.
		b = p.state(b, to, toState, 0)
		if e.Cause != inspect.CauseUnknown {
			b = append(b, ' ')
			b = append(b, e.Cause.String()...)
		}
		if e.InState > 0 {
			b = append(b, ' ')
			b = append(b, roundDuration(e.InState).String()...)
		}
	} else {
		width := func(more bool, w int) int {
			if more {
				return w
			}
			return 0
		}
		more := e.InState > 0 || e.Reset || e.Lifetime > 0 || e.Bytes != nil
		b = p.state(b, to, toState, width(e.Cause != inspect.CauseUnknown || more, 11))
		if e.Cause != inspect.CauseUnknown {
			b = append(b, ' ')
			b = pad(b, e.Cause.String(), width(more, 14))
		}
		if e.InState > 0 {
			b = append(b, " after "...)
			b = append(b, roundDuration(e.InState).String()...)
		}
	}
	if p.narrow {
		// The JSON keeps the lifetime and bytes; a narrow line has no room.
		if e.Reset {
			b = append(b, " reset"...)
		}
		return b
	}
	if e.Lifetime > 0 {
		b = append(b, " lived "...)
		b = append(b, roundDuration(e.Lifetime).String()...)
	}
	if e.Bytes != nil {
		b = append(b, " acked "...)
		b = strconv.AppendUint(b, e.Bytes.Acked, 10)
		b = append(b, " B received "...)
		b = strconv.AppendUint(b, e.Bytes.Received, 10)
		b = append(b, " B"...)
	}
	if e.Reset {
		b = append(b, " reset, addresses cleared by the kernel"...)
	}
	return b
}

// state appends name, coloured for st on a terminal (not for the words
// new and gone, st 0), padded to width.
func (p *eventPrinter) state(b []byte, name string, st inspect.State, width int) []byte {
	code, ok := stateColors[st]
	if !p.color || !ok {
		return pad(b, name, width)
	}
	b = append(b, "\x1b["+code+"m"...)
	b = append(b, name...)
	b = append(b, "\x1b[0m"...)
	for n := len(name); n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

func pad(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for n := len(s); n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

// roundDuration keeps three significant digits: 301ms, 1.23s, 450µs.
func roundDuration(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}

// jsonEvent is a watch event as -j prints it; from is absent on new, to
// on gone, in_state_ms and in_state_us (the same time, in microseconds,
// as the tracer measures it) when the time in from is not known; lost, on
// a lost event, counts the reports lost when the source knows; unmatched,
// on an unmatched event, the destroyed sockets not matched to the filter;
// cause is why a socket ended, where known; reset marks a gone socket
// reported with the tuple the kernel cleared; lifetime_ms, bytes_acked
// and bytes_received, on gone, the socket's life and what it carried,
// where known. The time is in UTC; the text's is local.
type jsonEvent struct {
	Time      string        `json:"time"`
	Event     string        `json:"event"`
	Netid     string        `json:"netid,omitempty"`
	Family    string        `json:"family,omitempty"`
	Local     *jsonEndpoint `json:"local,omitempty"`
	Peer      *jsonEndpoint `json:"peer,omitempty"`
	From      string        `json:"from,omitempty"`
	To        string        `json:"to,omitempty"`
	Cookie    string        `json:"cookie,omitempty"`
	InStateMS *int64        `json:"in_state_ms,omitempty"`
	InStateUS *int64        `json:"in_state_us,omitempty"`
	Cause     string        `json:"cause,omitempty"`
	Reset     bool          `json:"reset,omitempty"`
	LifeMS    *int64        `json:"lifetime_ms,omitempty"`
	Acked     *uint64       `json:"bytes_acked,omitempty"`
	Received  *uint64       `json:"bytes_received,omitempty"`
	Lost      uint64        `json:"lost,omitempty"`
	Unmatched uint64        `json:"unmatched,omitempty"`
}

func newJSONEvent(e *inspect.WatchEvent, ssNames bool) jsonEvent {
	j := jsonEvent{Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), Event: e.Kind.String()}
	if e.Kind == inspect.EventLost || e.Kind == inspect.EventUnmatched {
		j.Lost, j.Unmatched = e.Lost, e.Unmatched
		return j
	}
	s := &e.Socket
	j.Netid, j.Family = s.Netid(), s.Family.String()
	j.Local = &jsonEndpoint{Addr: s.Local.Addr().String(), Port: s.Local.Port()}
	j.Peer = &jsonEndpoint{Addr: s.Peer.Addr().String(), Port: s.Peer.Port()}
	if e.Kind != inspect.EventNew {
		j.From = eventState(s.Protocol, e.From, ssNames)
	}
	if e.Kind != inspect.EventGone {
		j.To = eventState(s.Protocol, e.To, ssNames)
	}
	if s.Cookie != 0 {
		j.Cookie = cookieText(s.Cookie)
	}
	if e.InState > 0 {
		ms, us := e.InState.Milliseconds(), e.InState.Microseconds()
		j.InStateMS, j.InStateUS = &ms, &us
	}
	if e.Cause != inspect.CauseUnknown {
		j.Cause = e.Cause.String()
	}
	j.Reset = e.Reset
	if e.Lifetime > 0 {
		ms := e.Lifetime.Milliseconds()
		j.LifeMS = &ms
	}
	if e.Bytes != nil {
		j.Acked, j.Received = &e.Bytes.Acked, &e.Bytes.Received
	}
	return j
}
