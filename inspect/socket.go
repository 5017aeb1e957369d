package inspect

import (
	"fmt"
	"net/netip"
	"time"
)

// Protocol is a transport protocol, with its IP protocol number
// (include/uapi/linux/in.h); 0 for a unix socket. It is 16 bits wide for
// IPPROTO_MPTCP, 262.
type Protocol uint16

// The protocols sockstate inspects.
const (
	TCP   Protocol = 6
	UDP   Protocol = 17
	Raw   Protocol = 255 // IPPROTO_RAW: raw sockets, ss -w
	MPTCP Protocol = 262 // IPPROTO_MPTCP: multipath TCP, ss -M
)

// String returns ss's netid for p: tcp, udp, raw or mptcp.
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case Raw:
		return "raw"
	case MPTCP:
		return "mptcp"
	}
	return fmt.Sprintf("proto(%d)", uint16(p))
}

// Family is an address family, with the kernel's AF_ numbers.
type Family uint8

// The address families sockstate inspects.
const (
	Unix  Family = 1  // AF_UNIX
	INet  Family = 2  // AF_INET
	INet6 Family = 10 // AF_INET6
)

// String returns ss's family name: unix, inet or inet6.
func (f Family) String() string {
	switch f {
	case Unix:
		return "unix"
	case INet:
		return "inet"
	case INet6:
		return "inet6"
	}
	return fmt.Sprintf("family(%d)", uint8(f))
}

// Socket is one socket as the kernel reports it. An IP socket (Family
// INet or INet6) has its addresses in Local and Peer; a unix socket
// (Family Unix) has them in Unix, and Local and Peer are zero.
type Socket struct {
	Protocol Protocol
	Family   Family
	State    State
	Local    netip.AddrPort
	Peer     netip.AddrPort
	// Unix is a unix socket's type, name and peer; nil for an IP socket.
	Unix *UnixEnd
	// RecvQ and SendQ are the queue lengths as ss prints them: for a
	// listener, the accept backlog and its limit.
	RecvQ uint32
	SendQ uint32
	UID   uint32
	// Inode is 0 for sockets that hold no file, such as TIME_WAIT.
	Inode uint64
	// Cookie is the kernel's socket cookie from sock_diag; 0 when the
	// source has none (the /proc fallback).
	Cookie uint64
	// IfIndex is the bound interface, 0 for none.
	IfIndex uint32
	// Timer is the active timer (proc(5)'s tr / sock_diag's idiag_timer),
	// Expires the time until it fires and Retransmits its count: the
	// retransmissions for TimerOn, the unanswered probes for keepalive and
	// persist, as sock_diag's idiag_retrans and ss -o have it.
	Timer       Timer
	Expires     time.Duration
	Retransmits uint8
	// Info is the TCP internals (tcp_info and the congestion control),
	// filled by the netlink source for TCP sockets when Query.Info is set;
	// nil otherwise, and for the minisockets the kernel keeps no tcp_info
	// for: TIME_WAIT, an orphaned FIN_WAIT2 kept as a timewait socket, and
	// a connection request in SYN_RECV.
	Info *TCPInfo
	// Memory is the socket's memory use, filled by the netlink source when
	// Query.Memory is set; nil otherwise and for minisockets.
	Memory *Memory
	// NetNS is the inode of the network namespace the socket was listed
	// in, set by a listing of several namespaces; 0 otherwise.
	NetNS uint64
	// CgroupID is the cgroup v2 id of the socket's cgroup
	// (INET_DIAG_CGROUP_ID), filled by the netlink source when
	// Query.Cgroup is set; 0 otherwise, and for minisockets, which the
	// kernel keeps none for.
	CgroupID uint64
}

// UnixEnd is what a unix socket has in place of addresses (unix(7),
// include/uapi/linux/unix_diag.h).
type UnixEnd struct {
	Type UnixType
	// Name is the bound path, or for an abstract socket (Abstract) its
	// name without the leading NUL; empty for an unbound socket.
	Name     string
	Abstract bool
	// PeerInode is the inode of the connected peer (UNIX_DIAG_PEER); 0
	// for none.
	PeerInode uint64
	// Shutdown is sk_shutdown: bit 0 set when receiving is shut down,
	// bit 1 when sending is (UNIX_DIAG_SHUTDOWN); ss -e prints it as <->.
	Shutdown uint8
	// VFSInode and VFSDev are the inode and device of the file a socket
	// bound to a path made (UNIX_DIAG_VFS), 0 for others; VFSDev is the
	// kernel's dev_t, the major number above bit 20.
	VFSInode uint32
	VFSDev   uint32
	// Pending are the inodes of the connections waiting in a listener's
	// queue (UNIX_DIAG_ICONS); nil for others.
	Pending []uint64
}

// UnixType is a unix socket's type, with socket(2)'s numbers.
type UnixType uint8

// The unix socket types.
const (
	UnixStream    UnixType = 1 // SOCK_STREAM
	UnixDgram     UnixType = 2 // SOCK_DGRAM
	UnixSeqPacket UnixType = 5 // SOCK_SEQPACKET
)

// String returns ss's netid for t: u_str, u_dgr or u_seq.
func (t UnixType) String() string {
	switch t {
	case UnixStream:
		return "u_str"
	case UnixDgram:
		return "u_dgr"
	case UnixSeqPacket:
		return "u_seq"
	}
	return fmt.Sprintf("unix(%d)", uint8(t))
}

// Timer is the kind of timer pending on a socket, numbered as in
// /proc/net/tcp and idiag_timer.
type Timer uint8

// The timers the kernel reports.
const (
	TimerNone      Timer = 0
	TimerOn        Timer = 1 // retransmit
	TimerKeepalive Timer = 2
	TimerTimeWait  Timer = 3
	TimerPersist   Timer = 4
)

// String returns ss's name for t.
func (t Timer) String() string {
	switch t {
	case TimerNone:
		return "off"
	case TimerOn:
		return "on"
	case TimerKeepalive:
		return "keepalive"
	case TimerTimeWait:
		return "timewait"
	case TimerPersist:
		return "persist"
	}
	return fmt.Sprintf("unknown(%d)", uint8(t))
}
