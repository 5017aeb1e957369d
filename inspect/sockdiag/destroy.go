package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/sockstate/sockstate/inspect"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// ErrNoCookie is wrapped by Destroy's error for a socket without a cookie,
// such as one from the proc source: without it the kernel could close
// another socket that took the same addresses.
var ErrNoCookie = errors.New("socket has no cookie")

// Destroy closes socks, which must come from a Source listing of the
// same namespace, one by one with sock_diag's SOCK_DESTROY, and returns
// those it closed. Each request names the socket by its addresses,
// interface and cookie, so the kernel closes that very socket or none: a
// socket that is gone by then (ENOENT) is skipped, and a new socket on the
// same addresses is left alone.
//
// Closing a TCP socket aborts it: the kernel sends the peer a reset and
// the owner's next call fails with ECONNABORTED. A refusal that holds for
// every socket stops Destroy at once: EPERM (os.ErrPermission) without
// CAP_NET_ADMIN, EOPNOTSUPP when the kernel lacks CONFIG_INET_DIAG_DESTROY.
// A refusal of one socket (the kernel answers EINVAL for an MPTCP
// listener) does not stop the others; the error then counts the refused
// sockets and wraps the first refusal.
func (s *Source) Destroy(ctx context.Context, socks []inspect.Socket) ([]inspect.Socket, error) {
	for i := range socks {
		if socks[i].Cookie == 0 {
			return nil, fmt.Errorf("inspect: destroy %s %v %v: %w", socks[i].Protocol, socks[i].Local, socks[i].Peer, ErrNoCookie)
		}
	}
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: s.NetNS})
	if err != nil {
		return nil, fmt.Errorf("inspect: netlink: %w", err)
	}
	defer c.Close()

	var closed []inspect.Socket
	var first error
	refused := 0
	for i := range socks {
		so := &socks[i]
		req := netlinkdiag.Request{Family: uint8(so.Family), Protocol: uint16(so.Protocol)}
		if so.Protocol == inspect.Raw {
			req.RawProtocol = uint8(so.Local.Port())
		}
		id := netlinkdiag.SockID{Src: so.Local, Dst: so.Peer, IfIndex: so.IfIndex, Cookie: so.Cookie}
		err := c.Destroy(ctx, req, id)
		switch {
		case err == nil:
			closed = append(closed, *so)
		case errors.Is(err, syscall.ENOENT):
		case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EOPNOTSUPP), ctx.Err() != nil:
			return closed, fmt.Errorf("inspect: destroy %s %v %v: %w", so.Protocol, so.Local, so.Peer, err)
		default:
			refused++
			if first == nil {
				first = fmt.Errorf("%s %v %v: %w", so.Protocol, so.Local, so.Peer, err)
			}
		}
	}
	if refused > 0 {
		return closed, fmt.Errorf("inspect: destroy: the kernel refused %d of %d sockets, the first %w", refused, len(socks), first)
	}
	return closed, nil
}
