package netlinkdiag

import (
	"encoding/binary"
	"fmt"
)

// TCPInfo is struct tcp_info from include/uapi/linux/tcp.h, the payload of
// AttrInfo for a TCP socket, with the kernel's units: times in
// microseconds unless a field says otherwise, rates in bytes per second.
//
// The kernel sends as much of the struct as it knows: every release has
// appended fields, so an older kernel sends a shorter attribute. Size says
// how many bytes came; a field that does not lie wholly within them is
// zero, which is also how ss shows it.
type TCPInfo struct {
	// Size is the attribute's payload length: how much of the struct the
	// kernel filled.
	Size int

	State       uint8 // TCP state, numbered as in tcp_states.h
	CAState     uint8 // congestion avoidance state: TCP_CA_Open (0) ... TCP_CA_Loss (4)
	Retransmits uint8 // unrecovered RTO timeouts
	Probes      uint8 // unanswered zero window probes
	Backoff     uint8 // RTO backoff exponent
	Options     uint8 // TCPI_OPT_* bits
	SndWScale   uint8 // the peer's window scale (4 bits)
	RcvWScale   uint8 // our window scale (4 bits)
	// DeliveryRateAppLimited reports that DeliveryRate was measured while
	// the application, not the network, limited the sending.
	DeliveryRateAppLimited bool
	FastOpenClientFail     uint8 // TFO_* reason a client's Fast Open failed (2 bits)

	RTO    uint32 // retransmission timeout
	ATO    uint32 // delayed ACK timeout
	SndMSS uint32 // bytes
	RcvMSS uint32 // bytes

	Unacked uint32 // segments sent and not yet acknowledged
	Sacked  uint32 // segments selectively acknowledged; a listener's backlog limit
	Lost    uint32 // segments deemed lost
	Retrans uint32 // segments retransmitted and in flight
	Fackets uint32 // always 0 since Linux 4.15

	LastDataSent uint32 // milliseconds since data was last sent
	LastAckSent  uint32 // always 0: the kernel does not keep it
	LastDataRecv uint32 // milliseconds since data was last received
	LastAckRecv  uint32 // milliseconds since an ACK was last received

	PMTU        uint32 // path MTU, bytes
	RcvSSThresh uint32 // bytes
	RTT         uint32 // smoothed round-trip time
	RTTVar      uint32 // its mean deviation
	SndSSThresh uint32 // segments; 0x7fffffff (TCP_INFINITE_SSTHRESH) before the first loss
	SndCwnd     uint32 // congestion window, segments
	AdvMSS      uint32 // bytes
	Reordering  uint32 // reordering tolerance, segments

	RcvRTT       uint32 // the receiver's RTT estimate
	RcvSpace     uint32 // bytes
	TotalRetrans uint32 // segments retransmitted over the connection's life

	// Since Linux 3.15.
	PacingRate    uint64 // ^uint64(0) when unlimited
	MaxPacingRate uint64 // SO_MAX_PACING_RATE; ^uint64(0) when unset
	// Since Linux 4.1.
	BytesAcked    uint64 // RFC 4898 tcpEStatsAppHCThruOctetsAcked
	BytesReceived uint64 // RFC 4898 tcpEStatsAppHCThruOctetsReceived
	// Since Linux 4.2.
	SegsOut uint32 // RFC 4898 tcpEStatsPerfSegsOut
	SegsIn  uint32 // RFC 4898 tcpEStatsPerfSegsIn
	// Since Linux 4.6.
	NotSentBytes uint32 // bytes queued and not yet sent
	MinRTT       uint32 // windowed minimum RTT; ^uint32(0) before any sample
	DataSegsIn   uint32 // RFC 4898 tcpEStatsDataSegsIn
	DataSegsOut  uint32 // RFC 4898 tcpEStatsDataSegsOut
	// Since Linux 4.9.
	DeliveryRate uint64
	// Since Linux 4.10.
	BusyTime      uint64 // time busy sending data
	RwndLimited   uint64 // time limited by the receive window
	SndbufLimited uint64 // time limited by the send buffer
	// Since Linux 4.18.
	Delivered   uint32 // segments delivered, retransmissions included
	DeliveredCE uint32 // of them, with ECN CE marks
	// Since Linux 4.19.
	BytesSent    uint64 // RFC 4898 tcpEStatsPerfHCDataOctetsOut
	BytesRetrans uint64 // RFC 4898 tcpEStatsPerfOctetsRetrans
	DSACKDups    uint32 // RFC 4898 tcpEStatsStackDSACKDups
	ReordSeen    uint32 // reordering events seen
	// Since Linux 5.4.
	RcvOOOPack uint32 // out-of-order packets received
	SndWnd     uint32 // the peer's advertised window after scaling, bytes
	// Since Linux 6.2.
	RcvWnd uint32 // our advertised window after scaling, bytes
	Rehash uint32 // rehash attempts after PLB or a timeout
	// Since Linux 6.7.
	TotalRTO           uint16 // RTO timeouts, SYN and SYN-ACK ones included
	TotalRTORecoveries uint16 // RTO recoveries, an unfinished one included
	TotalRTOTime       uint32 // milliseconds spent in RTO recoveries
	// Since Linux 6.18: Accurate ECN.
	ReceivedCE       uint32 // CE marked segments received
	DeliveredE1Bytes uint32
	DeliveredE0Bytes uint32
	DeliveredCEBytes uint32
	ReceivedE1Bytes  uint32
	ReceivedE0Bytes  uint32
	ReceivedCEBytes  uint32
	ECNMode          uint8  // TCPI_ECN_MODE_* (2 bits)
	AccECNOptSeen    uint8  // 2 bits
	AccECNFailMode   uint8  // 4 bits
	Options2         uint32 // further option bits (24 bits)
}

// The TCPI_OPT_* bits of TCPInfo.Options.
const (
	TCPIOptTimestamps = 1 << 0
	TCPIOptSACK       = 1 << 1
	TCPIOptWScale     = 1 << 2
	TCPIOptECN        = 1 << 3 // ECN was negotiated at TCP session init
	TCPIOptECNSeen    = 1 << 4 // at least one packet with ECT was seen
	TCPIOptSYNData    = 1 << 5 // SYN-ACK acknowledged data in SYN sent or received
	TCPIOptUsecTS     = 1 << 6 // timestamps in microseconds
	TCPIOptTFOChild   = 1 << 7 // the child of a Fast Open listener
)

// SizeofTCPInfoMin is the shortest tcp_info DecodeTCPInfo accepts: the
// struct up to tcpi_total_retrans, as Linux 2.6 sent it.
const SizeofTCPInfoMin = 104

// sizeofTCPInfo is the whole struct as Linux 6.18 sends it.
const sizeofTCPInfo = 280

// bigEndian reports whether the host stores the most significant byte first.
// C bit-fields are allocated from the low bit on little-endian ABIs and
// from the high bit on big-endian ones.
var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// DecodeTCPInfo decodes the payload of an AttrInfo attribute into info,
// overwriting all of it. b may be shorter than the struct the running
// kernel has (an older kernel's) or longer (a newer one's): the fields
// wholly within b are decoded and the rest are zero. A payload shorter than
// SizeofTCPInfoMin is an error wrapping ErrShort and leaves info zero.
//
// Every field is in native byte order.
func DecodeTCPInfo(b []byte, info *TCPInfo) error {
	*info = TCPInfo{}
	if len(b) < SizeofTCPInfoMin {
		return fmt.Errorf("netlinkdiag: tcp_info of %d bytes, want at least %d: %w", len(b), SizeofTCPInfoMin, ErrShort)
	}
	ne := binary.NativeEndian
	u32 := func(off int) uint32 { return ne.Uint32(b[off : off+4]) }
	u64 := func(off int) uint64 { return ne.Uint64(b[off : off+8]) }

	info.Size = len(b)
	info.State = b[0]
	info.CAState = b[1]
	info.Retransmits = b[2]
	info.Probes = b[3]
	info.Backoff = b[4]
	info.Options = b[5]
	// tcpi_snd_wscale:4, tcpi_rcv_wscale:4 and
	// tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2.
	if bigEndian {
		info.SndWScale, info.RcvWScale = b[6]>>4, b[6]&0xf
		info.DeliveryRateAppLimited = b[7]&0x80 != 0
		info.FastOpenClientFail = b[7] >> 5 & 0x3
	} else {
		info.SndWScale, info.RcvWScale = b[6]&0xf, b[6]>>4
		info.DeliveryRateAppLimited = b[7]&0x1 != 0
		info.FastOpenClientFail = b[7] >> 1 & 0x3
	}
	info.RTO = u32(8)
	info.ATO = u32(12)
	info.SndMSS = u32(16)
	info.RcvMSS = u32(20)
	info.Unacked = u32(24)
	info.Sacked = u32(28)
	info.Lost = u32(32)
	info.Retrans = u32(36)
	info.Fackets = u32(40)
	info.LastDataSent = u32(44)
	info.LastAckSent = u32(48)
	info.LastDataRecv = u32(52)
	info.LastAckRecv = u32(56)
	info.PMTU = u32(60)
	info.RcvSSThresh = u32(64)
	info.RTT = u32(68)
	info.RTTVar = u32(72)
	info.SndSSThresh = u32(76)
	info.SndCwnd = u32(80)
	info.AdvMSS = u32(84)
	info.Reordering = u32(88)
	info.RcvRTT = u32(92)
	info.RcvSpace = u32(96)
	info.TotalRetrans = u32(100)

	// The fields the kernel appended since, each group with the offset it
	// ends at. A group is decoded field by field, so that a length that
	// ends inside one still yields the fields before it.
	n := len(b)
	if n >= 112 {
		info.PacingRate = u64(104)
	}
	if n >= 120 {
		info.MaxPacingRate = u64(112)
	}
	if n >= 128 {
		info.BytesAcked = u64(120)
	}
	if n >= 136 {
		info.BytesReceived = u64(128)
	}
	if n >= 140 {
		info.SegsOut = u32(136)
	}
	if n >= 144 {
		info.SegsIn = u32(140)
	}
	if n >= 148 {
		info.NotSentBytes = u32(144)
	}
	if n >= 152 {
		info.MinRTT = u32(148)
	}
	if n >= 156 {
		info.DataSegsIn = u32(152)
	}
	if n >= 160 {
		info.DataSegsOut = u32(156)
	}
	if n >= 168 {
		info.DeliveryRate = u64(160)
	}
	if n >= 176 {
		info.BusyTime = u64(168)
	}
	if n >= 184 {
		info.RwndLimited = u64(176)
	}
	if n >= 192 {
		info.SndbufLimited = u64(184)
	}
	if n >= 196 {
		info.Delivered = u32(192)
	}
	if n >= 200 {
		info.DeliveredCE = u32(196)
	}
	if n >= 208 {
		info.BytesSent = u64(200)
	}
	if n >= 216 {
		info.BytesRetrans = u64(208)
	}
	if n >= 220 {
		info.DSACKDups = u32(216)
	}
	if n >= 224 {
		info.ReordSeen = u32(220)
	}
	if n >= 228 {
		info.RcvOOOPack = u32(224)
	}
	if n >= 232 {
		info.SndWnd = u32(228)
	}
	if n >= 236 {
		info.RcvWnd = u32(232)
	}
	if n >= 240 {
		info.Rehash = u32(236)
	}
	if n >= 242 {
		info.TotalRTO = ne.Uint16(b[240:242])
	}
	if n >= 244 {
		info.TotalRTORecoveries = ne.Uint16(b[242:244])
	}
	if n >= 248 {
		info.TotalRTOTime = u32(244)
	}
	if n >= 252 {
		info.ReceivedCE = u32(248)
	}
	if n >= 256 {
		info.DeliveredE1Bytes = u32(252)
	}
	if n >= 260 {
		info.DeliveredE0Bytes = u32(256)
	}
	if n >= 264 {
		info.DeliveredCEBytes = u32(260)
	}
	if n >= 268 {
		info.ReceivedE1Bytes = u32(264)
	}
	if n >= 272 {
		info.ReceivedE0Bytes = u32(268)
	}
	if n >= 276 {
		info.ReceivedCEBytes = u32(272)
	}
	if n >= sizeofTCPInfo {
		// tcpi_ecn_mode:2, tcpi_accecn_opt_seen:2,
		// tcpi_accecn_fail_mode:4, tcpi_options2:24 in one u32.
		w := u32(276)
		if bigEndian {
			info.ECNMode = uint8(w >> 30)
			info.AccECNOptSeen = uint8(w >> 28 & 0x3)
			info.AccECNFailMode = uint8(w >> 24 & 0xf)
			info.Options2 = w & 0xffffff
		} else {
			info.ECNMode = uint8(w & 0x3)
			info.AccECNOptSeen = uint8(w >> 2 & 0x3)
			info.AccECNFailMode = uint8(w >> 4 & 0xf)
			info.Options2 = w >> 8
		}
	}
	return nil
}
