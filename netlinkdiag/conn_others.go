//go:build !linux

package netlinkdiag

import (
	"fmt"
	"runtime"
)

// Dial opens a NETLINK_SOCK_DIAG socket. sock_diag exists on Linux only:
// elsewhere Dial returns an error.
func Dial(cfg *Config) (*Conn, error) {
	return nil, fmt.Errorf("netlinkdiag: sock_diag is not available on %s", runtime.GOOS)
}
