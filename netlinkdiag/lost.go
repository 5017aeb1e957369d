package netlinkdiag

import "fmt"

// LostError is the error Receive returns when the kernel dropped destroy
// reports because the receive buffer was full. N counts them: the kernel
// counts every message it could not queue in the socket's drop counter
// (netlink_overrun adds one to sk_drops, which SO_MEMINFO reports as
// SK_MEMINFO_DROPS and /proc/net/netlink as Drops), and N is that counter
// less what earlier LostErrors reported. N is 0 when the count could not be
// read. It wraps ErrEventsLost and Err.
type LostError struct {
	N uint64
	// Err is the receive's error that said so (ENOBUFS), or nil when the
	// drop counter did.
	Err error
}

func (e *LostError) Error() string {
	s := "netlinkdiag: receive events: " + ErrEventsLost.Error()
	if e.N > 0 {
		s += fmt.Sprintf(", %d dropped by the kernel", e.N)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *LostError) Unwrap() []error { return []error{ErrEventsLost, e.Err} }

// LostReports returns N, so that a watcher that knows nothing of
// netlinkdiag can read the count.
func (e *LostError) LostReports() uint64 { return e.N }

// dropCounter is a transport whose socket's drop counter can be read.
type dropCounter interface {
	// drops returns the socket's SK_MEMINFO_DROPS.
	drops() (uint32, error)
}

// lost returns the LostError for a loss noticed by err (an ENOBUFS, or
// nil when the drop counter showed it), counting the drops since the
// last one reported; ok is false when no drop is known and err is nil.
func (c *EventConn) lost(err error) (lostErr *LostError, ok bool) {
	dc, counts := c.t.(dropCounter)
	if !counts {
		return &LostError{Err: err}, err != nil
	}
	n, dropErr := dc.drops()
	if dropErr != nil {
		return &LostError{Err: err}, err != nil
	}
	// The kernel's counter is an atomic_t: the difference is taken
	// modulo 2^32, so it survives the counter's wrapping.
	diff := uint64(n - c.reportedDrops)
	c.reportedDrops = n
	if diff == 0 && err == nil {
		return nil, false
	}
	c.lossSeen = true
	return &LostError{N: diff, Err: err}, true
}
