package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/netns"
)

const lsUsage = `usage: sockstate ls [FLAGS] [state NAME] [exclude NAME] [EXPRESSION]

List sockets like ss. With neither -a nor -l: connected sockets.

  -t, --tcp          TCP sockets
  -u, --udp          UDP sockets (with neither -t nor -u: both)
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
                     and port names from /etc/services
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
  -K, --kill         close the sockets listed, with sock_diag's SOCK_DESTROY, and
                     print them; needs CAP_NET_ADMIN and a filter EXPRESSION
      --source S     auto (sock_diag, falling back to /proc), netlink or proc
  -F, --filter FILE  read the state selection and EXPRESSION from FILE (-:
                     standard input), # starting a comment
  -O, --oneline      -m's and -i's details on the socket's line
  -h, --help         this text

-K refuses to run without an EXPRESSION, as it would close every socket
listed; the long --all (not -a) says that is what is meant.

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
	netName string
	netPath string
}

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts := lsOptions{source: "auto"}
	help := false
	specs := append(append(opts.sel.specs(), opts.kinds.specs()...), []flagSpec{
		{short: 'a', set: boolFlag(&opts.all)},
		{long: "all", set: func(string) error { opts.all, opts.allLong = true, true; return nil }},
		{short: 'l', long: "listening", set: boolFlag(&opts.listening)},
		{short: 'n', long: "numeric", set: func(string) error { return nil }},
		{short: 'H', long: "no-header", set: boolFlag(&opts.noHeader)},
		{short: 'e', long: "extended", set: boolFlag(&opts.extended)},
		{short: 'o', long: "options", set: boolFlag(&opts.timers)},
		{short: 'p', long: "processes", set: boolFlag(&opts.processes)},
		{short: 'm', long: "memory", set: boolFlag(&opts.memory)},
		{short: 'i', long: "info", set: boolFlag(&opts.info)},
		{short: 's', long: "summary", set: boolFlag(&opts.summary)},
		{short: 'j', long: "json", set: boolFlag(&opts.json)},
		{short: 'N', long: "net", hasValue: true, set: func(v string) error { opts.netName = v; return nil }},
		{long: "netns", hasValue: true, set: func(v string) error { opts.netPath = v; return nil }},
		{short: 'K', long: "kill", set: boolFlag(&opts.kill)},
		{long: "source", hasValue: true, set: func(v string) error { opts.source = v; return nil }},
		{short: 'h', long: "help", set: boolFlag(&help)},
	}...)
	words, err := parseFlags("ls", args, specs)
	if err != nil {
		return err
	}
	if help {
		fmt.Fprint(stdout, lsUsage)
		return errHelp
	}
	if err := opts.check(); err != nil {
		return err
	}
	// A listing is built once, written and dropped, and at 100,000 sockets
	// the collector's cycles while it grows cost a tenth of the run: it
	// runs only if the heap nears a gigabyte.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(1 << 30))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	q, err := opts.query(words)
	if err != nil {
		return err
	}
	if opts.kill && q.Filter == nil && !opts.allLong {
		return usagef("ls: -K closes every socket listed; give a filter expression such as 'dport = :8080' to choose them, or --all to close them all")
	}
	nsFile, err := opts.openNetNS()
	if err != nil {
		return err
	}
	nsFD := 0
	if nsFile != nil {
		defer nsFile.Close()
		nsFD = int(nsFile.Fd())
	}
	src, err := newSource(opts.source, stderr, nsFD)
	if err != nil {
		return err
	}

	w := bufio.NewWriterSize(stdout, 64<<10)
	if opts.summary {
		sum, err := procsrc.ReadSummary(ctx, src, nsFD)
		if err != nil {
			return err
		}
		if opts.json {
			err = writeSummaryJSON(w, &sum)
		} else {
			err = writeSummary(w, &sum)
		}
		if err != nil {
			return err
		}
		return w.Flush()
	}

	// -p reads every process's descriptors while the kernel lists the
	// sockets: the two are independent and each takes the kernel a while.
	var procTable chan processTableResult
	if opts.processes {
		procTable = make(chan processTableResult, 1)
		go func() {
			t, err := owners.ReadProcessTable(ctx, "")
			procTable <- processTableResult{t, err}
		}()
	}

	tOpts := tableOptions{
		netid:    netids(&q) != 1,
		state:    q.States&(q.States-1) != 0,
		header:   !opts.noHeader,
		extended: opts.extended,
		timers:   opts.timers,
		info:     opts.info,
		memory:   opts.memory,
		oneline:  opts.kinds.oneline,
	}
	format := "text"
	if opts.json {
		format = "json"
	}
	out := newOutput(format, w, false, false)
	var hostNames *names
	if opts.kinds.resolve {
		if hostNames, err = newNames(); err != nil {
			return err
		}
	}
	var table *owners.ProcessTable
	// For -p, batches that come before the process table is read are
	// kept, copied, rather than waited on, so that the kernel goes on
	// listing meanwhile.
	var pending [][]inspect.Socket
	withTable := func(wait bool) error {
		if table != nil {
			return nil
		}
		var r processTableResult
		if wait {
			r = <-procTable
		} else {
			select {
			case r = <-procTable:
			default:
				return nil
			}
		}
		if r.err != nil {
			return r.err
		}
		table = r.table
		for _, p := range pending {
			o := withNames(ctx, tOpts, hostNames, p)
			setOwners(&o, table, p, &q)
			if err := out.sockets(p, o); err != nil {
				return err
			}
		}
		pending = nil
		return nil
	}
	// write writes a batch of sockets, with their processes for -p.
	write := func(batch []inspect.Socket) error {
		o := withNames(ctx, tOpts, hostNames, batch)
		if procTable != nil {
			if err := withTable(false); err != nil {
				return err
			}
			if table == nil {
				pending = append(pending, cloneSockets(batch))
				return nil
			}
			setOwners(&o, table, batch, &q)
		}
		return out.sockets(batch, o)
	}

	var killErr, listErr error
	if opts.kill {
		nl := &sockdiag.Source{NetNS: nsFD}
		var listed, closed []inspect.Socket
		if listed, err = nl.Sockets(ctx, q); err != nil {
			return err
		}
		closed, err = nl.Destroy(ctx, listed)
		killErr = killError(err)
		err = write(closed)
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
	if len(pending) > 0 {
		if err := withTable(true); err != nil {
			return err
		}
	}
	if err := out.endList(tOpts); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if table != nil && table.Skipped > 0 {
		fmt.Fprintln(stderr, skippedLine(table.Skipped, os.Geteuid() == 0))
	}
	if listErr != nil {
		return fmt.Errorf("ls: the listing may be incomplete: %w", listErr)
	}
	return killErr
}

// cloneSockets copies socks and the records they point to, which the
// netlink source reuses once a batch is handed over.
func cloneSockets(socks []inspect.Socket) []inspect.Socket {
	c := slices.Clone(socks)
	for i := range c {
		if in := c[i].Info; in != nil {
			info := *in
			if info.BBR != nil {
				bbr := *info.BBR
				info.BBR = &bbr
			}
			c[i].Info = &info
		}
		if m := c[i].Memory; m != nil {
			mem := *m
			c[i].Memory = &mem
		}
	}
	return c
}

type processTableResult struct {
	table *owners.ProcessTable
	err   error
}

// skippedLine is the one line that says how many processes -p could not
// read, and what would help.
func skippedLine(n int, root bool) string {
	what := "processes"
	if n == 1 {
		what = "process"
	}
	hint := "run as root to see them"
	if root {
		hint = "the kernel denies them even to root"
	}
	return fmt.Sprintf("sockstate: %d %s could not be read (%s)", n, what, hint)
}

// check rejects combinations of flags that cannot work together.
func (o *lsOptions) check() error {
	switch {
	case o.netName != "" && o.netPath != "":
		return usagef("ls: -N and --netns both name a namespace; give one")
	case o.kill && o.source == "proc":
		return usagef("ls: -K closes sockets with sock_diag; it cannot use --source proc")
	case o.kill && o.summary:
		return usagef("ls: -K closes sockets and -s only counts them; give one")
	case (o.info || o.memory) && o.source == "proc":
		return usagef("ls: -i and -m come from sock_diag; --source proc has neither")
	case (o.kinds.mptcp || o.kinds.boundInactive) && o.source == "proc":
		return usagef("ls: -M and -B list sockets only sock_diag has; --source proc has neither")
	}
	return nil
}

// openNetNS opens the namespace -N or --netns names; nil for neither. A
// namespace that does not exist, or a path that is not one, is a usage
// error; a namespace that may not be opened is a run-time one.
func (o *lsOptions) openNetNS() (*os.File, error) {
	var path, what string
	switch {
	case o.netName != "":
		name := o.netName
		if strings.ContainsRune(name, '/') || name == "." || name == ".." {
			return nil, usagef("ls: netns %q: a namespace name has no slash; use --netns for a path", name)
		}
		path, what = netns.Dir+"/"+name, fmt.Sprintf("netns %q", name)
	case o.netPath != "":
		path, what = o.netPath, fmt.Sprintf("--netns %q", o.netPath)
	default:
		return nil, nil
	}
	f, err := netns.Open(path)
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, fs.ErrNotExist) && o.netName != "":
		return nil, usagef("ls: %s: no such namespace under %s (see 'ip netns list')", what, netns.Dir)
	case errors.Is(err, fs.ErrNotExist):
		return nil, usagef("ls: %s: no such file", what)
	case errors.Is(err, netns.ErrNotNetNS):
		return nil, usagef("ls: %s: %s is not a network namespace", what, path)
	}
	return nil, fmt.Errorf("ls: %s: %w", what, err)
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
		err = o.kinds.apply(&q)
	}
	return q, err
}

// newSource returns the source --source names, for the namespace open at
// nsFD (0: the caller's); the automatic one says on stderr, once, that it
// fell back to /proc and why. Tests replace it to script the kernel's
// failures.
var newSource = func(name string, stderr io.Writer, nsFD int) (inspect.Source, error) {
	switch name {
	case "auto":
		return &sockdiag.AutoSource{
			Netlink: &sockdiag.Source{NetNS: nsFD},
			Proc:    &procsrc.Source{NetNS: nsFD},
			OnFallback: func(reason error) {
				fmt.Fprintf(stderr, "sockstate: sock_diag unavailable, reading /proc/net instead: %v\n", reason)
			},
		}, nil
	case "netlink":
		return netlinkOnly{&sockdiag.Source{NetNS: nsFD}}, nil
	case "proc":
		return &procsrc.Source{NetNS: nsFD}, nil
	}
	return nil, usagef("--source %q: use auto, netlink or proc", name)
}

// netlinkOnly is the netlink source that --source netlink asks for: when
// sock_diag is unavailable it fails, saying what would work instead. It
// streams and polls as the source it wraps does.
type netlinkOnly struct{ inspect.Source }

var (
	_ inspect.Wrapper  = netlinkOnly{}
	_ inspect.Streamer = netlinkOnly{}
	_ inspect.Poller   = netlinkOnly{}
)

func (s netlinkOnly) Unwrap() inspect.Source { return s.Source }

func (s netlinkOnly) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	socks, err := s.Source.Sockets(ctx, q)
	return socks, withProcHint(err)
}

func (s netlinkOnly) Each(ctx context.Context, q inspect.Query, fn func([]inspect.Socket) error) error {
	return withProcHint(inspect.Each(ctx, s.Source, q, fn))
}

func (s netlinkOnly) NewPoll() inspect.Poll { return netlinkOnlyPoll{inspect.NewPoll(s.Source)} }

type netlinkOnlyPoll struct{ p inspect.Poll }

func (p netlinkOnlyPoll) Poll(ctx context.Context, q inspect.Query, dst []inspect.Socket) ([]inspect.Socket, error) {
	socks, err := p.p.Poll(ctx, q, dst)
	return socks, withProcHint(err)
}

func (p netlinkOnlyPoll) Close() { p.p.Close() }

// withProcHint adds to an error that says sock_diag is unavailable what
// would work instead.
func withProcHint(err error) error {
	if sockdiag.NetlinkUnavailable(err) {
		return fmt.Errorf("%w; --source proc reads /proc/net instead", err)
	}
	return err
}
