package inspect

import (
	"context"
	"time"
)

// InfoDestroySource is a DestroySource that can also report each freed
// TCP socket with its tcp_info (sockdiag.DestroySubscription): a Watcher
// then gives the gone events of destroy reports what the connection
// carried and, for a connect, why it failed.
type InfoDestroySource interface {
	DestroySource
	// DestroyedInfo is Destroyed with Socket.Info set for TCP sockets,
	// valid only until fn returns.
	DestroyedInfo(ctx context.Context, fn func(*Socket)) error
}

// ConnectCause returns what s's tcp_info, as the kernel reported it when it
// freed s, proves of a TCP connect that never completed its handshake (no
// TCP option agreed, no byte acknowledged): CauseRefused when a segment
// (the RST) came back, CauseTimeout when none did and the SYN was
// retransmitted. A connect abandoned (closed) after its SYN was
// retransmitted counts as timed out: the report cannot tell it from one
// the kernel gave up. CauseUnknown for anything else, and without Info.
func ConnectCause(s *Socket) Cause {
	i := s.Info
	if s.Protocol != TCP || i == nil || i.Options != 0 || i.BytesAcked != 0 {
		return CauseUnknown
	}
	switch {
	case i.SegsIn > 0:
		return CauseRefused
	case i.TotalRetrans > 0:
		return CauseTimeout
	}
	return CauseUnknown
}

// endOf is what a destroy report tells of a socket's end beyond its
// state: the bytes its tcp_info counted and the cause it proves.
type endOf struct {
	bytes *Bytes
	cause Cause
}

// endFrom reads s's end from its Info, which it does not keep.
func endFrom(s *Socket) endOf {
	if s.Info == nil {
		return endOf{}
	}
	return endOf{bytes: &Bytes{Acked: s.Info.BytesAcked, Received: s.Info.BytesReceived}, cause: ConnectCause(s)}
}

// withEnd gives e, an event of the socket d reports freed, what the report
// tells of its end: bytes on gone, a cause on gone and on a move into
// CLOSE.
func withEnd(e WatchEvent, d *destroyedSocket) WatchEvent {
	if e.Kind == EventGone {
		e.Bytes = d.end.bytes
	}
	if e.Kind == EventGone || e.To == Close {
		e.Cause = d.end.cause
	}
	return e
}

// seenFor returns how long the watch has seen the socket under k at now,
// from the first poll that showed it, and forgets it: 0 if no poll did.
func (t *tracker) seenFor(k Key, now time.Time) time.Duration {
	first, ok := t.seen[k]
	if !ok {
		return 0
	}
	delete(t.seen, k)
	return max(now.Sub(first), 0)
}
