// Package procnet parses the kernel's socket tables /proc/net/tcp, tcp6, udp
// and udp6 into Records, /proc/net/unix into UnixRecords (the format is on
// UnixRecord), the socket counters of /proc/net/sockstat and sockstat6
// into a Sockstat, the protocol counters of /proc/net/netstat and snmp
// into a Netstat, and net.ipv4.ip_local_port_range. It knows the file
// formats only; turning them
// into sockstate's socket model is the inspect package's job.
//
// The format is described in proc(5) (/proc/net/tcp, /proc/net/udp) and in
// the kernel's Documentation/networking/proc_net_tcp.rst; the source of truth
// is the seq_printf in get_tcp4_sock (net/ipv4/tcp_ipv4.c):
//
//	"%4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08lX %08X %5u %8d %lu %d %pK %lu %lu %u %u %d"
//
// and its siblings get_openreq4 and get_timewait4_sock in the same file,
// get_tcp6_sock in net/ipv6/tcp_ipv6.c, udp4_format_sock in net/ipv4/udp.c
// and __ip6_dgram_sock_show in net/ipv6/datagram.c. Every row starts with the
// same ten fields: sl, local and remote address, state, tx and rx queue,
// timer and its expiry, retransmits, uid, timeout and inode. What follows
// differs by protocol and state (a TIME_WAIT row ends after the socket
// pointer, a udp row has a drops column), so Parse requires the ten fields
// and ignores the rest.
//
// Addresses are __be32 words (four of them for IPv6) that the kernel prints
// with %08X as if they were native integers, so the digits of 127.0.0.1 read
// "0100007F" on a little-endian host and "7F000001" on a big-endian one.
// Ports are converted to host order before printing and read as plain hex.
// A table is only meaningful on a host of the byte order that wrote it.
//
// The State column uses the numbering of include/net/tcp_states.h
// (ESTABLISHED=1 ... NEW_SYN_RECV=12) for UDP as well: an unconnected UDP
// socket is in CLOSE (7). Sockets without a file, such as TIME_WAIT and
// request sockets, have inode 0. Dual-stack sockets in tcp6 and udp6 keep
// their IPv4-mapped addresses (::ffff:127.0.0.1); Parse does not unmap them.
//
// The kernel fills at most a page per read, so a table read in several
// reads can list a socket twice when the hash table changes in between
// (prometheus/procfs#576). FS.Read reads the whole file before parsing to
// keep that window small, and Parse drops rows that repeat an earlier row.
//
// sockstat and sockstat6 are printed by sockstat_seq_show in
// net/ipv4/proc.c and sockstat6_seq_show in net/ipv6/proc.c: a protocol name
// with a colon, then "key value" pairs, one protocol a line.
package procnet
