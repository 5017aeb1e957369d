// Package sockiter lists the TCP and UDP sockets of every network namespace
// at once, with the kernel's BPF socket iterators (iter/tcp and iter/udp,
// Documentation/bpf/bpf_iterators.rst; net/ipv4/tcp_ipv4.c and udp.c).
//
// A sock_diag dump sees one namespace, and walks the host's whole socket
// hash to find it: listing N namespaces costs N walks. The iterators walk
// the hash once and see every namespace; each record carries the
// namespace's inode (sk->__sk_common.skc_net.net->ns.inum). The programs
// are built in Go with cilium/ebpf's asm and read struct sock through the
// running kernel's BTF: no clang, no compiled-in offsets. They need
// CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN), kernel BTF and Linux 5.9
// (iter/tcp, iter/udp); Open says which is missing.
package sockiter
