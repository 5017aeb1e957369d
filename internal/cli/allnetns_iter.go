package cli

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/sockiter"
)

// iterCapable reports whether the BPF socket iterators have all that a
// listing needs: they have no timers (-o), tcp_info (-i), memory (-m) or
// cgroups, which sock_diag has, and walk only TCP and UDP.
func iterCapable(q *inspect.Query, timers bool) bool {
	if timers || q.Info || q.Memory || q.Cgroup {
		return false
	}
	for _, p := range q.ProtocolsOrDefault() {
		if p != inspect.TCP && p != inspect.UDP {
			return false
		}
	}
	return true
}

// openIterators loads the iterators for --all-netns as --source says:
// bpf requires them; auto uses them where the kernel allows and the
// listing can (iterCapable), and says on stderr when the kernel does not
// allow them and each namespace is listed with sock_diag instead.
func (s *allNetNSSource) openIterators(q *inspect.Query, timers bool) error {
	if s.name != "bpf" && (s.name != "netlink" || !s.auto || !iterCapable(q, timers)) {
		return nil
	}
	if s.name == "bpf" && !iterCapable(q, timers) {
		return usagef("ls: --source bpf has no timers, tcp_info, memory or cgroups, and only TCP and UDP: use --source netlink for -o, -i, -m, --cgroup, -C and other protocols")
	}
	it, err := sockiter.Open(q.ProtocolsOrDefault())
	if err == nil {
		s.iter = it
		return nil
	}
	if s.name == "bpf" {
		return fmt.Errorf("ls: --source bpf: %w (run as root on a kernel with BTF and iter/tcp, or use --source netlink)", err)
	}
	fmt.Fprintf(s.stderr, "sockstate: --all-netns: listing each namespace with sock_diag, as the BPF socket iterators are unavailable: %v\n", err)
	return nil
}

// eachIter hands fn the sockets the iterators list, namespace by
// namespace in the order Discover found them (the caller's first), then
// those of namespaces it did not find, by inode; within a namespace, by
// protocol as q lists them and IPv4 before IPv6, as sock_diag dumps them,
// and otherwise in the kernel's order.
func (s *allNetNSSource) eachIter(ctx context.Context, q inspect.Query, fn func([]inspect.Socket) error) error {
	socks, err := s.iter.Sockets(ctx, q)
	if err != nil {
		return fmt.Errorf("ls: --all-netns: %w", err)
	}
	rank := make(map[uint64]int, len(s.found.Namespaces))
	for i, ns := range s.found.Namespaces {
		rank[ns.Inode] = i
	}
	nsOrder := func(inode uint64) (int, uint64) {
		if r, ok := rank[inode]; ok {
			return r, 0
		}
		return len(rank), inode
	}
	protos := q.ProtocolsOrDefault()
	slices.SortStableFunc(socks, func(a, b inspect.Socket) int {
		ra, ia := nsOrder(a.NetNS)
		rb, ib := nsOrder(b.NetNS)
		return cmp.Or(
			cmp.Compare(ra, rb),
			cmp.Compare(ia, ib),
			cmp.Compare(slices.Index(protos, a.Protocol), slices.Index(protos, b.Protocol)),
			cmp.Compare(a.Family, b.Family),
		)
	})
	for len(socks) > 0 {
		n := min(len(socks), sockdiag.BatchSize)
		if err := fn(socks[:n]); err != nil {
			return err
		}
		socks = socks[n:]
	}
	return nil
}

// close unloads the iterators, if they were loaded.
func (s *allNetNSSource) close() {
	if s.iter != nil {
		s.iter.Close()
	}
}
