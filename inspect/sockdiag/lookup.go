package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/sockstate/sockstate/inspect"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// Lookup asks the kernel for the one socket of protocol p with the local
// and peer addresses given, and reports whether there is one; a listener
// is looked up with the zero peer. It is a sock_diag request without
// NLM_F_DUMP (inet_diag_find_one_icsk in net/ipv4/inet_diag.c): the kernel
// finds the socket through its hash tables, as for an arriving packet,
// where Sockets walks them whole, so its cost does not grow with the
// number of sockets in the namespace.
//
// As for a packet, the socket found may not be the one meant: a listener
// on the wildcard address answers for a local address no listener has, and
// any listener of a SO_REUSEPORT group for the group. A caller that knows
// the socket's inode compares it.
func (s *Source) Lookup(ctx context.Context, p inspect.Protocol, local, peer netip.AddrPort) (inspect.Socket, bool, error) {
	if !local.IsValid() {
		return inspect.Socket{}, false, fmt.Errorf("inspect: netlink %s lookup: no local address", p)
	}
	f := inspect.INet6
	if local.Addr().Is4() {
		f = inspect.INet
	}
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: s.NetNS})
	if err != nil {
		return inspect.Socket{}, false, fmt.Errorf("inspect: netlink: %w", err)
	}
	defer c.Close()

	var found inspect.Socket
	req := netlinkdiag.Request{Family: uint8(f), Protocol: uint16(p)}
	err = c.Lookup(ctx, req, netlinkdiag.SockID{Src: local, Dst: peer}, func(m *netlinkdiag.Msg) error {
		found = socketFromMsg(p, m)
		return nil
	})
	switch {
	case errors.Is(err, unix.ENOENT):
		return inspect.Socket{}, false, nil
	case err != nil:
		return inspect.Socket{}, false, fmt.Errorf("inspect: netlink %s lookup of %v -> %v: %w", p, local, peer, err)
	}
	return found, true, nil
}
