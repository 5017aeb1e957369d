package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
)

const lsUsage = `usage: sockstate ls [FLAGS] [state NAME] [exclude NAME] [EXPRESSION]

List sockets like ss. With neither -a nor -l: connected sockets (of -a
and -l, the later counts). With no kind flag (-t -u -x -w -M -B -f -A):
every kind, in ss's order: unix, raw, udp, tcp, mptcp (-4 and -6 leave
unix out; ss also lists netlink and packet sockets, which sockstate does
not read); -K then closes TCP and UDP sockets only.

  -t, --tcp          TCP sockets
  -u, --udp          UDP sockets
  -x, --unix         unix sockets: u_str, u_dgr and u_seq
  -w, --raw          raw sockets
  -M, --mptcp        MPTCP sockets (their TCP subflows are listed with -t)
  -B, --bound-inactive  TCP sockets bound to a port that neither listen
                     nor connect (Linux 6.5)
  -f, --family F     sockets of family F: inet, inet6 or unix
  -A, --query KINDS  sockets of the kinds listed, with commas: all, inet,
                     tcp, udp, raw, mptcp, unix, unix_stream, unix_dgram,
                     unix_seqpacket
  -a, --all          listening and connected sockets
  -l, --listening    listening sockets only (and unconnected UDP)
  -4, --ipv4         IPv4 only
  -6, --ipv6         IPv6 only
  -n, --numeric      numeric output (the default; accepted for ss compatibility)
  -r, --resolve      host names from the system resolver (at most 2s a batch)
                     and port names from /etc/services; JSON keeps the
                     numbers and adds "host" and "service" beside them
  -H, --no-header    no header line
  -e, --extended     add uid, inode and cookie
  -o, --options      add timers: timer:(NAME,EXPIRES,RETRANSMITS)
  -p, --processes    add the processes holding each socket: users:(("comm",pid=N,fd=N)),
                     and for a unix socket its peer's: peer:(("comm",pid=N,fd=N))
  -m, --memory       add a line of socket memory: skmem:(r,rb,t,tb,f,w,o,bl,d)
  -i, --info         add a line of TCP internals (tcp_info) and the congestion control
  -s, --summary      print ss -s's summary of socket counts instead of a list
  -j, --json         one JSON array, an object per socket
  -N, --net NAME     inspect the network namespace NAME (under /run/netns)
      --netns PATH   inspect the network namespace at PATH, such as /proc/PID/ns/net
      --all-netns    every network namespace on the host, in a Netns column:
                     its name under /run/netns, or net:[INODE]
      --cgroup       add each socket's cgroup v2 path: cgroup:PATH (sock_diag)
  -C, --containers   add a Container column: the docker, containerd, cri-o or
                     podman container (and Kubernetes pod) or systemd unit
                     that the socket's cgroup path names
  -K, --kill         close the sockets listed, with sock_diag's SOCK_DESTROY, and
                     print them; needs CAP_NET_ADMIN and a filter EXPRESSION;
                     with --all-netns, in every namespace, each on a thread
                     switched into it;
                     a UDP socket is aborted, not closed: its owner's next
                     call fails with ECONNABORTED, and a bound one stays bound
      --source S     auto (sock_diag, falling back to /proc), netlink or proc
  -F, --filter FILE  read the EXPRESSION from FILE (-: standard input), #
                     starting a comment; a state selection stays on the
                     command line, as ss takes it
  -O, --oneline      -m's and -i's details on the socket's line
  -T, --threads      -p by thread: users:(("comm",pid=N,tid=N,fd=N))
      --ss-names     ss's state names: ESTAB, TIME-WAIT, FIN-WAIT-2, UNCONN,
                     in the table and in JSON (also SOCKSTATE_SS_NAMES=1);
                     without it, the kernel's: ESTABLISHED, TIME_WAIT
      --color WHEN   auto, always or never (ls prints no colours; accepted
                     as every command takes it)
  -h, --help         this text

-K refuses to run without an EXPRESSION (a blank one is none), as it would
close every socket listed; the long --all (not -a) says that is what is
meant. An empty value of -N or --netns is refused, never taken as "here".

States: established syn-sent syn-recv fin-wait-1 fin-wait-2 time-wait closed
close-wait last-ack listening closing, and the groups all connected
synchronized bucket big.

Exit status: 0 on success, 2 for a mistake in the command line (a flag,
state, expression, or a namespace that does not exist or is not one), 1
when the system refuses at run time (no permission, a kernel without
SOCK_DESTROY).
`

type lsOptions struct {
	sel                      selection
	kinds                    kinds
	all, listening           bool
	noHeader, extended, json bool
	timers, processes        bool
	memory, info, summary    bool
	kill                     bool
	// allLong is set by the spelled-out --all, which lets -K run without
	// an expression.
	allLong bool
	source  string
	ns      netnsFlags
	// allNetNS lists every namespace (--all-netns).
	allNetNS bool
	// cgroup shows each socket's cgroup (--cgroup), containers its
	// container (-C).
	cgroup, containers bool

	// Found by runLs for list: the namespaces of --all-netns and the
	// cgroups of --cgroup and -C.
	netnsNames  netnsNamer
	cgroupNames *cgroupNames
	display     display
	// heap holds the collector to a limit while the listing is written.
	heap *heapBudget
}

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, words, err := parseLsFlags(args, stdout)
	if err != nil {
		return err
	}
	stderr = wrapNotes(stderr)
	opts.heap = newHeapBudget()
	defer opts.heap.restore()
	q, err := opts.query(words)
	if err != nil {
		return err
	}
	if opts.kill {
		if err := requireTarget("ls", "-K", q, opts.allLong); err != nil {
			return err
		}
	}
	source := opts.source
	if opts.wantsCgroup(&q) {
		q.Cgroup = true
		if source, err = cgroupSource(source); err != nil {
			return err
		}
	}
	nsFD, closeNS, err := opts.ns.openFD("ls")
	if err != nil {
		return err
	}
	defer closeNS()
	src, err := newSource(source, stderr, nsFD)
	if err != nil {
		return err
	}
	if opts.cgroup || opts.containers {
		if opts.cgroupNames, err = newCgroupNames(opts.cgroup, opts.containers); err != nil {
			return err
		}
	}
	stdout, release := interruptible(ctx, stdout)
	defer release()
	w := bufio.NewWriterSize(stdout, 64<<10)
	if opts.allNetNS {
		all, err := newAllNetNSSource(source, stderr)
		if err != nil {
			return err
		}
		defer all.report(stderr)
		if opts.summary {
			if err := all.writeSummaries(ctx, w, opts.json); err != nil {
				return err
			}
			return w.Flush()
		}
		opts.netnsNames = all
		return opts.list(ctx, w, stderr, all, nsFD, q)
	}
	if opts.summary {
		if err := writeSummaryOf(ctx, w, src, nsFD, opts.json); err != nil {
			return err
		}
		return w.Flush()
	}
	return opts.list(ctx, w, stderr, src, nsFD, q)
}

// parseLsFlags reads ls's flags; the words after them are the state
// selection and the expression.
func parseLsFlags(args []string, stdout io.Writer) (lsOptions, []string, error) {
	opts := lsOptions{source: "auto", display: newDisplay()}
	help := false
	specs := append(append(opts.sel.specs(), opts.kinds.specs()...), opts.ns.specs()...)
	specs = append(specs, []flagSpec{
		// -a and -l: the later one counts, as in ss (ss -al lists
		// listening sockets, ss -la every socket).
		{short: 'a', set: func(string) error { opts.all, opts.listening = true, false; return nil }},
		{long: "all", set: func(string) error { opts.all, opts.allLong, opts.listening = true, true, false; return nil }},
		{short: 'l', long: "listening", set: func(string) error { opts.listening, opts.all = true, false; return nil }},
		{short: 'n', long: "numeric", set: func(string) error { return nil }},
		{short: 'H', long: "no-header", set: boolFlag(&opts.noHeader)},
		{short: 'e', long: "extended", set: boolFlag(&opts.extended)},
		{short: 'o', long: "options", set: boolFlag(&opts.timers)},
		{short: 'p', long: "processes", set: boolFlag(&opts.processes)},
		{short: 'm', long: "memory", set: boolFlag(&opts.memory)},
		{short: 'i', long: "info", set: boolFlag(&opts.info)},
		{short: 's', long: "summary", set: boolFlag(&opts.summary)},
		{short: 'j', long: "json", set: boolFlag(&opts.json)},
		{long: "all-netns", set: boolFlag(&opts.allNetNS)},
		{long: "cgroup", set: boolFlag(&opts.cgroup)},
		{short: 'C', long: "containers", set: boolFlag(&opts.containers)},
		{short: 'K', long: "kill", set: boolFlag(&opts.kill)},
		{long: "source", hasValue: true, set: func(v string) error { opts.source = v; return nil }},
		opts.display.ssNamesSpec(),
		opts.display.colorSpec("ls"),
		{short: 'h', long: "help", set: boolFlag(&help)},
	}...)
	words, err := parseFlags("ls", args, specs)
	if err != nil {
		return opts, nil, err
	}
	if help {
		fmt.Fprint(stdout, lsUsage)
		return opts, nil, errHelp
	}
	return opts, words, opts.check()
}

// writeSummaryOf writes ss -s's summary of the namespace open at nsFD.
func writeSummaryOf(ctx context.Context, w io.Writer, src inspect.Source, nsFD int, json bool) error {
	sum, err := procsrc.ReadSummary(ctx, src, nsFD)
	if err != nil {
		return err
	}
	if json {
		return writeSummaryJSON(w, &sum)
	}
	return writeSummary(w, &sum)
}

// list writes the sockets q selects from src to w, or with -K closes them
// and writes those it closed.
func (o *lsOptions) list(ctx context.Context, w *bufio.Writer, stderr io.Writer, src inspect.Source, nsFD int, q inspect.Query) error {
	tOpts := tableOptions{
		netid:    netids(&q) != 1,
		state:    q.States&(q.States-1) != 0,
		header:   !o.noHeader,
		extended: o.extended,
		timers:   o.timers,
		info:     o.info,
		memory:   o.memory,
		oneline:  o.kinds.oneline,
		netns:    o.netnsNames,
		cgroups:  o.cgroupNames,
		ssNames:  o.display.ssNames,
	}
	format := "text"
	if o.json {
		format = "json"
	}
	out := newOutput(format, w, view{ssNames: o.display.ssNames})
	var hostNames *names
	if o.kinds.resolve {
		var err error
		if hostNames, err = newNames(); err != nil {
			return err
		}
	}
	var l *lister
	if o.processes || o.kinds.threads {
		l = newLister(ctx, out, tOpts)
		l.names, l.peers, l.threads = hostNames, len(q.UnixTypes) > 0, o.kinds.threads
	}
	write := func(batch []inspect.Socket) error {
		o.heap.check()
		if l != nil {
			return l.write(batch)
		}
		return out.sockets(batch, withNames(ctx, tOpts, hostNames, batch))
	}

	var killErr, listErr, err error
	killNote := ""
	if all, ok := src.(*allNetNSSource); ok && o.kill {
		killNote, killErr, err = all.kill(ctx, q, write)
	} else if o.kill {
		killNote, killErr, err = kill(ctx, nsFD, q, write)
	} else {
		// Sockets are written batch by batch as the kernel lists them,
		// so a listing of any size holds one batch.
		err = inspect.Each(ctx, src, q, write)
		// A dump the kernel kept interrupting still listed every socket
		// that lived through it: they are printed, then the error.
		if errors.Is(err, inspect.ErrIncomplete) {
			listErr, err = err, nil
		}
	}
	if err != nil {
		return err
	}
	if l != nil {
		if err := l.finish(); err != nil {
			return err
		}
	}
	if err := out.endList(tOpts); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// What went wrong and what is worth knowing go in one line.
	var notes []string
	if n := l.skipped(); n > 0 {
		notes = append(notes, skippedNote(n, os.Geteuid() == 0))
	}
	if killNote != "" {
		notes = append(notes, "ls: -K: "+killNote)
	}
	err = killErr
	if listErr != nil {
		err = fmt.Errorf("ls: the listing may be incomplete: %w", listErr)
	}
	switch {
	case len(notes) == 0:
	case err != nil:
		err = fmt.Errorf("%w (%s)", err, strings.Join(notes, "; "))
	default:
		fmt.Fprintf(stderr, "sockstate: %s\n", strings.Join(notes, "; "))
	}
	return err
}

// skippedNote says how many processes -p could not read, and what would
// help. They are counted host-wide: a process whose descriptors cannot be
// read cannot be told to hold a socket of the namespace listed or not.
func skippedNote(n int, root bool) string {
	what := "processes"
	if n == 1 {
		what = "process"
	}
	hint := "run as root to see them"
	if root {
		hint = "the kernel denies them even to root"
	}
	return fmt.Sprintf("%d %s on this host could not be read, so the sockets they hold show no users (%s)", n, what, hint)
}

// check rejects combinations of flags that cannot work together.
func (o *lsOptions) check() error {
	if err := o.ns.check("ls"); err != nil {
		return err
	}
	switch {
	case o.allNetNS && (o.ns.name != "" || o.ns.path != ""):
		return usagef("ls: --all-netns lists every namespace and -N or --netns names one; give one")
	case o.kill && o.source == "proc":
		return usagef("ls: -K closes sockets with sock_diag; it cannot use --source proc")
	case o.kill && o.summary:
		return usagef("ls: -K closes sockets and -s only counts them; give one")
	case o.source != "auto" && o.source != "netlink" && o.source != "proc":
		return usagef("ls: --source %q: use auto, netlink or proc", o.source)
	case (o.info || o.memory) && o.source == "proc":
		return usagef("ls: -i and -m come from sock_diag; --source proc has neither")
	case (o.kinds.mptcp || o.kinds.boundInactive) && o.source == "proc":
		return usagef("ls: -M and -B list sockets only sock_diag has; --source proc has neither")
	}
	return nil
}

// killError explains the refusals of SOCK_DESTROY that the user can act on.
func killError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("ls: -K: closing sockets needs CAP_NET_ADMIN in their network namespace (run as root): %w", err)
	case errors.Is(err, errors.ErrUnsupported):
		return fmt.Errorf("ls: -K: this kernel cannot close sockets (it was built without CONFIG_INET_DIAG_DESTROY): %w", err)
	}
	return fmt.Errorf("ls: -K: %w", err)
}

// query turns the flags and the words after them into a Query, as ss
// does: -a selects every state, -l the listening ones, neither the
// connected ones; an explicit state selection replaces all three.
func (o *lsOptions) query(words []string) (inspect.Query, error) {
	states := inspect.DefaultStates
	switch {
	case o.all:
		states = inspect.AllStates
	case o.listening:
		states = inspect.ListeningStates
	}
	words, err := filterWords(o.kinds.filterFile, words)
	if err != nil {
		return inspect.Query{}, err
	}
	q, err := o.sel.query("ls", states, words)
	q.Info, q.Memory = o.info, o.memory
	if err == nil {
		// -K with no kind named closes TCP and UDP sockets only:
		// SOCK_DESTROY closes no unix socket, and a raw socket from
		// /proc has no cookie to name it by.
		err = o.kinds.apply(&q, "ls", !o.kill)
	}
	return q, err
}
