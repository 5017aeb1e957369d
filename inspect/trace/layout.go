package trace

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// layout holds the offsets of the kernel fields the program reads, found in
// the running kernel's BTF: struct sock and struct net change from build to
// build, so no offset is compiled in.
type layout struct {
	// In struct sock, whose struct sock_common comes first.
	family     int16 // __sk_common.skc_family, u16, native order
	dport      int16 // __sk_common.skc_dport (inet_dport), __be16
	daddr      int16 // __sk_common.skc_daddr (inet_daddr), __be32
	v6Daddr    int16 // __sk_common.skc_v6_daddr, struct in6_addr
	v6RcvSaddr int16 // __sk_common.skc_v6_rcv_saddr, struct in6_addr
	net        int16 // __sk_common.skc_net.net, struct net *
	protocol   int16 // sk_protocol, u16
	state      int16 // __sk_common.skc_state, u8
	skErr      int16 // sk_err, int: the pending error, native order
	flags      int16 // __sk_common.skc_flags (sk_flags), unsigned long: enum sock_flags bits
	// In struct inet_sock, which starts with struct sock. These lie past
	// struct sock, where the verifier allows no direct load, so the
	// program copies them with bpf_probe_read_kernel.
	saddr int16 // inet_saddr, __be32
	sport int16 // inet_sport, __be16
	// In struct tcp_sock, which starts with struct inet_connection_sock
	// and so with struct inet_sock; copied the same way.
	bytesAcked    int16 // bytes_acked, u64: RFC 4898 tcpEStatsAppHCThruOctetsAcked
	bytesReceived int16 // bytes_received, u64: RFC 4898 tcpEStatsAppHCThruOctetsReceived
	// In struct net.
	inum int16 // ns.inum, unsigned int: the namespace's nsfs inode number
	// The way to the socket's inode: sock.sk_socket, socket.file,
	// file.f_inode, inode.i_ino (unsigned long), pointers the program
	// follows.
	skSocket, socketFile, fileInode, inodeIno int16
}

// errLayout marks a kernel whose structures differ from what the program
// reads; it wraps ebpf.ErrNotSupported, the one conclusive absence.
var errLayout = fmt.Errorf("trace: kernel structures: %w", ebpf.ErrNotSupported)

// field is one field the program reads: where to find it and how big it
// must be.
type field struct {
	dst  *int16
	root string
	path []string
	size uint32
}

// newLayout finds the fields in spec, the kernel's BTF. A field that is
// missing, a bitfield (sk_protocol before Linux 5.6), of another size, or
// past what a load's 16-bit offset reaches is an error wrapping
// ebpf.ErrNotSupported.
func newLayout(spec *btf.Spec) (*layout, error) {
	var l layout
	fields := []field{
		{&l.family, "sock", []string{"__sk_common", "skc_family"}, 2},
		{&l.dport, "sock", []string{"__sk_common", "skc_dport"}, 2},
		{&l.daddr, "sock", []string{"__sk_common", "skc_daddr"}, 4},
		{&l.v6Daddr, "sock", []string{"__sk_common", "skc_v6_daddr"}, 16},
		{&l.v6RcvSaddr, "sock", []string{"__sk_common", "skc_v6_rcv_saddr"}, 16},
		{&l.net, "sock", []string{"__sk_common", "skc_net", "net"}, 8},
		{&l.protocol, "sock", []string{"sk_protocol"}, 2},
		{&l.state, "sock", []string{"__sk_common", "skc_state"}, 1},
		{&l.skErr, "sock", []string{"sk_err"}, 4},
		{&l.flags, "sock", []string{"__sk_common", "skc_flags"}, 8},
		{&l.saddr, "inet_sock", []string{"inet_saddr"}, 4},
		{&l.sport, "inet_sock", []string{"inet_sport"}, 2},
		{&l.bytesAcked, "tcp_sock", []string{"bytes_acked"}, 8},
		{&l.bytesReceived, "tcp_sock", []string{"bytes_received"}, 8},
		{&l.inum, "net", []string{"ns", "inum"}, 4},
		{&l.skSocket, "sock", []string{"sk_socket"}, 8},
		{&l.socketFile, "socket", []string{"file"}, 8},
		{&l.fileInode, "file", []string{"f_inode"}, 8},
		{&l.inodeIno, "inode", []string{"i_ino"}, 8},
	}
	for _, f := range fields {
		var root *btf.Struct
		if err := spec.TypeByName(f.root, &root); err != nil {
			return nil, fmt.Errorf("%w: struct %s: %w", errLayout, f.root, err)
		}
		off, size, err := offsetOf(root, f.path)
		if err != nil {
			return nil, fmt.Errorf("%w: struct %s: %w", errLayout, f.root, err)
		}
		if size != f.size {
			return nil, fmt.Errorf("%w: struct %s: %s is %d bytes, want %d", errLayout, f.root, dotted(f.path), size, f.size)
		}
		if off > 0x7fff-f.size {
			return nil, fmt.Errorf("%w: struct %s: %s at offset %d, past a load's reach", errLayout, f.root, dotted(f.path), off)
		}
		*f.dst = int16(off)
	}
	if err := checkSockDone(spec); err != nil {
		return nil, err
	}
	return &l, nil
}

// checkSockDone checks that SOCK_DONE is the bit of sk_flags the reader
// tests (recordFINIn): enum sock_flags in include/net/sock.h.
func checkSockDone(spec *btf.Spec) error {
	var e *btf.Enum
	if err := spec.TypeByName("sock_flags", &e); err != nil {
		return fmt.Errorf("%w: enum sock_flags: %w", errLayout, err)
	}
	for _, v := range e.Values {
		if v.Name == "SOCK_DONE" && v.Value == sockDone {
			return nil
		}
	}
	return fmt.Errorf("%w: enum sock_flags: no SOCK_DONE = %d", errLayout, sockDone)
}

// offsetOf returns the byte offset and size of the member path names in t.
// Each name is looked up among t's members and, depth first, inside its
// anonymous struct and union members, as C resolves them.
func offsetOf(t btf.Type, path []string) (off, size uint32, err error) {
	for i, name := range path {
		m, moff, ok := member(t, name, 0)
		if !ok {
			return 0, 0, fmt.Errorf("no member %s", dotted(path[:i+1]))
		}
		if m.BitfieldSize != 0 || moff%8 != 0 {
			return 0, 0, fmt.Errorf("%s is a bitfield", dotted(path[:i+1]))
		}
		off += moff / 8
		t = btf.UnderlyingType(m.Type)
	}
	sz, err := btf.Sizeof(t)
	if err != nil {
		return 0, 0, fmt.Errorf("size of %s: %w", dotted(path), err)
	}
	return off, uint32(sz), nil
}

// maxAnonDepth bounds the descent into nested anonymous members; the
// kernel nests them two or three deep.
const maxAnonDepth = 8

// member finds name in the struct or union t, looking into anonymous
// members. It returns the member and its offset in bits from t's start.
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
	if depth == maxAnonDepth {
		return btf.Member{}, 0, false
	}
	for _, m := range members {
		if m.Name != "" {
			continue
		}
		if found, off, ok := member(m.Type, name, depth+1); ok {
			return found, uint32(m.Offset) + off, true
		}
	}
	return btf.Member{}, 0, false
}

func dotted(path []string) string { return strings.Join(path, ".") }
