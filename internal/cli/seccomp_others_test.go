//go:build !linux

package cli

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

func denySockDiag(unix.Errno) error {
	return fmt.Errorf("seccomp is not available on %s", runtime.GOOS)
}
