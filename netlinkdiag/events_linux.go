//go:build linux

package netlinkdiag

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// DialEvents opens a NETLINK_SOCK_DIAG socket that joins the groups given
// (at least one), with a receive buffer of EventReadBuffer bytes: it asks
// with SO_RCVBUFFORCE, which root may use past net.core.rmem_max, and
// falls back to SO_RCVBUF, which the kernel caps at rmem_max. cfg may be
// nil. Joining a destroy group without CAP_NET_ADMIN fails with an error
// wrapping unix.EPERM.
func DialEvents(cfg *Config, groups ...Group) (*EventConn, error) {
	return dialEvents(cfg, EventReadBuffer, groups)
}

// dialEvents is DialEvents with the receive buffer's size given, so that
// tests can make one small enough to overflow.
func dialEvents(cfg *Config, readBuffer int, groups []Group) (*EventConn, error) {
	if len(groups) == 0 {
		return nil, errors.New("netlinkdiag: dial events: no group to join")
	}
	var nc netlink.Config
	if cfg != nil {
		nc.NetNS = cfg.NetNS
	}
	nl, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &nc)
	if err != nil {
		return nil, fmt.Errorf("netlinkdiag: dial events: %w", err)
	}
	c, err := joinEvents(nl, groups, readBuffer)
	if err != nil {
		_ = nl.Close()
		return nil, err
	}
	return c, nil
}

func joinEvents(nl *netlink.Conn, groups []Group, readBuffer int) (*EventConn, error) {
	for _, g := range groups {
		if err := nl.JoinGroup(uint32(g)); err != nil {
			return nil, fmt.Errorf("netlinkdiag: join group %d: %w", g, err)
		}
	}
	rc, err := nl.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("netlinkdiag: dial events: %w", err)
	}
	got, err := setReadBuffer(rc, readBuffer)
	if err != nil {
		return nil, err
	}
	return newEventConn(newSockTransport(nl, rc), got), nil
}

// setReadBuffer asks for a receive buffer of n bytes, forcing it where
// the caller may, and returns the size the kernel reports.
func setReadBuffer(rc syscall.RawConn, n int) (int, error) {
	var got int
	var sockErr error
	err := rc.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
		if errors.Is(sockErr, unix.EPERM) {
			sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
		if sockErr != nil {
			return
		}
		got, sockErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	if err == nil {
		err = sockErr
	}
	if err != nil {
		return 0, fmt.Errorf("netlinkdiag: receive buffer of %d bytes: %w", n, err)
	}
	return got, nil
}
