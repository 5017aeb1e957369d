package sockdiag

import (
	"context"
	"errors"
	"sync"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"

	"golang.org/x/sys/unix"
)

// AutoSource uses sock_diag and falls back to /proc/net when the kernel
// refuses or lacks it. Once it has fallen back it stays on /proc, so a
// watcher does not retry netlink on every poll.
type AutoSource struct {
	Netlink inspect.Source
	Proc    inspect.Source
	// OnFallback, when set, is called once with the netlink error that
	// caused the fall back.
	OnFallback func(reason error)

	mu       sync.Mutex
	fellBack bool
}

var _ inspect.Source = (*AutoSource)(nil)

// NewAutoSource returns an AutoSource over the default netlink and proc
// sources of the caller's namespace.
func NewAutoSource(onFallback func(reason error)) *AutoSource {
	return &AutoSource{Netlink: &Source{}, Proc: &procsrc.Source{}, OnFallback: onFallback}
}

// Sockets asks netlink first and /proc when netlink is unavailable.
func (s *AutoSource) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	if !s.hasFallenBack() {
		socks, err := s.Netlink.Sockets(ctx, q)
		if !NetlinkUnavailable(err) {
			return socks, err
		}
		s.fallBack(err)
	}
	return s.Proc.Sockets(ctx, q)
}

var _ inspect.Streamer = (*AutoSource)(nil)

// Each lists in batches as Sockets lists, with the netlink source's Each
// while it has not fallen back; it falls back to /proc only if netlink
// failed before handing over any socket.
func (s *AutoSource) Each(ctx context.Context, q inspect.Query, fn func([]inspect.Socket) error) error {
	if !s.hasFallenBack() {
		handed := false
		err := inspect.Each(ctx, s.Netlink, q, func(batch []inspect.Socket) error {
			handed = true
			return fn(batch)
		})
		if handed || !NetlinkUnavailable(err) {
			return err
		}
		s.fallBack(err)
	}
	return inspect.Each(ctx, s.Proc, q, fn)
}

// hasFallenBack reports whether s has switched to /proc.
func (s *AutoSource) hasFallenBack() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fellBack
}

// fallBack switches to /proc for good, telling OnFallback the first time.
func (s *AutoSource) fallBack(reason error) {
	s.mu.Lock()
	first := !s.fellBack
	s.fellBack = true
	s.mu.Unlock()
	if first && s.OnFallback != nil {
		s.OnFallback(reason)
	}
}

// netlinkUnavailable reports whether err means sock_diag cannot serve this
// query at all (no NETLINK_SOCK_DIAG, no inet_diag module for the protocol,
// or a sandbox that forbids the socket), as opposed to a failure of one dump.
func NetlinkUnavailable(err error) bool {
	for _, errno := range []unix.Errno{
		unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT, unix.ENOENT,
		unix.EOPNOTSUPP, unix.EPERM, unix.EACCES,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
