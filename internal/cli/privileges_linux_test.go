package cli

import (
	"strconv"
	"syscall"
)

// dropPrivileges switches every thread of the process to user and group
// uid, with no supplementary groups and so no capabilities (Go applies
// setuid(2) and its kin to all threads).
func dropPrivileges(uid string) error {
	n, err := strconv.Atoi(uid)
	if err != nil {
		return err
	}
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setgid(n); err != nil {
		return err
	}
	return syscall.Setuid(n)
}
