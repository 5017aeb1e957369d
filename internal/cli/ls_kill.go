package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/allnetns"
	"github.com/sockstate/sockstate/inspect/sockdiag"
)

// kill closes the sockets q selects in the namespace open at nsFD and
// writes those it closed; killErr is why it could not close them all,
// note what it did to UDP sockets.
func kill(ctx context.Context, nsFD int, q inspect.Query, write func([]inspect.Socket) error) (note string, killErr, err error) {
	nl := &sockdiag.Source{NetNS: nsFD}
	listed, err := nl.Sockets(ctx, q)
	if err != nil {
		return "", nil, err
	}
	closed, err := nl.Destroy(ctx, listed)
	if err != nil && len(closed) == 0 {
		// Nothing was closed (no CAP_NET_ADMIN refuses the first): the
		// error alone, not an empty table's header before it.
		return "", nil, killError(err)
	}
	if n := countUDP(closed); n > 0 {
		note = abortedLine(n)
	}
	return note, killError(err), write(closed)
}

// countUDP counts the UDP sockets of socks.
func countUDP(socks []inspect.Socket) int {
	n := 0
	for i := range socks {
		if socks[i].Protocol == inspect.UDP {
			n++
		}
	}
	return n
}

// abortedLine says what SOCK_DESTROY did to n UDP sockets: the kernel
// aborts them (udp_abort) rather than closing them.
func abortedLine(n int) string {
	what := "UDP sockets were"
	if n == 1 {
		what = "UDP socket was"
	}
	return fmt.Sprintf("%d %s aborted, not closed: their owners' next calls fail with ECONNABORTED, and one bound to a port it named stays bound until its owner closes it", n, what)
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

// kill closes the sockets q selects in every namespace s found (ls -K
// --all-netns), one after the other, each listed and closed through a
// sock_diag socket opened on a thread switched into its namespace
// (SOCK_DESTROY looks the socket up in the namespace of the socket that
// asks), and writes those it closed, tagged with their namespace. A
// namespace gone before it is entered is skipped, one that may not be
// entered is counted for s.report; the first refusal of a kill stops it,
// as in one namespace.
func (s *allNetNSSource) kill(ctx context.Context, q inspect.Query, write func([]inspect.Socket) error) (note string, killErr, err error) {
	udp := 0
	s.stats = allnetns.Stats{}
	for i := range s.found.Namespaces {
		ns := &s.found.Namespaces[i]
		// The kill's own failure (no CAP_NET_ADMIN) is not the
		// namespace's: it is kept apart from what InNamespace says.
		var failed error
		err := allnetns.InNamespace(ns, func(fd int) error {
			_, nsErr, err := kill(ctx, fd, q, func(closed []inspect.Socket) error {
				for j := range closed {
					closed[j].NetNS = ns.Inode
				}
				udp += countUDP(closed)
				return write(closed)
			})
			if err == nil && nsErr != nil {
				killErr = fmt.Errorf("%s: %w", ns.Label(), nsErr)
			}
			failed = err
			return nil
		})
		if failed != nil {
			return "", killErr, failed
		}
		if err := s.stats.Count(err); err != nil {
			return "", killErr, err
		}
		if killErr != nil {
			break
		}
	}
	if udp > 0 {
		note = abortedLine(udp)
	}
	return note, killErr, nil
}
