//go:build !linux

package netlinkdiag

import (
	"fmt"
	"runtime"
)

// DialEvents opens a NETLINK_SOCK_DIAG socket that joins multicast groups.
// sock_diag exists on Linux only: elsewhere DialEvents returns an error.
func DialEvents(cfg *Config, groups ...Group) (*EventConn, error) {
	return nil, fmt.Errorf("netlinkdiag: sock_diag events are not available on %s", runtime.GOOS)
}
