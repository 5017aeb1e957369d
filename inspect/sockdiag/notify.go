package sockdiag

import (
	"context"
	"fmt"

	"github.com/sockstate/sockstate/inspect"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// DestroySubscription is a DestroySource over sock_diag's destroy
// multicast groups: the kernel reports every TCP and UDP socket it frees,
// with its cookie, so it pairs with the netlink source.
type DestroySubscription struct {
	c *netlinkdiag.EventConn
}

var _ inspect.DestroySource = (*DestroySubscription)(nil)

// SubscribeDestroyed joins the destroy groups of q's protocols and
// families in the network namespace open at netns (0: the caller's).
// Joining takes CAP_NET_ADMIN; without it the error wraps unix.EPERM.
func SubscribeDestroyed(netns int, q inspect.Query) (*DestroySubscription, error) {
	var groups []netlinkdiag.Group
	for _, p := range q.ProtocolsOrDefault() {
		for _, f := range q.FamiliesOrDefault() {
			switch {
			case p == inspect.TCP && f == inspect.INet:
				groups = append(groups, netlinkdiag.GroupTCP4Destroy)
			case p == inspect.TCP && f == inspect.INet6:
				groups = append(groups, netlinkdiag.GroupTCP6Destroy)
			case p == inspect.UDP && f == inspect.INet:
				groups = append(groups, netlinkdiag.GroupUDP4Destroy)
			case p == inspect.UDP && f == inspect.INet6:
				groups = append(groups, netlinkdiag.GroupUDP6Destroy)
			}
		}
	}
	c, err := netlinkdiag.DialEvents(&netlinkdiag.Config{NetNS: netns}, groups...)
	if err != nil {
		return nil, fmt.Errorf("inspect: destroy notifications: %w", err)
	}
	return &DestroySubscription{c: c}, nil
}

// Destroyed waits for destroy reports and calls fn with each socket, in
// the state the kernel freed it in (CLOSE for TCP). Reports without a
// protocol (INET_DIAG_PROTOCOL) are skipped. A
// loss wraps netlinkdiag.ErrEventsLost and unix.ENOBUFS.
func (d *DestroySubscription) Destroyed(ctx context.Context, fn func(*inspect.Socket)) error {
	err := d.c.Receive(ctx, func(e *netlinkdiag.Event) error {
		if e.Protocol == 0 {
			return nil
		}
		s := socketFromMsg(inspect.Protocol(e.Protocol), &e.Msg)
		fn(&s)
		return nil
	})
	if err != nil {
		return fmt.Errorf("inspect: destroy notifications: %w", err)
	}
	return nil
}

// Close leaves the groups.
func (d *DestroySubscription) Close() error {
	return d.c.Close()
}
