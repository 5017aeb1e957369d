package trace

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// lookupSocket asks sock_diag for the socket with tr's addresses and
// cookie. The time-wait socket inherits the cookie (inet_twsk_alloc); the
// cookie keeps a new connection on the same addresses, whose server end
// may be in TIME_WAIT by the time of the lookup, from being taken for it.
// The kernel generates a socket's cookie on demand; the program asks for
// it at every transition, so it exists before the time-wait socket is
// made, unless the socket's first transition the Tracer saw was its move
// to CLOSE: then no TIME_WAIT is reported.
func lookupSocket(c *netlinkdiag.Conn, tr *Transition) (netlinkdiag.Msg, error) {
	af := uint8(unix.AF_INET)
	if tr.Family == inspect.INet6 {
		af = unix.AF_INET6
	}
	req := netlinkdiag.Request{Family: af, Protocol: unix.IPPROTO_TCP}
	id := netlinkdiag.SockID{Src: tr.Local, Dst: tr.Peer, Cookie: tr.Cookie}
	var msg netlinkdiag.Msg
	err := c.Lookup(context.Background(), req, id, func(m *netlinkdiag.Msg) error {
		msg = *m
		return nil
	})
	return msg, err
}
