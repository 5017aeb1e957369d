// Package trace reports every TCP state change as the kernel makes it, from
// the tracepoint sock:inet_sock_set_state, with an eBPF program that
// sockstate assembles at run time: nothing is compiled on the machine it
// runs on, and no offset is compiled in.
//
// Polling (sockdiag.Source) sees what lasts longer than its
// interval. On loopback SYN_SENT, SYN_RECV, FIN_WAIT1 and LAST_ACK last
// microseconds, and under churn whole connections live between two polls;
// the tracepoint reports each of them.
//
// How it works, and where the facts come from:
//
//   - The program is a BTF-enabled raw tracepoint (tp_btf, program type
//     BPF_PROG_TYPE_TRACING, attach type BPF_TRACE_RAW_TP), written with
//     github.com/cilium/ebpf/asm. Its arguments are the tracepoint's
//     TP_PROTO, (const struct sock *sk, const int oldstate, const int
//     newstate): include/trace/events/sock.h. The formatted fields of the
//     trace event are not available to it, so it reads the fields that the
//     event's TP_fast_assign reads, at offsets found in the running
//     kernel's BTF (/sys/kernel/btf/vmlinux).
//   - States are numbered as in include/net/tcp_states.h (inspect.State).
//   - Records go through a BPF ring buffer (BPF_MAP_TYPE_RINGBUF,
//     Documentation/bpf/ringbuf.rst). When it is full the program counts
//     the drop in an array map and every later record carries the count,
//     so a gap is never silent (ErrLost).
//   - The kernel skips a program that a state change interrupts on the
//     same CPU (a recursion miss, kernel/trace/bpf_trace.c), so two
//     copies run and cover for each other; see program. The kernel counts
//     misses for every event, whatever the socket, so the backup counts
//     every event it finds the primary skipped, before any filter: the
//     misses less that count are the events both copies missed.
//   - Known gap, closed by lookups: the kernel sometimes calls neither
//     copy of the program for a state change and counts no recursion
//     miss. Under churn on a busy machine, once in 28,000 to 300,000
//     transitions, an orphaned server socket's FIN_WAIT1 -> FIN_WAIT2 and
//     FIN_WAIT2 -> CLOSE, made together in one softirq, reach the tracefs
//     record and not the program: a debug build that recorded every
//     event it ran for, before any filter, recorded nothing for them.
//     Every one seen ran in a softirq on top of another process than the
//     churning one; the kernel's reason is not known. So the Tracer
//     follows each socket last seen moving to FIN_WAIT1 or FIN_WAIT2; one
//     that makes no further move for 100 ms (by the records read) is
//     looked up with sock_diag by addresses and cookie, and if it has
//     moved on its missing transitions are counted as lost (ErrLost),
//     not made up: two from FIN_WAIT1 to a time-wait socket, otherwise
//     one (gone: at least its move to CLOSE). A socket still in the same
//     state is looked up again, each time twice as late, for two
//     minutes. Such a gap in another state would go uncounted; none has
//     been seen. After a ring-buffer drop the sockets followed are
//     forgotten, since their next move may be among the drops.
//   - The kernel filters by network namespace, comparing
//     sk->__sk_common.skc_net.net->ns.inum with the inode number of the
//     namespace's nsfs file (namespaces(7)).
//   - TIME_WAIT is not a transition: tcp_time_wait in
//     net/ipv4/tcp_minisocks.c replaces the socket with a time-wait socket
//     and closes the original. The Tracer confirms the time-wait socket
//     with an exact sock_diag lookup (sock_diag(7), netlinkdiag.Conn.Lookup)
//     before it reports TIME_WAIT.
//   - The task that is current when the tracepoint fires is often not the
//     socket's owner (softirq context), so no pid or command is reported.
//
// Events turns the transitions into inspect.WatchEvents, with a sock_diag
// dump at the start and after a loss, for sockstate watch and demo.
//
// Loading the program needs CAP_BPF and CAP_PERFMON (capabilities(7)),
// kernel BTF and Linux 5.8 or later; Open says which is missing.
package trace
