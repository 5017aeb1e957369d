package inspect

import "fmt"

// Cause is why a connection ended, as far as its source can tell: the
// trace source reads it from the kernel (the tracepoints
// tcp:tcp_receive_reset and tcp:tcp_send_reset, and the socket's sk_err
// at its move to CLOSE); polling sees only what is left.
type Cause uint8

// The causes. A socket's move into CLOSE, and its gone event, carry one.
const (
	// CauseUnknown: the source cannot tell.
	CauseUnknown Cause = iota
	// CauseClosed: an orderly end (FINs both ways, a listener closed,
	// a socket that never connected).
	CauseClosed
	// CauseResetReceived: the peer reset the connection (ECONNRESET,
	// or EPIPE after the peer's FIN).
	CauseResetReceived
	// CauseResetSent: this end reset it: closed with SO_LINGER {1, 0}
	// or with unread data, or a listener closed with it in its accept
	// queue; the kernel sent an RST.
	CauseResetSent
	// CauseRefused: a connect answered with an RST (SYN_SENT -> CLOSE,
	// ECONNREFUSED).
	CauseRefused
	// CauseTimeout: the kernel gave up (ETIMEDOUT): SYN retries,
	// retransmissions or keepalive probes unanswered.
	CauseTimeout
	// CauseAborted: ended without an RST from either end and without
	// an orderly close: a connect abandoned by close(2) in SYN_SENT, a
	// socket killed with sock_diag's SOCK_DESTROY (ss -K, ECONNABORTED),
	// or another error the kernel ended it with (an ICMP unreachable
	// during the handshake: EHOSTUNREACH, ENETUNREACH).
	CauseAborted
)

var causeNames = [...]string{
	CauseUnknown:       "unknown",
	CauseClosed:        "closed",
	CauseResetReceived: "reset-received",
	CauseResetSent:     "reset-sent",
	CauseRefused:       "refused",
	CauseTimeout:       "timeout",
	CauseAborted:       "aborted",
}

// String returns the cause's name as sockstate prints it: closed,
// reset-received, reset-sent, refused, timeout, aborted; unknown for
// CauseUnknown, unknown(N) past the known ones.
func (c Cause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("unknown(%d)", uint8(c))
}

// Bytes is what a TCP connection carried, as tcp_info counts it (RFC
// 4898): the bytes the peer acknowledged and the bytes received in order.
type Bytes struct {
	Acked, Received uint64
}
