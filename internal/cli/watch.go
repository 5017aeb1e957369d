package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

const watchUsage = `usage: sockstate watch [FLAGS] [state NAME] [exclude NAME] [EXPRESSION]

Print socket state changes as they happen, one line per event: the time
(local; -j gives it in UTC), netid (left out when -t or -u says it), local
and peer address, FROM -> TO, and how long the socket was seen in FROM.
The first poll prints every socket as new. Every state is watched unless a
state selection or -l says otherwise; filter expressions are ss's. On a
terminal narrower than 105 columns the time has milliseconds and the word
"after" goes; on a terminal, what follows a line's second state goes on an
indented line of its own where the line would not fit, so that no loopback
IPv4 line wraps at 80 columns.

  -t, --tcp          TCP sockets
  -u, --udp          UDP sockets (with no kind flag: TCP and UDP)
  -x, --unix         unix sockets: u_str, u_dgr and u_seq (polled)
  -w, --raw          raw sockets (polled)
  -M, --mptcp        MPTCP sockets (polled, sock_diag only)
  -f, --family F     sockets of family F: inet, inet6 or unix
  -A, --query KINDS  the kinds listed, with commas, as ls -A takes them
  -a, --all          every state (the default; accepted as ls takes it)
  -n, --numeric      numeric output (the default; accepted as ls takes it)
  -H, --no-header    no header line (watch prints none; accepted as ls
                     takes it)
  -l, --listening    listening sockets only (and unconnected UDP), as ls -l
  -4, --ipv4         IPv4 only
  -6, --ipv6         IPv6 only
  -j, --json         JSON Lines, an object per event
  -p, --processes    the processes holding each socket, read from the process
                     table when watch first sees it with a file and kept until
                     it is gone: users:(("comm",pid=N,fd=N)), JSON "process"
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
                     starting with its namespace (on a terminal too narrow
                     for both, a line of its own; JSON: "netns"); traced
                     with no namespace filter, or polled one by one
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
	kinds   kinds
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
	// processes names each socket's owners (-p).
	processes bool
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
	specs := append(append(opts.sel.specs(), opts.kinds.kindSpecs()...), opts.ns.specs()...)
	specs = append(specs, []flagSpec{
		{short: 'a', long: "all", set: func(string) error { return nil }},
		{short: 'n', long: "numeric", set: func(string) error { return nil }},
		{short: 'H', long: "no-header", set: func(string) error { return nil }},
		{short: 'l', long: "listening", set: boolFlag(&opts.listening)},
		{long: "no-snapshot", set: boolFlag(&opts.noSnapshot)},
		opts.display.colorSpec("watch"),
		opts.display.ssNamesSpec(),
		{short: 'j', long: "json", set: boolFlag(&opts.json)},
		{short: 'p', long: "processes", set: boolFlag(&opts.processes)},
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
	stderr = wrapNotes(stderr)
	if err := opts.ns.check("watch"); err != nil {
		return err
	}
	states := inspect.AllStates
	if opts.listening {
		states = inspect.ListeningStates
	}
	q, err := opts.sel.query("watch", states, words)
	if err == nil {
		err = opts.kinds.apply(&q, "watch", false)
	}
	if err == nil {
		err = checkWatchKinds(&q, opts.source)
	}
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
	var names netnsNamer
	var closeWatcher func()
	if opts.allNetNS {
		w, names, closeWatcher, err = newAllNetNSWatcher(opts.source, q, opts.interval, stderr)
	} else {
		w, closeWatcher, err = newEvents("watch", opts.source, q, opts.interval, nsFD, stderr)
	}
	if err != nil {
		return err
	}
	defer closeWatcher()

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
	v := view{
		color:       opts.display.colored(stdout),
		ssNames:     opts.display.ssNames,
		width:       terminalWidth(stdout),
		oneProtocol: len(q.Protocols)+len(q.UnixTypes) == 1,
	}
	if names != nil {
		v.netns = names.label
	}
	o := newOutput(format, out, v)
	if names != nil && opts.json {
		o = &netnsEvents{output: o, w: out, ssNames: opts.display.ssNames, names: names}
	}
	var cache *owners.Cache
	if opts.processes {
		cache = &owners.Cache{}
	}
	snapshot := opts.noSnapshot // the first batch, the first poll's, is still to skip
	err = w.Watch(ctx, func(batch []inspect.WatchEvent) error {
		skipNew := snapshot
		snapshot = false
		var procs [][]owners.Process
		if cache != nil {
			var err error
			if procs, err = cache.Owners(ctx, batch); err != nil {
				return fmt.Errorf("watch: -p: %w", err)
			}
		}
		for i := range batch {
			if skipNew && batch[i].Kind == inspect.EventNew {
				continue
			}
			var p []owners.Process
			if procs != nil {
				p = procs[i]
			}
			if err := o.event(&batch[i], p); err != nil {
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
