package sockdiag

import (
	"time"

	"github.com/sockstate/sockstate/inspect"

	"github.com/sockstate/sockstate/netlinkdiag"
)

func usec(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }
func msec(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }

// tcpInfoFrom copies the decoder's record into the model's. The kernel's
// "no sample" value of tcpi_min_rtt, ^0, becomes 0.
func tcpInfoFrom(ti *netlinkdiag.TCPInfo, out *inspect.TCPInfo) {
	minRTT := ti.MinRTT
	if minRTT == ^uint32(0) {
		minRTT = 0
	}
	*out = inspect.TCPInfo{
		State:       inspect.State(ti.State),
		CAState:     inspect.CAState(ti.CAState),
		Options:     inspect.TCPOptions(ti.Options),
		Retransmits: ti.Retransmits,
		Probes:      ti.Probes,
		Backoff:     ti.Backoff,
		SndWScale:   ti.SndWScale,
		RcvWScale:   ti.RcvWScale,
		AppLimited:  ti.DeliveryRateAppLimited,

		RTO:    usec(ti.RTO),
		ATO:    usec(ti.ATO),
		RTT:    usec(ti.RTT),
		RTTVar: usec(ti.RTTVar),
		MinRTT: usec(minRTT),
		RcvRTT: usec(ti.RcvRTT),

		SndMSS:      ti.SndMSS,
		RcvMSS:      ti.RcvMSS,
		AdvMSS:      ti.AdvMSS,
		PMTU:        ti.PMTU,
		SndCwnd:     ti.SndCwnd,
		SndSSThresh: ti.SndSSThresh,
		RcvSSThresh: ti.RcvSSThresh,
		RcvSpace:    ti.RcvSpace,
		Reordering:  ti.Reordering,
		SndWnd:      ti.SndWnd,
		RcvWnd:      ti.RcvWnd,

		Unacked:      ti.Unacked,
		Sacked:       ti.Sacked,
		Lost:         ti.Lost,
		Retrans:      ti.Retrans,
		Fackets:      ti.Fackets,
		TotalRetrans: ti.TotalRetrans,
		DSACKDups:    ti.DSACKDups,
		ReordSeen:    ti.ReordSeen,
		RcvOOOPack:   ti.RcvOOOPack,
		NotSentBytes: ti.NotSentBytes,

		BytesSent:     ti.BytesSent,
		BytesRetrans:  ti.BytesRetrans,
		BytesAcked:    ti.BytesAcked,
		BytesReceived: ti.BytesReceived,
		SegsOut:       ti.SegsOut,
		SegsIn:        ti.SegsIn,
		DataSegsOut:   ti.DataSegsOut,
		DataSegsIn:    ti.DataSegsIn,
		Delivered:     ti.Delivered,
		DeliveredCE:   ti.DeliveredCE,

		LastDataSent: msec(ti.LastDataSent),
		LastDataRecv: msec(ti.LastDataRecv),
		LastAckRecv:  msec(ti.LastAckRecv),

		PacingRate:    ti.PacingRate,
		MaxPacingRate: ti.MaxPacingRate,
		DeliveryRate:  ti.DeliveryRate,

		BusyTime:      time.Duration(ti.BusyTime) * time.Microsecond,
		RwndLimited:   time.Duration(ti.RwndLimited) * time.Microsecond,
		SndbufLimited: time.Duration(ti.SndbufLimited) * time.Microsecond,
	}
}

func memoryFrom(m *netlinkdiag.SkMemInfo) inspect.Memory {
	return inspect.Memory{
		RmemAlloc:  m.RmemAlloc,
		RcvBuf:     m.RcvBuf,
		WmemAlloc:  m.WmemAlloc,
		SndBuf:     m.SndBuf,
		FwdAlloc:   m.FwdAlloc,
		WmemQueued: m.WmemQueued,
		OptMem:     m.OptMem,
		Backlog:    m.Backlog,
		Drops:      m.Drops,
		Vars:       m.Vars,
	}
}

func bbrFrom(b *netlinkdiag.BBRInfo) inspect.BBRInfo {
	return inspect.BBRInfo{
		BW:         b.BW,
		MinRTT:     usec(b.MinRTT),
		PacingGain: float64(b.PacingGain) / 256,
		CwndGain:   float64(b.CwndGain) / 256,
	}
}
