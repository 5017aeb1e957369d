// Package trace reports every TCP state change as the kernel makes it,
// from the tracepoint sock:inet_sock_set_state, with an eBPF program that
// sockstate assembles at run time: nothing is compiled on the machine it
// runs on, and no offset is compiled in. Polling sees what lasts longer
// than its interval; the tracepoint sees every transition, also of
// connections that live between two polls.
//
// # Use
//
// Open loads the program into a Tracer, whose Read returns Transitions;
// Events turns them into inspect.WatchEvents, with a sock_diag dump at
// the start and after a loss, for sockstate watch and demo. A record the
// kernel dropped, or a transition it never handed the program, is
// counted and reported (ErrLost), never silent.
//
// Loading the program needs CAP_BPF and CAP_PERFMON (capabilities(7)),
// kernel BTF and Linux 5.8 or later; Open says which is missing.
//
// # Sources
//
//   - include/trace/events/sock.h: the tracepoint's TP_PROTO and the
//     fields its TP_fast_assign reads, which the program reads at offsets
//     found in the running kernel's BTF (/sys/kernel/btf/vmlinux);
//   - include/net/tcp_states.h for the states (inspect.State);
//   - Documentation/bpf/ringbuf.rst for the ring buffer the records cross;
//   - kernel/trace/bpf_trace.c for the recursion misses that two copies of
//     the program cover for (program);
//   - net/ipv4/tcp_minisocks.c (tcp_time_wait, tcp_timewait_state_process):
//     TIME_WAIT is a new time-wait socket, proved by the peer's close or
//     the TCPTimeWaitOverflow counter (include/uapi/linux/snmp.h), or
//     confirmed with a sock_diag lookup (sock_diag(7)): see timewait.go;
//   - namespaces(7): the program keeps one network namespace, by the inode
//     of its nsfs file.
package trace
