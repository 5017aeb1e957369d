package inspect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// NetlinkSource lists sockets with sock_diag (NETLINK_SOCK_DIAG). The kernel
// applies the state mask, so unwanted sockets never cross into userspace.
type NetlinkSource struct {
	// NetNS is a network namespace file descriptor to query; 0 means the
	// caller's own namespace.
	NetNS int
}

var _ Source = (*NetlinkSource)(nil)

// Sockets dumps the sockets q selects, UDP before TCP and IPv4 before IPv6,
// the order ss prints them in.
func (s *NetlinkSource) Sockets(ctx context.Context, q Query) ([]Socket, error) {
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: s.NetNS})
	if err != nil {
		return nil, fmt.Errorf("inspect: netlink: %w", err)
	}
	defer c.Close()

	var out []Socket
	ext := newExtDecoder(q)
	for _, p := range q.protocols() {
		for _, f := range q.families() {
			req := netlinkdiag.Request{
				Family:   uint8(f),
				Protocol: uint8(p),
				States:   uint32(q.States),
				Ext:      ext.mask,
			}
			// The kernel runs the filter as bytecode; one too long for it
			// is run here instead.
			var match *Filter
			if q.Filter != nil {
				bc, err := q.Filter.Bytecode(f)
				switch {
				case errors.Is(err, netlinkdiag.ErrProgramTooLong):
					match = q.Filter
				case err != nil:
					return out, fmt.Errorf("inspect: %w", err)
				}
				req.Bytecode = bc
			}
			err := c.Dump(ctx, req, func(m *netlinkdiag.Msg) error {
				s := socketFromMsg(p, m)
				if match != nil && !match.Match(&s) {
					return nil
				}
				if err := ext.decode(m, &s); err != nil {
					return err
				}
				out = append(out, s)
				return nil
			})
			if err != nil {
				return out, fmt.Errorf("inspect: netlink %s/%s dump: %w", p, f, err)
			}
		}
	}
	return out, nil
}

// socketFromMsg copies what the model keeps out of m, whose attributes alias
// the receive buffer.
func socketFromMsg(p Protocol, m *netlinkdiag.Msg) Socket {
	return Socket{
		Protocol:    p,
		Family:      familyFromAF(m.Family),
		State:       State(m.State),
		Local:       m.Src,
		Peer:        m.Dst,
		RecvQ:       m.RQueue,
		SendQ:       m.WQueue,
		UID:         m.UID,
		Inode:       uint64(m.Inode),
		Cookie:      m.Cookie,
		IfIndex:     m.IfIndex,
		Timer:       Timer(m.Timer),
		Expires:     time.Duration(m.Expires) * time.Millisecond,
		Retransmits: m.Retrans,
	}
}

func familyFromAF(af uint8) Family {
	if af == unix.AF_INET6 {
		return INet6
	}
	return INet
}
