package trace

import "golang.org/x/sys/unix"

// procUserInitIno is the inode number of the initial user namespace's
// nsfs file, fixed by the kernel (PROC_USER_INIT_INO,
// include/linux/proc_ns.h).
const procUserInitIno = 0xEFFFFFFD

// inChildUserNS reports whether the process runs in a user namespace other
// than the initial one (unshare -U, a rootless container): its
// capabilities then hold only over that namespace's resources, and loading
// a tracing program needs them in the initial one. It reports false when
// it cannot tell.
func inChildUserNS() bool {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &st); err != nil {
		return false
	}
	return st.Ino != procUserInitIno
}
