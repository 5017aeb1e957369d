// Package owners says which processes hold which sockets: a ProcessTable
// of every process's socket descriptors, joined to a listing by inode
// (ss -p's users:(("comm",pid=N,fd=N))).
//
// It reads the table with a BPF task_file iterator
// (Documentation/bpf/bpf_iterators.rst; Linux 5.11 for bpf_sock_from_file)
// and, where that cannot load, from the /proc/<pid>/fd links
// ("socket:[INODE]", proc(5)).
package owners
