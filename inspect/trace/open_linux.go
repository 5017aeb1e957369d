package trace

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// netnsInode returns the nsfs inode number of the namespace open at fd, or
// of the calling thread's namespace for 0: the number the kernel keeps in
// struct net's ns.inum.
func netnsInode(fd int) (uint32, error) {
	var st unix.Stat_t
	if fd == 0 {
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			return 0, fmt.Errorf("trace: own network namespace: %w", err)
		}
	} else if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("trace: network namespace fd %d: %w", fd, err)
	}
	return uint32(st.Ino), nil
}

// Capability numbers from include/uapi/linux/capability.h.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// loadError wraps an error of a step of loading the program. EPERM becomes
// one line that names the capabilities the process lacks.
func loadError(step string, err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) || errno != unix.EPERM {
		return fmt.Errorf("trace: loading the eBPF program: %s: %w", step, err)
	}
	missing := missingCaps()
	if missing == "" && inChildUserNS() {
		return fmt.Errorf("trace: loading the eBPF program was refused: the process's capabilities belong to a child user namespace, and tracing needs CAP_BPF and CAP_PERFMON in the initial one (run as root in the initial user namespace, not under unshare -U or a rootless container): %w", errno)
	}
	if missing == "" {
		return fmt.Errorf("trace: loading the eBPF program was refused although the process has CAP_BPF and CAP_PERFMON (kernel lockdown or a security module): %w", errno)
	}
	return fmt.Errorf("trace: loading the eBPF program needs %s (run as root): %w", missing, errno)
}

// missingCaps names the effective capabilities the process lacks of those
// a tracing program needs: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN which
// covers both. It returns "" if none is missing or it cannot tell.
func missingCaps() string {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return ""
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(capSysAdmin) {
		return ""
	}
	var missing []string
	if !has(capBPF) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capPerfmon) {
		missing = append(missing, "CAP_PERFMON")
	}
	return strings.Join(missing, " and ")
}
