package sockiter

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// layout holds the offsets the programs read, found in the running
// kernel's BTF.
type layout struct {
	// The iterators' contexts: struct bpf_iter__tcp and bpf_iter__udp.
	tcpMeta, tcpSk, tcpUID int16
	udpMeta, udpSk, udpUID int16
	metaSeq                int16 // struct bpf_iter_meta.seq
	// In struct sock_common, the head of every socket, request socket
	// and timewait socket.
	family, state, num, dport         int16
	rcvSaddr, daddr, v6Saddr, v6Daddr int16
	boundDev, net                     int16
	inum                              int16 // struct net: ns.inum
	twSubstate                        int16 // struct inet_timewait_sock
	// In struct sock, at the head of tcp_sock and udp_sock.
	ackBacklog, maxAckBacklog int16
	rmemAlloc, wmemAlloc      int16 // atomic_t and refcount_t counters
	skSocket                  int16
	socketFile, fileInode     int16 // struct socket.file, file.f_inode
	inodeIno                  int16 // struct inode.i_ino
	// In struct tcp_sock and udp_sock.
	rcvNxt, copiedSeq, writeSeq, sndUna int16
	forwardDeficit                      int16
}

// errLayout marks a kernel whose structures differ from what the programs
// read.
var errLayout = fmt.Errorf("sockiter: kernel structures: %w", ebpf.ErrNotSupported)

func newLayout(spec *btf.Spec) (*layout, error) {
	var l layout
	for _, f := range []struct {
		dst  *int16
		root string
		path string
		size uint32
	}{
		{&l.tcpMeta, "bpf_iter__tcp", "meta", 8},
		{&l.tcpSk, "bpf_iter__tcp", "sk_common", 8},
		{&l.tcpUID, "bpf_iter__tcp", "uid", 4},
		{&l.udpMeta, "bpf_iter__udp", "meta", 8},
		{&l.udpSk, "bpf_iter__udp", "udp_sk", 8},
		{&l.udpUID, "bpf_iter__udp", "uid", 4},
		{&l.metaSeq, "bpf_iter_meta", "seq", 8},
		{&l.family, "sock_common", "skc_family", 2},
		{&l.state, "sock_common", "skc_state", 1},
		{&l.num, "sock_common", "skc_num", 2},
		{&l.dport, "sock_common", "skc_dport", 2},
		{&l.rcvSaddr, "sock_common", "skc_rcv_saddr", 4},
		{&l.daddr, "sock_common", "skc_daddr", 4},
		{&l.v6Saddr, "sock_common", "skc_v6_rcv_saddr", 16},
		{&l.v6Daddr, "sock_common", "skc_v6_daddr", 16},
		{&l.boundDev, "sock_common", "skc_bound_dev_if", 4},
		{&l.net, "sock_common", "skc_net.net", 8},
		{&l.inum, "net", "ns.inum", 4},
		{&l.twSubstate, "inet_timewait_sock", "tw_substate", 1},
		{&l.ackBacklog, "sock", "sk_ack_backlog", 4},
		{&l.maxAckBacklog, "sock", "sk_max_ack_backlog", 4},
		{&l.rmemAlloc, "sock", "sk_backlog.rmem_alloc.counter", 4},
		{&l.wmemAlloc, "sock", "sk_wmem_alloc.refs.counter", 4},
		{&l.skSocket, "sock", "sk_socket", 8},
		{&l.socketFile, "socket", "file", 8},
		{&l.fileInode, "file", "f_inode", 8},
		{&l.inodeIno, "inode", "i_ino", 8},
		{&l.rcvNxt, "tcp_sock", "rcv_nxt", 4},
		{&l.copiedSeq, "tcp_sock", "copied_seq", 4},
		{&l.writeSeq, "tcp_sock", "write_seq", 4},
		{&l.sndUna, "tcp_sock", "snd_una", 4},
		{&l.forwardDeficit, "udp_sock", "forward_deficit", 4},
	} {
		var root *btf.Struct
		if err := spec.TypeByName(f.root, &root); err != nil {
			return nil, fmt.Errorf("%w: struct %s: %w", errLayout, f.root, err)
		}
		off, size, err := offsetOf(root, strings.Split(f.path, "."))
		if err != nil {
			return nil, fmt.Errorf("%w: struct %s: %w", errLayout, f.root, err)
		}
		if size != f.size {
			return nil, fmt.Errorf("%w: struct %s: %s is %d bytes, want %d", errLayout, f.root, f.path, size, f.size)
		}
		if off > 0x7fff-f.size {
			return nil, fmt.Errorf("%w: struct %s: %s at offset %d, past a load's reach", errLayout, f.root, f.path, off)
		}
		*f.dst = int16(off)
	}
	return &l, nil
}

// offsetOf returns the byte offset and size of the member path names in t,
// looking into anonymous struct and union members as C does.
func offsetOf(t btf.Type, path []string) (off, size uint32, err error) {
	for i, name := range path {
		m, moff, ok := member(t, name, 0)
		if !ok {
			return 0, 0, fmt.Errorf("no member %s", strings.Join(path[:i+1], "."))
		}
		if m.BitfieldSize != 0 || moff%8 != 0 {
			return 0, 0, fmt.Errorf("%s is a bitfield", strings.Join(path[:i+1], "."))
		}
		off += moff / 8
		t = btf.UnderlyingType(m.Type)
	}
	sz, err := btf.Sizeof(t)
	if err != nil {
		return 0, 0, fmt.Errorf("size of %s: %w", strings.Join(path, "."), err)
	}
	return off, uint32(sz), nil
}

// member finds name in the struct or union t, depth first through its
// anonymous members (the kernel nests them two or three deep), and returns
// it with its offset in bits.
func member(t btf.Type, name string, depth int) (btf.Member, uint32, bool) {
	var members []btf.Member
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		members = t.Members
	case *btf.Union:
		members = t.Members
	default:
		return btf.Member{}, 0, false
	}
	for _, m := range members {
		if m.Name == name {
			return m, uint32(m.Offset), true
		}
	}
	for _, m := range members {
		if m.Name != "" || depth == 8 {
			continue
		}
		if found, off, ok := member(m.Type, name, depth+1); ok {
			return found, uint32(m.Offset) + off, true
		}
	}
	return btf.Member{}, 0, false
}
