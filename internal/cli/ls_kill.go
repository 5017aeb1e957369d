package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/sockstate/sockstate/inspect"
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
