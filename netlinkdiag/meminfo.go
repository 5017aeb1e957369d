package netlinkdiag

import (
	"encoding/binary"
	"fmt"
)

// SkMemInfo is the payload of AttrSkMemInfo: the u32 array indexed by
// SK_MEMINFO_* (include/uapi/linux/sock_diag.h), in bytes, except Drops.
type SkMemInfo struct {
	// Vars is how many of the array's u32 the kernel sent, its
	// SK_MEMINFO_VARS: older kernels send fewer. Backlog is valid when
	// Vars is more than 7, Drops when it is more than 8; ss leaves them out
	// otherwise.
	Vars int

	RmemAlloc  uint32 // SK_MEMINFO_RMEM_ALLOC: receive queue memory
	RcvBuf     uint32 // SK_MEMINFO_RCVBUF: receive buffer limit
	WmemAlloc  uint32 // SK_MEMINFO_WMEM_ALLOC: memory of packets sent to layer 3
	SndBuf     uint32 // SK_MEMINFO_SNDBUF: send buffer limit
	FwdAlloc   uint32 // SK_MEMINFO_FWD_ALLOC: memory reserved and not yet used
	WmemQueued uint32 // SK_MEMINFO_WMEM_QUEUED: memory of packets not yet sent to layer 3
	OptMem     uint32 // SK_MEMINFO_OPTMEM: socket options' memory
	Backlog    uint32 // SK_MEMINFO_BACKLOG: backlog queue memory
	Drops      uint32 // SK_MEMINFO_DROPS: packets dropped before reaching the socket
}

// The SK_MEMINFO_* indexes.
const (
	skMemInfoBacklog = 7
	skMemInfoDrops   = 8
)

// SizeofSkMemInfoMin is the shortest AttrSkMemInfo payload that
// DecodeSkMemInfo accepts: SK_MEMINFO_RMEM_ALLOC to SK_MEMINFO_OPTMEM.
const SizeofSkMemInfoMin = 7 * 4

// DecodeSkMemInfo decodes the payload of an AttrSkMemInfo attribute into
// m, overwriting all of it. Values past the ones sockstate knows (a newer
// kernel's) are ignored. A payload shorter than SizeofSkMemInfoMin is an
// error wrapping ErrShort; one that is not a whole number of u32 an error
// wrapping ErrMalformed. On error m is zero.
//
// The values are in native byte order.
func DecodeSkMemInfo(b []byte, m *SkMemInfo) error {
	*m = SkMemInfo{}
	if len(b) < SizeofSkMemInfoMin {
		return fmt.Errorf("netlinkdiag: sk_meminfo of %d bytes, want at least %d: %w", len(b), SizeofSkMemInfoMin, ErrShort)
	}
	if len(b)%4 != 0 {
		return fmt.Errorf("netlinkdiag: sk_meminfo of %d bytes, not a whole number of u32: %w", len(b), ErrMalformed)
	}
	ne := binary.NativeEndian
	m.Vars = len(b) / 4
	m.RmemAlloc = ne.Uint32(b[0:4])
	m.RcvBuf = ne.Uint32(b[4:8])
	m.WmemAlloc = ne.Uint32(b[8:12])
	m.SndBuf = ne.Uint32(b[12:16])
	m.FwdAlloc = ne.Uint32(b[16:20])
	m.WmemQueued = ne.Uint32(b[20:24])
	m.OptMem = ne.Uint32(b[24:28])
	if m.Vars > skMemInfoBacklog {
		m.Backlog = ne.Uint32(b[4*skMemInfoBacklog:])
	}
	if m.Vars > skMemInfoDrops {
		m.Drops = ne.Uint32(b[4*skMemInfoDrops:])
	}
	return nil
}

// BBRInfo is struct tcp_bbr_info (include/uapi/linux/inet_diag.h), the
// payload of AttrBBRInfo, which the kernel sends for a socket using BBR
// when ExtVegasInfo is asked for.
type BBRInfo struct {
	BW         uint64 // max-filtered bandwidth estimate, bytes per second
	MinRTT     uint32 // min-filtered RTT, microseconds
	PacingGain uint32 // pacing gain shifted left 8 bits
	CwndGain   uint32 // cwnd gain shifted left 8 bits
}

// sizeofBBRInfo is the size of struct tcp_bbr_info.
const sizeofBBRInfo = 20

// DecodeBBRInfo decodes the payload of an AttrBBRInfo attribute into bi,
// overwriting all of it. A payload shorter than the struct is an error
// wrapping ErrShort and leaves bi zero; bytes past it are ignored.
//
// The fields are in native byte order; the bandwidth is split into a low
// and a high u32, low first.
func DecodeBBRInfo(b []byte, bi *BBRInfo) error {
	*bi = BBRInfo{}
	if len(b) < sizeofBBRInfo {
		return fmt.Errorf("netlinkdiag: tcp_bbr_info of %d bytes, want %d: %w", len(b), sizeofBBRInfo, ErrShort)
	}
	ne := binary.NativeEndian
	bi.BW = uint64(ne.Uint32(b[0:4])) | uint64(ne.Uint32(b[4:8]))<<32
	bi.MinRTT = ne.Uint32(b[8:12])
	bi.PacingGain = ne.Uint32(b[12:16])
	bi.CwndGain = ne.Uint32(b[16:20])
	return nil
}
