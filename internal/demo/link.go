package demo

import (
	"fmt"
	"slices"

	"github.com/sockstate/sockstate/inspect"
)

// checkLink returns, for a run across a delayed link (Config.ClientAddr),
// each state that lasts a round trip there and was not observed: the
// sender of a SYN or a FIN waits a round trip for its answer (SYN_SENT,
// FIN_WAIT1, LAST_ACK), the server a round trip for the handshake's last
// ACK (SYN_RECV), long enough for polling to see.
func checkLink(closer Closer, seen map[Role]*progress, n Names) []string {
	closing, other := ServerConn, Client
	if closer == ClientCloses {
		closing, other = Client, ServerConn
	}
	var missed []string
	for _, w := range []struct {
		r  Role
		st inspect.State
	}{{Client, inspect.SynSent}, {ServerConn, inspect.SynRecv}, {closing, inspect.FinWait1}, {other, inspect.LastAck}} {
		if !slices.Contains(seen[w.r].observed, w.st) {
			missed = append(missed, fmt.Sprintf("%s on the %s, which lasts a round trip", n.State(w.st), w.r))
		}
	}
	return missed
}
