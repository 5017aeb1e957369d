package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/trace"
)

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
	protos := q.ProtocolsOrDefault()
	if !slices.Contains(protos, inspect.TCP) && !slices.Contains(protos, inspect.UDP) {
		// No destroy group to join: the kernel reports freed TCP and UDP
		// sockets only.
		fmt.Fprintf(stderr, "sockstate: the kernel reports no freed %s sockets, so those that live and die between two polls are missed\n", kindNames(&q, true))
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
	if kinds := kindNames(&q, true); kinds != "" {
		fmt.Fprintf(stderr, "sockstate: the kernel reports no freed %s sockets, so those that live and die between two polls are missed\n", kinds)
	}
	return w, func() { d.Close() }, nil
}
