package inspect

import (
	"fmt"
	"net/netip"
	"time"
)

// Protocol is a transport protocol, with its IP protocol number.
type Protocol uint8

// The protocols sockstate inspects.
const (
	TCP Protocol = 6
	UDP Protocol = 17
)

// String returns ss's netid for p: tcp or udp.
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// Family is an address family, with the kernel's AF_ numbers.
type Family uint8

// The address families sockstate inspects.
const (
	INet  Family = 2  // AF_INET
	INet6 Family = 10 // AF_INET6
)

// String returns ss's family name: inet or inet6.
func (f Family) String() string {
	switch f {
	case INet:
		return "inet"
	case INet6:
		return "inet6"
	}
	return fmt.Sprintf("family(%d)", uint8(f))
}

// Socket is one socket as the kernel reports it.
type Socket struct {
	Protocol Protocol
	Family   Family
	State    State
	Local    netip.AddrPort
	Peer     netip.AddrPort
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
