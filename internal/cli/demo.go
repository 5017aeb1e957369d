package cli

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/demo"
	"github.com/sockstate/sockstate/internal/tunlink"
)

const demoUsage = `usage: sockstate demo [FLAGS]

Run the textbook TCP server and client in this process, on loopback, one
step at a time, and show each socket's states as the kernel reports them.
Exits 0 when every state the textbook requires was observed: LISTEN,
ESTABLISHED on both ends, FIN_WAIT1 or FIN_WAIT2 then TIME_WAIT on the
side that closes first, CLOSE_WAIT on the other. With the tracer every
socket's whole sequence is required, CLOSE included, and the times have
microseconds.

      --closer SIDE   server (the default, as in the textbook) or client
      --step D        pause after each step (default 300ms)
      --interval D    time between polls of the sockets (default 1ms); with
                      the tracer, between looks when nothing happens
      --addr A:P      where the server binds (default 127.0.0.1:7788, or a
                      free port if that one is taken; an address given
                      that is taken is an error)
      --source S      auto (the tracer as root, else sock_diag, else /proc),
                      trace (the eBPF tracer: every state change), netlink
                      or proc
  -j, --json          the timeline as JSON Lines
      --pcap FILE     write the packets to FILE as pcapng, each one that
                      changed a state with a comment naming the change
      --svg FILE      write the ladder to FILE as an SVG picture
      --absolute-seq  the sequence numbers as sent, not from 0
      --narrow        a ladder 80 columns wide, not 100 (on a terminal
                      narrower than 100, the default)
      --no-capture    no packets: the timeline of states alone
      --rtt D         run the server and the client in two network
                      namespaces the demo makes, joined by a link with a
                      round trip of D (such as 40ms), so that the brief
                      states last long enough to be polled; root only;
                      states by polling (sock_diag in both namespaces),
                      SYN_SENT, SYN_RECV, FIN_WAIT1 and LAST_ACK required
                      too; the server binds 10.77.0.1 at --addr's port
      --color WHEN    auto (on a terminal, unless NO_COLOR or TERM=dumb),
                      always or never
      --ss-names      ss's spellings of the states (ESTAB, TIME-WAIT,
                      FIN-WAIT-2...) in the text and the JSON, also set by
                      SOCKSTATE_SS_NAMES=1
  -h, --help          this text

On a terminal the explanations wrap at words to its width.

As root (CAP_NET_RAW) the demo captures its packets on loopback and draws
them as a ladder between the client and the server, each state change
after the packet that caused it.
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	step, interval := 300*time.Millisecond, time.Millisecond
	source, addr, closer := "auto", netip.AddrPort{}, demo.ServerCloses
	jsonOut, help := false, false
	var lo ladderOptions
	var rtt demoLink
	display := newDisplay()
	specs := []flagSpec{
		display.colorSpec("demo"),
		display.ssNamesSpec(),
		{long: "closer", hasValue: true, set: func(v string) error {
			c, err := demo.ParseCloser(v)
			if err != nil {
				return usagef("demo: --closer %q: use server or client", v)
			}
			closer = c
			return nil
		}},
		{long: "step", hasValue: true, set: durationFlag("demo", "step", &step, time.Millisecond)},
		{long: "interval", hasValue: true, set: durationFlag("demo", "interval", &interval, time.Millisecond)},
		{long: "addr", hasValue: true, set: func(v string) error {
			a, err := netip.ParseAddrPort(v)
			if err != nil {
				return usagef("demo: --addr %q: want an address and port such as 127.0.0.1:7788 or [::1]:7788", v)
			}
			addr = a
			return nil
		}},
		{long: "source", hasValue: true, set: func(v string) error { source = v; return nil }},
		{short: 'j', long: "json", set: boolFlag(&jsonOut)},
		{short: 'h', long: "help", set: boolFlag(&help)},
		{long: "rtt", hasValue: true, set: durationFlag("demo", "rtt", &rtt.rtt, time.Millisecond)},
	}
	specs = append(specs, lo.flags()...)
	words, err := parseFlags("demo", args, specs)
	if err != nil {
		return err
	}
	if help {
		fmt.Fprint(stdout, demoUsage)
		return errHelp
	}
	stderr = wrapNotes(stderr)
	if len(words) > 0 {
		return usagef("demo: unexpected %q: demo takes flags only", words[0])
	}
	if rtt.rtt > 0 {
		if source == "trace" {
			return usagef("demo: --rtt polls the two namespaces: use --source netlink or proc, not trace")
		}
		if err := rtt.open(); err != nil {
			return err
		}
		defer rtt.close()
		// The namespaces are new: the port is free there.
		port := demo.DefaultAddr.Port()
		if addr.IsValid() {
			port = addr.Port()
		}
		addr = netip.AddrPortFrom(tunlink.ServerAddr, port)
		lo.netns, lo.ifname = rtt.link.Client.NetNS, tunlink.ClientDev
	} else if addr.IsValid() {
		if err := checkFree(addr); err != nil {
			return err
		}
	}
	family := inspect.INet6
	if !addr.IsValid() || addr.Addr().Is4() {
		family = inspect.INet
	}
	// CLOSE is left out: only sock_diag lists sockets in it (bound, not
	// yet listening or connected), and the demo shows the same with
	// either source.
	q := inspect.Query{
		Protocols: []inspect.Protocol{inspect.TCP},
		Families:  []inspect.Family{family},
		States:    inspect.AllStates &^ inspect.StatesOf(inspect.Close),
	}
	// The capture starts on the port the server will bind: the default's
	// when none is given (demo.Run moves it with the server if taken).
	capt, noCapture, err := lo.open(cmp.Or(addr, demo.DefaultAddr).Port())
	if err != nil {
		return err
	}
	defer lo.close()
	if capt != nil {
		defer capt.Stop()
	}
	var (
		w            watcher
		closeWatcher func()
		desc         string
		traced       bool
	)
	if rtt.link != nil {
		w, closeWatcher, desc, err = rtt.events(source, q, interval, stderr)
	} else {
		w, closeWatcher, desc, traced, err = demoEvents(source, q, interval, stderr)
	}
	if err != nil {
		return err
	}
	defer closeWatcher()

	out := bufio.NewWriter(stdout)
	format := "text"
	if jsonOut {
		format = "jsonl"
	}
	color := display.colored(stdout)
	names := demoNames(display.ssNames)
	o := newOutput(format, out, view{color: color, micro: traced, ssNames: display.ssNames, width: terminalWidth(stdout)})
	emit := o.entry
	var ladder rowsPrinter
	if capt != nil {
		// The ladder's rows come through OutRows instead.
		ladder = lo.printer(out, jsonOut, color, traced, traced, terminalWidth(stdout), names)
		emit = func(*demo.Entry) error { return nil }
	}
	written := func(err error) error {
		if err == nil {
			err = out.Flush()
		}
		if err != nil {
			return fmt.Errorf("demo: writing the timeline: %w", err)
		}
		return nil
	}
	cfg := demo.Config{
		Addr:        addr,
		Fixed:       addr.IsValid(),
		Closer:      closer,
		Step:        step,
		Events:      w,
		Source:      desc,
		EveryChange: traced,
		Names:       names,
		Capture:     capt,
		NoCapture:   noCapture,
		Out:         func(e *demo.Entry) error { return written(emit(e)) },
	}
	if rtt.link != nil {
		cfg.NetNS, cfg.ClientNetNS, cfg.ClientAddr = rtt.link.Server.NetNS, rtt.link.Client.NetNS, tunlink.ClientAddr
		cfg.Link, cfg.Interface = rtt.describe(), tunlink.ClientDev
		cfg.LinkDropped = func() uint64 { return rtt.link.Stats().Dropped }
	}
	if ladder != nil && !jsonOut {
		// Text comes a step behind the programs; JSON Lines, for
		// programs to read, comes at the end in the ladder's own order.
		cfg.OutRows = func(rows []demo.Row) error { return written(ladder.rows(rows)) }
	}
	res, err := demo.Run(ctx, cfg)
	if err == nil && res.Ladder != nil && jsonOut {
		err = written(ladder.rows(res.Ladder.Rows))
	}
	if err == nil && res.Ladder != nil {
		err = lo.writeFiles(res.Ladder)
	}
	if err == nil && res.Ladder != nil {
		err = written(ladder.finish(res.Ladder))
	}
	if err == nil {
		err = o.result(res.Missed)
	}
	if flushErr := out.Flush(); err == nil {
		err = flushErr
	}
	if err == nil && len(res.Missed) > 0 {
		err = fmt.Errorf("demo: not observed: %s", strings.Join(res.Missed, "; "))
	}
	return err
}

// demoEvents returns the demo's events as --source names them, a
// description of them for the timeline's heading, and whether they come
// from the tracer. auto traces when it can and polls otherwise, saying
// why. The tracer reports the moves to CLOSE, so with it CLOSE is
// selected too.
func demoEvents(source string, q inspect.Query, interval time.Duration, stderr io.Writer) (w watcher, release func(), desc string, traced bool, err error) {
	switch source {
	case "auto", "trace", "netlink", "proc":
	default:
		return nil, nil, "", false, usagef("demo: --source %q: use auto, netlink, proc or trace", source)
	}
	var traceErr error
	if source == "auto" || source == "trace" {
		tq := q
		tq.States = inspect.AllStates
		ev, err := openTrace(tq, interval, 0)
		if err == nil {
			return ev, func() { ev.Tracer.Close() }, "the kernel's sock:inet_sock_set_state tracepoint (eBPF)", true, nil
		}
		if source == "trace" {
			return nil, nil, "", false, err
		}
		traceErr = err
	}
	pw, release, err := newWatcher(source, q, interval, 0, stderr)
	if err != nil {
		return nil, nil, "", false, err
	}
	desc = sourceDescription(source, interval, pw.Destroyed != nil)
	if traceErr != nil {
		desc += " (no tracing: " + traceErr.Error() + ")"
	}
	return pw, release, desc, false, nil
}

// sourceDescription says where the demo's states come from.
func sourceDescription(source string, interval time.Duration, destroyed bool) string {
	var s string
	switch source {
	case "proc":
		s = "/proc/net"
	case "netlink":
		s = "sock_diag"
	default:
		s = "sock_diag (or /proc/net where it is refused)"
	}
	s += " polled every " + interval.String()
	if destroyed {
		s += ", and the kernel's reports of freed sockets"
	}
	return s
}

// timelinePrinter writes the demo's timeline as text, the times in
// milliseconds, with microseconds (micro) for the tracer's exact times,
// each line's text wrapped at words to width (0: not wrapped), the states
// spelled by names.
type timelinePrinter struct {
	w     io.Writer
	color bool
	micro bool
	width int
	names demo.Names
}

// demoNames spells the demo's states: the kernel's, or with ss ss's
// (--ss-names), as ls and watch print a TCP socket's.
func demoNames(ss bool) demo.Names {
	if !ss {
		return nil
	}
	return func(st inspect.State) string { return eventState(inspect.TCP, st, true) }
}

// print writes e as one line, such as
//
//	902 ms  client       connect(127.0.0.1:7788)
//	903 ms  server conn  SYN_RECV     passed through, not observed: a SYN came in; ...
//
// or with micro
//
//	902.114 ms  client       connect(127.0.0.1:7788)
func (p *timelinePrinter) print(e *demo.Entry) error {
	ms := fmt.Sprintf("%6d", e.Elapsed.Milliseconds())
	if p.micro {
		ms = fmt.Sprintf("%10.3f", float64(e.Elapsed.Microseconds())/1000)
	}
	var err error
	switch e.Kind {
	case demo.EntryStep:
		prefix := fmt.Sprintf("%s ms  %-11s  ", ms, e.Actor)
		_, err = io.WriteString(p.w, wrap(prefix, e.Text, p.width))
	case demo.EntryState:
		name := p.names.State(e.State)
		meaning := demo.Meaning(e.State)
		if !e.Observed {
			meaning = "passed through, not observed: " + meaning
		}
		padded := fmt.Sprintf("%-11s", name)
		if code, ok := stateColors[e.State]; ok && p.color {
			if !e.Observed {
				code = "2"
			}
			padded = "\x1b[" + code + "m" + name + "\x1b[0m" + padded[len(name):]
		}
		prefix := fmt.Sprintf("%s ms  %-11s  %s  ", ms, e.Socket, padded)
		_, err = io.WriteString(p.w, wrap(prefix, meaning, p.width))
	default:
		prefix := ms + " ms  "
		_, err = io.WriteString(p.w, wrap(prefix, e.Text, p.width))
	}
	return err
}

// jsonEntry is a timeline entry as -j prints it.
type jsonEntry struct {
	MS       int64  `json:"ms"`
	US       int64  `json:"us"`
	Type     string `json:"type"`
	Actor    string `json:"actor,omitempty"`
	Text     string `json:"text,omitempty"`
	Socket   string `json:"socket,omitempty"`
	State    string `json:"state,omitempty"`
	Observed *bool  `json:"observed,omitempty"`
	Meaning  string `json:"meaning,omitempty"`
}

func newJSONEntry(e *demo.Entry, names demo.Names) jsonEntry {
	j := jsonEntry{MS: e.Elapsed.Milliseconds(), US: e.Elapsed.Microseconds(), Type: e.Kind.String(), Actor: e.Actor, Text: e.Text}
	if e.Kind == demo.EntryState {
		observed := e.Observed
		j.Socket, j.State, j.Observed, j.Meaning = e.Socket.String(), names.State(e.State), &observed, demo.Meaning(e.State)
	}
	return j
}

// jsonResult is the last line of the JSON timeline.
type jsonResult struct {
	Type   string   `json:"type"`
	OK     bool     `json:"ok"`
	Missed []string `json:"missed"`
}

func newJSONResult(missed []string) jsonResult {
	return jsonResult{Type: "result", OK: len(missed) == 0, Missed: append([]string{}, missed...)}
}
