package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netlinkdiag"
)

const lsUsage = `usage: sockstate ls [FLAGS] [state NAME] [exclude NAME] [EXPRESSION]

List sockets like ss. With neither -a nor -l: connected sockets.

  -t, --tcp          TCP sockets
  -u, --udp          UDP sockets (with neither -t nor -u: both)
  -a, --all          listening and connected sockets
  -l, --listening    listening sockets only (and unconnected UDP)
  -4, --ipv4         IPv4 only
  -6, --ipv6         IPv6 only
  -n, --numeric      numeric output (always; accepted for ss compatibility)
  -H, --no-header    no header line
  -e, --extended     add uid, inode and cookie
  -j, --json         one JSON array, an object per socket
      --source S     auto (sock_diag, falling back to /proc), netlink or proc
  -h, --help         this text

States: established syn-sent syn-recv fin-wait-1 fin-wait-2 time-wait closed
close-wait last-ack listening closing, and the groups all connected
synchronized bucket big.
`

type lsOptions struct {
	sel                      selection
	all, listening           bool
	noHeader, extended, json bool
	source                   string
}

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts := lsOptions{source: "auto"}
	help := false
	specs := append(opts.sel.specs(),
		flagSpec{short: 'a', long: "all", set: boolFlag(&opts.all)},
		flagSpec{short: 'l', long: "listening", set: boolFlag(&opts.listening)},
	)
	specs = append(specs, []flagSpec{
		{short: 'n', long: "numeric", set: func(string) error { return nil }},
		{short: 'H', long: "no-header", set: boolFlag(&opts.noHeader)},
		{short: 'e', long: "extended", set: boolFlag(&opts.extended)},
		{short: 'j', long: "json", set: boolFlag(&opts.json)},
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
	q, err := opts.query(words)
	if err != nil {
		return err
	}
	src, err := newSource(opts.source, stderr)
	if err != nil {
		return err
	}
	socks, listErr := src.Sockets(ctx, q)
	// A dump the kernel kept interrupting still listed every socket that
	// lived through it: print them, then the error.
	if listErr != nil && !errors.Is(listErr, netlinkdiag.ErrDumpInterrupted) {
		return listErr
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	if opts.json {
		err = writeJSON(w, socks)
	} else {
		err = writeTable(w, socks, tableOptions{
			netid:    len(q.Protocols) != 1,
			state:    q.States&(q.States-1) != 0,
			header:   !opts.noHeader,
			extended: opts.extended,
		})
	}
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if listErr != nil {
		return fmt.Errorf("ls: the listing may be incomplete: %w", listErr)
	}
	return nil
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
	return o.sel.query("ls", states, words)
}

// newSource returns the source --source names; the automatic one says on
// stderr, once, that it fell back to /proc and why. Tests replace it to
// script the kernel's failures.
var newSource = func(name string, stderr io.Writer) (inspect.Source, error) {
	switch name {
	case "auto":
		return inspect.NewAutoSource(func(reason error) {
			fmt.Fprintf(stderr, "sockstate: sock_diag unavailable, reading /proc/net instead: %v\n", reason)
		}), nil
	case "netlink":
		return netlinkOnly{&inspect.NetlinkSource{}}, nil
	case "proc":
		return &inspect.ProcSource{}, nil
	}
	return nil, usagef("--source %q: use auto, netlink or proc", name)
}

// netlinkOnly is the netlink source that --source netlink asks for: when
// sock_diag is unavailable it fails, saying what would work instead.
type netlinkOnly struct{ inspect.Source }

func (s netlinkOnly) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	socks, err := s.Source.Sockets(ctx, q)
	if inspect.NetlinkUnavailable(err) {
		return socks, fmt.Errorf("%w; --source proc reads /proc/net instead", err)
	}
	return socks, err
}
