// Package cgroups names the cgroup v2 of a socket, as ss --cgroup does,
// and the container it belongs to, without asking a container runtime.
//
// sock_diag(7) reports a full socket's cgroup v2 id (INET_DIAG_CGROUP_ID,
// Linux 5.7, include/uapi/linux/inet_diag.h); the id is the inode number
// of the cgroup's directory on the cgroup2 file system (kernfs on 64-bit
// hosts; Documentation/admin-guide/cgroup-v2.rst), which is mounted where
// /proc/self/mountinfo says: /sys/fs/cgroup on a unified host,
// /sys/fs/cgroup/unified on a hybrid one. Paths walks the mount once and
// maps ids to paths relative to it, as iproute2's lib/cg_map.c does.
// Recognize reads a runtime's container out of such a path.
package cgroups
