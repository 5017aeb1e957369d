// Package allnetns lists sockets of every network namespace on the host.
//
// Discover finds the namespaces: those of every process (/proc/PID/ns/net,
// one per distinct inode), those held only by a bind mount, found in
// /run/netns (ip-netns(8)) and in every mount namespace's mountinfo (a
// mount of file system nsfs whose root is net:[INODE], proc(5)), and names
// them by /run/netns where a name is known, else by the container whose
// processes hold them (their cgroup path, inspect/cgroups). Each lists each namespace with
// a source opened on a thread switched into it (setns(2); sock_diag(7)
// lists the namespace its socket was opened in), tagging every socket
// with its namespace's inode. A namespace that is gone by the time it is
// entered is skipped; one that may not be entered is counted.
package allnetns
