package inspect

import (
	"fmt"
	"strings"
	"time"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// TCPInfo is what the kernel reports about a TCP connection's internals:
// struct tcp_info (include/uapi/linux/tcp.h) and the congestion control in
// use, as ss -i shows them. An older kernel sends a shorter tcp_info; the
// fields it lacks are zero, as ss shows them too.
type TCPInfo struct {
	State       State
	CAState     CAState
	Options     TCPOptions
	Retransmits uint8 // unrecovered RTO timeouts
	Probes      uint8 // unanswered zero window probes
	Backoff     uint8 // RTO backoff exponent
	// SndWScale and RcvWScale are the peer's and our window scale; they
	// mean something only if Options has OptWScale.
	SndWScale, RcvWScale uint8
	// AppLimited reports that DeliveryRate was measured while the
	// application, not the network, limited the sending.
	AppLimited bool

	RTO, ATO    time.Duration // retransmission and delayed ACK timeouts
	RTT, RTTVar time.Duration // smoothed round-trip time and its mean deviation
	MinRTT      time.Duration // windowed minimum RTT; 0 before any sample
	RcvRTT      time.Duration // the receiver's RTT estimate

	SndMSS, RcvMSS, AdvMSS, PMTU uint32 // bytes
	SndCwnd                      uint32 // congestion window, segments
	// SndSSThresh is the slow start threshold in segments; the kernel's
	// "infinite" 0x7fffffff before the first loss.
	SndSSThresh uint32
	RcvSSThresh uint32 // bytes
	RcvSpace    uint32 // bytes
	Reordering  uint32 // reordering tolerance, segments
	SndWnd      uint32 // the peer's advertised window after scaling, bytes
	RcvWnd      uint32 // our advertised window after scaling, bytes

	Unacked      uint32 // segments sent and not yet acknowledged; a listener's accept queue
	Sacked       uint32 // segments selectively acknowledged; a listener's backlog limit
	Lost         uint32 // segments deemed lost
	Retrans      uint32 // segments retransmitted and in flight
	Fackets      uint32 // always 0 since Linux 4.15
	TotalRetrans uint32 // segments retransmitted over the connection's life
	DSACKDups    uint32
	ReordSeen    uint32 // reordering events seen
	RcvOOOPack   uint32 // out-of-order packets received
	NotSentBytes uint32 // bytes queued and not yet sent

	BytesSent     uint64 // data bytes sent, retransmissions included
	BytesRetrans  uint64
	BytesAcked    uint64 // bytes the peer acknowledged, the SYN counting as one
	BytesReceived uint64 // RFC 4898 tcpEStatsAppHCThruOctetsReceived
	SegsOut       uint32
	SegsIn        uint32
	DataSegsOut   uint32
	DataSegsIn    uint32
	Delivered     uint32 // segments delivered, retransmissions included
	DeliveredCE   uint32 // of them, with ECN CE marks

	// LastDataSent, LastDataRecv and LastAckRecv are how long ago data
	// was sent and received and an ACK was received.
	LastDataSent, LastDataRecv, LastAckRecv time.Duration

	// PacingRate and MaxPacingRate are in bytes per second; 0 when the
	// kernel did not say, ^uint64(0) when unlimited.
	PacingRate, MaxPacingRate uint64
	DeliveryRate              uint64 // bytes per second

	// BusyTime is the time spent sending data; RwndLimited and
	// SndbufLimited the parts of it limited by the receive window and
	// the send buffer.
	BusyTime, RwndLimited, SndbufLimited time.Duration

	// Congestion is the congestion control algorithm, such as "cubic" or
	// "bbr" (INET_DIAG_CONG).
	Congestion string
	// BBR is the BBR algorithm's state for a socket using BBR; nil
	// otherwise.
	BBR *BBRInfo
	// ULP is the upper layer protocol attached to the socket, such as
	// "tls" or "mptcp" (INET_ULP_INFO_NAME); empty for none. Go's
	// listeners are MPTCP ones since Go 1.24.
	ULP string
}

// BBRInfo is the state of the BBR congestion control (struct tcp_bbr_info).
type BBRInfo struct {
	BW         uint64 // bandwidth estimate, bytes per second
	MinRTT     time.Duration
	PacingGain float64 // the kernel's gain, shifted 8 bits, as a factor
	CwndGain   float64
}

// CAState is the congestion avoidance state (enum tcp_ca_state,
// include/uapi/linux/tcp.h).
type CAState uint8

// The congestion avoidance states.
const (
	CAOpen     CAState = 0
	CADisorder CAState = 1
	CACWR      CAState = 2
	CARecovery CAState = 3
	CALoss     CAState = 4
)

var caNames = [...]string{"open", "disorder", "cwr", "recovery", "loss"}

// String returns the state's name in lower case, as the kernel's
// TCP_CA_ names without the prefix: open, disorder, cwr, recovery, loss.
func (c CAState) String() string {
	if int(c) < len(caNames) {
		return caNames[c]
	}
	return fmt.Sprintf("unknown(%d)", uint8(c))
}

// TCPOptions are the options a connection negotiated (TCPI_OPT_* bits).
type TCPOptions uint8

// The TCPI_OPT_* bits.
const (
	OptTimestamps TCPOptions = netlinkdiag.TCPIOptTimestamps
	OptSACK       TCPOptions = netlinkdiag.TCPIOptSACK
	OptWScale     TCPOptions = netlinkdiag.TCPIOptWScale
	OptECN        TCPOptions = netlinkdiag.TCPIOptECN
	OptECNSeen    TCPOptions = netlinkdiag.TCPIOptECNSeen
	OptSYNData    TCPOptions = netlinkdiag.TCPIOptSYNData
	OptUsecTS     TCPOptions = netlinkdiag.TCPIOptUsecTS
	OptTFOChild   TCPOptions = netlinkdiag.TCPIOptTFOChild
)

// optionNames are the bits' names; ts, sack, ecn, ecnseen and fastopen are
// ss's.
var optionNames = [8]string{"ts", "sack", "wscale", "ecn", "ecnseen", "fastopen", "usec_ts", "tfo_child"}

// Names returns the names of the options set, lowest bit first.
func (o TCPOptions) Names() []string {
	var names []string
	for i, name := range optionNames {
		if o&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return names
}

// String returns the names of the options set, joined by commas.
func (o TCPOptions) String() string {
	return strings.Join(o.Names(), ",")
}

// Memory is a socket's memory use as sock_diag reports it
// (SK_MEMINFO_*, include/uapi/linux/sock_diag.h), in bytes, and the packets
// dropped before reaching it.
type Memory struct {
	RmemAlloc  uint32 // receive queue
	RcvBuf     uint32 // receive buffer limit
	WmemAlloc  uint32 // packets handed to layer 3 and not yet freed
	SndBuf     uint32 // send buffer limit
	FwdAlloc   uint32 // reserved and not yet used
	WmemQueued uint32 // send queue not yet handed to layer 3
	OptMem     uint32 // socket options
	Backlog    uint32 // backlog queue
	Drops      uint32 // packets dropped
	// Vars is how many of the kernel's SK_MEMINFO values came: Backlog
	// is valid when it is more than 7, Drops when it is more than 8.
	Vars int
}
