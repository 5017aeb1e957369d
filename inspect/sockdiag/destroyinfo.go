package sockdiag

import (
	"context"
	"fmt"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// DestroyedInfo is Destroyed with each TCP socket's Info: the kernel sends
// the socket's tcp_info in every destroy report
// (inet_diag_handler_get_info), which tells what the connection did
// before its end. Info is valid only until fn returns.
func (d *DestroySubscription) DestroyedInfo(ctx context.Context, fn func(*inspect.Socket)) error {
	var raw netlinkdiag.TCPInfo
	var info inspect.TCPInfo
	err := d.c.Receive(ctx, func(e *netlinkdiag.Event) error {
		if e.Protocol == 0 {
			return nil
		}
		s := socketFromMsg(inspect.Protocol(e.Protocol), &e.Msg)
		ad := netlinkdiag.NewAttrDecoder(e.Attrs)
		for ad.Next() {
			if ad.Type() == netlinkdiag.AttrInfo && s.Protocol == inspect.TCP {
				if err := netlinkdiag.DecodeTCPInfo(ad.Bytes(), &raw); err != nil {
					return fmt.Errorf("socket %v %v: %w", s.Local, s.Peer, err)
				}
				tcpInfoFrom(&raw, &info)
				s.Info = &info
			}
		}
		if err := ad.Err(); err != nil {
			return fmt.Errorf("socket %v %v: %w", s.Local, s.Peer, err)
		}
		fn(&s)
		return nil
	})
	if err != nil {
		return fmt.Errorf("inspect: destroy notifications: %w", err)
	}
	return nil
}
