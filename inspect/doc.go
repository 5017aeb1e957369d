// Package inspect is sockstate's model of sockets and the sources that fill
// it: a Socket with its State, Timer and, when asked for, its TCPInfo and
// Memory; a Query (protocols, families, states, an ss filter expression);
// and the Sources that answer one — NetlinkSource over sock_diag,
// ProcSource over /proc/net, AutoSource trying both; the Streamers among
// them hand a listing over batch by batch (Each). Around them: the ss
// filter language (ParseFilter, Match, Bytecode), Diff of two listings,
// the process table that says which processes hold which sockets
// (ReadProcessTable, Processes), ss -s's Summary, and closing sockets with
// NetlinkSource.Destroy.
//
// It turns the leaves' records into the model: netlinkdiag's decoded
// sock_diag messages and procnet's /proc/net rows. Its sources are:
//
//   - include/net/tcp_states.h for the states and their numbers;
//   - sock_diag(7) and include/uapi/linux/inet_diag.h for what the kernel
//     reports over netlink, SOCK_DESTROY included;
//   - include/uapi/linux/tcp.h for struct tcp_info and enum tcp_ca_state;
//   - proc(5) for /proc/net/{tcp,udp}{,6}, /proc/net/sockstat and the
//     /proc/<pid>/fd links ("socket:[INODE]"), and
//     Documentation/bpf/bpf_iterators.rst for the task_file iterator that
//     reads the same faster;
//   - ss(8) and iproute2's misc/ss.c for the filter language, the state
//     groups and how ss -s combines its counters.
package inspect
