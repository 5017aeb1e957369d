//go:build !linux

package cli

import (
	"fmt"
	"runtime"
)

func dropPrivileges(string) error {
	return fmt.Errorf("dropping privileges is not implemented on %s", runtime.GOOS)
}
