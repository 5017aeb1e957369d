package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
)

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
