package trace

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// Options configures Open. The zero value traces the caller's network
// namespace with the default ring buffer.
type Options struct {
	// NetNS is a file descriptor of the network namespace to trace, as for
	// sockdiag.Source; 0 means the calling thread's namespace. The
	// program drops other namespaces' sockets in the kernel.
	NetNS int
	// AllNetNS traces every network namespace of the host instead: the
	// program keeps no namespace filter, each Transition's NetNS names
	// its namespace, and the time-wait and gap lookups go to a sock_diag
	// socket in the socket's namespace, opened through OpenNetNS when
	// first needed (see nsConns). NetNS must be 0.
	AllNetNS bool
	// OpenNetNS opens the network namespace whose nsfs inode is inode,
	// for AllNetNS. Its error wraps fs.ErrNotExist when no namespace of
	// that inode is left, and fs.ErrPermission when it may not be opened.
	OpenNetNS func(inode uint64) (*os.File, error)
	// Unreachable, when set, is called once for each namespace of
	// AllNetNS whose sock_diag socket cannot be opened (it may not be
	// entered): its sockets' moves into TIME_WAIT are not reported.
	Unreachable func(inode uint64, err error)
	// RingSize is the ring buffer's size in bytes, a power of two and a
	// multiple of the page size; 0 means DefaultRingSize.
	RingSize int
}

// DefaultRingSize holds about 170,000 transitions: more than a second of
// 15,000 connections a second, each making ten, so that a reader the
// scheduler holds back for a while catches up without loss
// (BenchmarkChurn lost transitions with a quarter of it on two busy
// cores).
const DefaultRingSize = 16 << 20

// Transition is one state change of one TCP socket. It names no process:
// the task current when the tracepoint fires is often not the socket's
// owner (softirq context).
type Transition struct {
	// Time is when the kernel changed the state, on the wall clock: Mono
	// plus the offset between the clocks measured at Open.
	Time time.Time
	// Mono is the kernel's CLOCK_MONOTONIC at the change
	// (bpf_ktime_get_ns), for exact intervals.
	Mono time.Duration
	// SK is the address of the kernel's struct sock. It names the socket
	// while it lives; after CLOSE the kernel may reuse the memory for
	// another socket, so Cookie is the identity to key on.
	SK uint64
	// Cookie is the socket's cookie, the idiag_cookie sock_diag reports:
	// the program asks the kernel for it at every transition, so the
	// trace and sock_diag listings name a socket alike (inspect.KeyOf).
	Cookie   uint64
	Protocol inspect.Protocol
	Family   inspect.Family
	// Local and Peer are the addresses and ports the tracepoint records
	// (inet_saddr, inet_sport, inet_daddr, inet_dport; the in6 addresses
	// for IPv6). They are what the kernel holds at the change: a client's
	// local port is 0 at CLOSE -> SYN_SENT, before connect picks it.
	Local, Peer netip.AddrPort
	From, To    inspect.State
	// TimeWait marks the move into TIME_WAIT, which no tracepoint reports:
	// the kernel replaces a closing socket with a time-wait socket and
	// moves the original to CLOSE. The Tracer reports it when its peer's
	// own move to CLOSE proves it (Time is then that move's), or once an
	// exact sock_diag lookup of the addresses and cookie finds the
	// time-wait socket in TIME_WAIT (Time is when the lookup found it);
	// From is Close and To is TimeWait.
	TimeWait bool
	// Err is the socket's pending error (sk_err) at the change, an errno:
	// what the kernel ended a connection with, at its move to CLOSE.
	Err uint32
	// Cause is, on a move to CLOSE, why the connection ended, from Err and
	// from the resets the kernel reported for the socket before
	// (tcp:tcp_receive_reset, tcp:tcp_send_reset).
	Cause inspect.Cause
	// Acked and Received are the socket's bytes_acked and bytes_received
	// at the change (RFC 4898's tcpEStatsAppHCThruOctetsAcked and
	// ...Received, as tcp_info has them): the sequence space the peer
	// acknowledged, this end's SYN and FIN included, and the sequence
	// space that arrived in order, the peer's FIN included.
	Acked, Received uint64
	// Inode is the inode of the socket's file, 0 while it has none (a
	// connection not yet accepted, a socket closed by its owner).
	Inode uint64
	// NetNS is the nsfs inode of the socket's network namespace.
	NetNS uint64
}

// Socket returns the socket as the transition leaves it, in the model the
// listing sources use.
func (tr *Transition) Socket() inspect.Socket {
	return inspect.Socket{
		Protocol: tr.Protocol,
		Family:   tr.Family,
		State:    tr.To,
		Local:    tr.Local,
		Peer:     tr.Peer,
		Cookie:   tr.Cookie,
		Inode:    tr.Inode,
		NetNS:    tr.NetNS,
	}
}

// String formats tr as one line: time with microseconds, protocol,
// addresses and the change.
func (tr *Transition) String() string {
	s := fmt.Sprintf("%s %s %s %s %s -> %s", tr.Time.Format("15:04:05.000000"), tr.Protocol, tr.Local, tr.Peer, tr.From, tr.To)
	if tr.TimeWait {
		s += " (time-wait socket)"
	}
	return s
}

// ErrLost is wrapped by the error Read returns when transitions were lost:
// the kernel dropped them because the ring buffer was full, ran neither
// copy of the program for them, or a lookup found a socket moved on
// without them (see gaps). The Tracer goes on; the caller's picture is
// incomplete until it lists the sockets again.
var ErrLost = errors.New("trace: transitions lost")

// LostError is the error Read returns when transitions were lost: how
// many since the last report, and since the Tracer opened. It wraps
// ErrLost.
type LostError struct {
	N, All uint64
}

func (e *LostError) Error() string {
	return fmt.Sprintf("trace: %d transitions lost (%d in all)", e.N, e.All)
}

func (e *LostError) Unwrap() error { return ErrLost }

// ErrMalformed is wrapped by decoding errors: a record that is too short
// or names an address family other than AF_INET and AF_INET6.
var ErrMalformed = errors.New("trace: malformed record")
