package netlinkdiag_test

import (
	"encoding/binary"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/netlinkdiag"
)

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// tcpInfoBytes is a whole Linux 6.18 tcp_info (280 bytes) in which every
// field holds a value of its own, and tcpInfoWant is its decoding.
func tcpInfoBytes(t testing.TB) []byte {
	if !littleEndian {
		t.Skip("the bit-field bytes below are laid out for a little-endian host")
	}
	b := make([]byte, 280)
	ne := binary.NativeEndian
	copy(b, []byte{1, 3, 2, 4, 5, netlinkdiag.TCPIOptTimestamps | netlinkdiag.TCPIOptSACK | netlinkdiag.TCPIOptWScale})
	b[6] = 7<<4 | 9                     // rcv_wscale 7, snd_wscale 9
	b[7] = 1 | 2<<1                     // app limited, fastopen_client_fail 2
	for off := 8; off < 104; off += 4 { // rto .. total_retrans: 1008, 1012, ...
		ne.PutUint32(b[off:], uint32(1000+off))
	}
	ne.PutUint64(b[104:], 1<<40)      // pacing_rate
	ne.PutUint64(b[112:], ^uint64(0)) // max_pacing_rate
	ne.PutUint64(b[120:], 1001)       // bytes_acked
	ne.PutUint64(b[128:], 2002)       // bytes_received
	for off := 136; off < 160; off += 4 {
		ne.PutUint32(b[off:], uint32(3000+off))
	}
	ne.PutUint64(b[160:], 4160) // delivery_rate
	ne.PutUint64(b[168:], 4168) // busy_time
	ne.PutUint64(b[176:], 4176) // rwnd_limited
	ne.PutUint64(b[184:], 4184) // sndbuf_limited
	ne.PutUint32(b[192:], 5192) // delivered
	ne.PutUint32(b[196:], 5196) // delivered_ce
	ne.PutUint64(b[200:], 6200) // bytes_sent
	ne.PutUint64(b[208:], 6208) // bytes_retrans
	for off := 216; off < 240; off += 4 {
		ne.PutUint32(b[off:], uint32(7000+off))
	}
	ne.PutUint16(b[240:], 8240) // total_rto
	ne.PutUint16(b[242:], 8242) // total_rto_recoveries
	for off := 244; off < 276; off += 4 {
		ne.PutUint32(b[off:], uint32(9000+off))
	}
	ne.PutUint32(b[276:], 2|1<<2|5<<4|0xabcdef<<8) // ecn_mode, opt_seen, fail_mode, options2
	return b
}

var tcpInfoWant = netlinkdiag.TCPInfo{
	Size: 280, State: 1, CAState: 3, Retransmits: 2, Probes: 4, Backoff: 5, Options: 7,
	SndWScale: 9, RcvWScale: 7, DeliveryRateAppLimited: true, FastOpenClientFail: 2,
	RTO: 1008, ATO: 1012, SndMSS: 1016, RcvMSS: 1020, Unacked: 1024, Sacked: 1028, Lost: 1032,
	Retrans: 1036, Fackets: 1040, LastDataSent: 1044, LastAckSent: 1048, LastDataRecv: 1052,
	LastAckRecv: 1056, PMTU: 1060, RcvSSThresh: 1064, RTT: 1068, RTTVar: 1072, SndSSThresh: 1076,
	SndCwnd: 1080, AdvMSS: 1084, Reordering: 1088, RcvRTT: 1092, RcvSpace: 1096, TotalRetrans: 1100,
	PacingRate: 1 << 40, MaxPacingRate: ^uint64(0), BytesAcked: 1001, BytesReceived: 2002,
	SegsOut: 3136, SegsIn: 3140, NotSentBytes: 3144, MinRTT: 3148, DataSegsIn: 3152, DataSegsOut: 3156,
	DeliveryRate: 4160, BusyTime: 4168, RwndLimited: 4176, SndbufLimited: 4184,
	Delivered: 5192, DeliveredCE: 5196, BytesSent: 6200, BytesRetrans: 6208,
	DSACKDups: 7216, ReordSeen: 7220, RcvOOOPack: 7224, SndWnd: 7228, RcvWnd: 7232, Rehash: 7236,
	TotalRTO: 8240, TotalRTORecoveries: 8242, TotalRTOTime: 9244,
	ReceivedCE: 9248, DeliveredE1Bytes: 9252, DeliveredE0Bytes: 9256, DeliveredCEBytes: 9260,
	ReceivedE1Bytes: 9264, ReceivedE0Bytes: 9268, ReceivedCEBytes: 9272,
	ECNMode: 2, AccECNOptSeen: 1, AccECNFailMode: 5, Options2: 0xabcdef,
}

// tcpInfoVersions are the lengths tcp_info has had, each with the fields
// that the next longer one added, which a shorter attribute must leave zero.
var tcpInfoVersions = []struct {
	size  int
	clear func(*netlinkdiag.TCPInfo) // zeroes the fields past size
}{
	{104, func(i *netlinkdiag.TCPInfo) { i.PacingRate, i.MaxPacingRate = 0, 0 }},
	{120, func(i *netlinkdiag.TCPInfo) { i.BytesAcked, i.BytesReceived = 0, 0 }},
	{136, func(i *netlinkdiag.TCPInfo) { i.SegsOut, i.SegsIn = 0, 0 }},
	{144, func(i *netlinkdiag.TCPInfo) { i.NotSentBytes, i.MinRTT, i.DataSegsIn, i.DataSegsOut = 0, 0, 0, 0 }},
	{160, func(i *netlinkdiag.TCPInfo) { i.DeliveryRate = 0 }},
	{168, func(i *netlinkdiag.TCPInfo) { i.BusyTime, i.RwndLimited, i.SndbufLimited = 0, 0, 0 }},
	{192, func(i *netlinkdiag.TCPInfo) { i.Delivered, i.DeliveredCE = 0, 0 }},
	{200, func(i *netlinkdiag.TCPInfo) { i.BytesSent, i.BytesRetrans, i.DSACKDups, i.ReordSeen = 0, 0, 0, 0 }},
	{224, func(i *netlinkdiag.TCPInfo) { i.RcvOOOPack, i.SndWnd = 0, 0 }},
	{232, func(i *netlinkdiag.TCPInfo) { i.RcvWnd, i.Rehash = 0, 0 }},
	{240, func(i *netlinkdiag.TCPInfo) { i.TotalRTO, i.TotalRTORecoveries, i.TotalRTOTime = 0, 0, 0 }},
	{248, func(i *netlinkdiag.TCPInfo) {
		i.ReceivedCE, i.DeliveredE1Bytes, i.DeliveredE0Bytes, i.DeliveredCEBytes = 0, 0, 0, 0
		i.ReceivedE1Bytes, i.ReceivedE0Bytes, i.ReceivedCEBytes = 0, 0, 0
		i.ECNMode, i.AccECNOptSeen, i.AccECNFailMode, i.Options2 = 0, 0, 0, 0
	}},
	{280, func(*netlinkdiag.TCPInfo) {}},
}

func TestDecodeTCPInfo(t *testing.T) {
	full := tcpInfoBytes(t)
	for _, v := range tcpInfoVersions {
		t.Run("size "+strconv.Itoa(v.size), func(t *testing.T) {
			want := tcpInfoWant
			want.Size = v.size
			for _, w := range tcpInfoVersions {
				if w.size >= v.size {
					w.clear(&want)
				}
			}
			var got netlinkdiag.TCPInfo
			if err := netlinkdiag.DecodeTCPInfo(full[:v.size], &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("longer than known", func(t *testing.T) {
		b := append(append([]byte(nil), full...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		want := tcpInfoWant
		want.Size = len(b)
		var got netlinkdiag.TCPInfo
		if err := netlinkdiag.DecodeTCPInfo(b, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("ends inside a field", func(t *testing.T) {
		// 4 bytes into bytes_acked: pacing rates are whole, bytes_acked is not.
		want := tcpInfoWant
		want.Size = 124
		for _, w := range tcpInfoVersions[1:] {
			w.clear(&want)
		}
		var got netlinkdiag.TCPInfo
		if err := netlinkdiag.DecodeTCPInfo(full[:124], &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestDecodeTCPInfoShort(t *testing.T) {
	full := tcpInfoBytes(t)
	for _, n := range []int{0, 1, 8, 103} {
		got := tcpInfoWant // DecodeTCPInfo must overwrite it
		err := netlinkdiag.DecodeTCPInfo(full[:n], &got)
		if !errors.Is(err, netlinkdiag.ErrShort) {
			t.Errorf("%d bytes: error %v, want ErrShort", n, err)
		}
		if got != (netlinkdiag.TCPInfo{}) {
			t.Errorf("%d bytes: %+v left behind, want the zero TCPInfo", n, got)
		}
	}
}

// attr is a netlink attribute: header (length, type) and payload, padded.
func attr(typ uint16, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// TestTCPInfoAttr decodes tcp_info out of hand-built attribute lists as a
// reply carries them: after another attribute, from an older kernel, and
// cut short by the end of the message.
func TestTCPInfoAttr(t *testing.T) {
	full := tcpInfoBytes(t)
	cong := attr(netlinkdiag.AttrCong, []byte("cubic\x00"))
	tests := []struct {
		name    string
		attrs   []byte
		size    int   // of the tcp_info decoded
		attrErr error // from the AttrDecoder
		infoErr error // from DecodeTCPInfo
	}{
		{name: "whole", attrs: append(cong, attr(netlinkdiag.AttrInfo, full)...), size: 280},
		{name: "older kernel", attrs: append(cong, attr(netlinkdiag.AttrInfo, full[:232])...), size: 232},
		{name: "oldest kernel", attrs: attr(netlinkdiag.AttrInfo, full[:104]), size: 104},
		{name: "message ends inside the attribute", attrs: append(cong, attr(netlinkdiag.AttrInfo, full)[:200]...), attrErr: netlinkdiag.ErrShort},
		{name: "attribute shorter than any tcp_info", attrs: attr(netlinkdiag.AttrInfo, full[:100]), infoErr: netlinkdiag.ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var info netlinkdiag.TCPInfo
			var infoErr error
			seen := false
			ad := netlinkdiag.NewAttrDecoder(tt.attrs)
			for ad.Next() {
				if ad.Type() == netlinkdiag.AttrInfo {
					seen = true
					infoErr = netlinkdiag.DecodeTCPInfo(ad.Bytes(), &info)
				}
			}
			if !errors.Is(ad.Err(), tt.attrErr) || (tt.attrErr == nil && ad.Err() != nil) {
				t.Fatalf("attribute error %v, want %v", ad.Err(), tt.attrErr)
			}
			if tt.attrErr != nil {
				if seen {
					t.Error("the cut attribute was handed out")
				}
				return
			}
			if !errors.Is(infoErr, tt.infoErr) || (tt.infoErr == nil && infoErr != nil) {
				t.Fatalf("DecodeTCPInfo error %v, want %v", infoErr, tt.infoErr)
			}
			if tt.infoErr != nil {
				return
			}
			if info.Size != tt.size || info.SndMSS != 1016 || info.SndCwnd != 1080 {
				t.Errorf("decoded %+v, want size %d, mss 1016, cwnd 1080", info, tt.size)
			}
		})
	}
}

func TestDecodeSkMemInfo(t *testing.T) {
	u32s := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.NativeEndian.AppendUint32(b, v)
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want netlinkdiag.SkMemInfo
		err  error
	}{
		{
			name: "nine values",
			b:    u32s(1, 131072, 3, 2626560, 5, 6, 7, 8, 9),
			want: netlinkdiag.SkMemInfo{Vars: 9, RmemAlloc: 1, RcvBuf: 131072, WmemAlloc: 3, SndBuf: 2626560, FwdAlloc: 5, WmemQueued: 6, OptMem: 7, Backlog: 8, Drops: 9},
		},
		{
			name: "newer kernel, more values",
			b:    u32s(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
			want: netlinkdiag.SkMemInfo{Vars: 11, RmemAlloc: 1, RcvBuf: 2, WmemAlloc: 3, SndBuf: 4, FwdAlloc: 5, WmemQueued: 6, OptMem: 7, Backlog: 8, Drops: 9},
		},
		{
			name: "no drops",
			b:    u32s(1, 2, 3, 4, 5, 6, 7, 8),
			want: netlinkdiag.SkMemInfo{Vars: 8, RmemAlloc: 1, RcvBuf: 2, WmemAlloc: 3, SndBuf: 4, FwdAlloc: 5, WmemQueued: 6, OptMem: 7, Backlog: 8},
		},
		{
			name: "neither backlog nor drops",
			b:    u32s(1, 2, 3, 4, 5, 6, 7),
			want: netlinkdiag.SkMemInfo{Vars: 7, RmemAlloc: 1, RcvBuf: 2, WmemAlloc: 3, SndBuf: 4, FwdAlloc: 5, WmemQueued: 6, OptMem: 7},
		},
		{name: "six values", b: u32s(1, 2, 3, 4, 5, 6), err: netlinkdiag.ErrShort},
		{name: "empty", b: nil, err: netlinkdiag.ErrShort},
		{name: "part of a value", b: append(u32s(1, 2, 3, 4, 5, 6, 7, 8), 1, 2), err: netlinkdiag.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := netlinkdiag.SkMemInfo{Vars: 99, Drops: 99} // must be overwritten
			err := netlinkdiag.DecodeSkMemInfo(tt.b, &got)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				if got != (netlinkdiag.SkMemInfo{}) {
					t.Errorf("%+v left behind on error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeBBRInfo(t *testing.T) {
	var b []byte
	for _, v := range []uint32{0x89abcdef, 0x1, 15, 739, 256} {
		b = binary.NativeEndian.AppendUint32(b, v)
	}
	var got netlinkdiag.BBRInfo
	if err := netlinkdiag.DecodeBBRInfo(b, &got); err != nil {
		t.Fatal(err)
	}
	want := netlinkdiag.BBRInfo{BW: 0x189abcdef, MinRTT: 15, PacingGain: 739, CwndGain: 256}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := netlinkdiag.DecodeBBRInfo(b[:19], &got); !errors.Is(err, netlinkdiag.ErrShort) || got != (netlinkdiag.BBRInfo{}) {
		t.Errorf("19 bytes: %+v, %v; want zero and ErrShort", got, err)
	}
}

func FuzzDecodeTCPInfo(f *testing.F) {
	full := make([]byte, 280)
	f.Add(full)
	f.Add(full[:104])
	f.Add(full[:103])
	f.Add(append(full, 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		var info netlinkdiag.TCPInfo
		err := netlinkdiag.DecodeTCPInfo(b, &info)
		if err != nil {
			if !errors.Is(err, netlinkdiag.ErrShort) || len(b) >= netlinkdiag.SizeofTCPInfoMin {
				t.Fatalf("%d bytes: error %v", len(b), err)
			}
			if info != (netlinkdiag.TCPInfo{}) {
				t.Fatalf("partial result %+v with error", info)
			}
			return
		}
		ne := binary.NativeEndian
		if info.Size != len(b) || info.State != b[0] || info.Options != b[5] ||
			info.RTO != ne.Uint32(b[8:]) || info.TotalRetrans != ne.Uint32(b[100:]) {
			t.Fatalf("%d bytes decoded to %+v", len(b), info)
		}
		if info.SndWScale > 15 || info.RcvWScale > 15 || info.FastOpenClientFail > 3 ||
			info.ECNMode > 3 || info.AccECNOptSeen > 3 || info.AccECNFailMode > 15 || info.Options2 > 0xffffff {
			t.Fatalf("a bit-field out of its width: %+v", info)
		}
		// Fields past the data stay zero; whole ones in it are decoded.
		if len(b) < 232 && info.SndWnd != 0 || len(b) >= 232 && info.SndWnd != ne.Uint32(b[228:]) {
			t.Fatalf("%d bytes: snd_wnd %d", len(b), info.SndWnd)
		}
		if len(b) < 280 && (info.Options2 != 0 || info.ECNMode != 0) {
			t.Fatalf("%d bytes: fields of a 280-byte struct set: %+v", len(b), info)
		}
	})
}

func FuzzDecodeSkMemInfo(f *testing.F) {
	f.Add(make([]byte, 36))
	f.Add(make([]byte, 28))
	f.Add(make([]byte, 30))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m netlinkdiag.SkMemInfo
		err := netlinkdiag.DecodeSkMemInfo(b, &m)
		if err != nil {
			if !errors.Is(err, netlinkdiag.ErrShort) && !errors.Is(err, netlinkdiag.ErrMalformed) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			if m != (netlinkdiag.SkMemInfo{}) {
				t.Fatalf("partial result %+v with error", m)
			}
			return
		}
		ne := binary.NativeEndian
		if m.Vars*4 != len(b) || m.RmemAlloc != ne.Uint32(b) || m.OptMem != ne.Uint32(b[24:]) {
			t.Fatalf("%d bytes decoded to %+v", len(b), m)
		}
		if m.Vars <= 8 && m.Drops != 0 || m.Vars <= 7 && m.Backlog != 0 {
			t.Fatalf("%d values yet backlog %d drops %d", m.Vars, m.Backlog, m.Drops)
		}
	})
}

func BenchmarkDecodeTCPInfo(b *testing.B) {
	full := tcpInfoBytes(b)
	var info netlinkdiag.TCPInfo
	b.ReportAllocs()
	b.SetBytes(int64(len(full)))
	for b.Loop() {
		if err := netlinkdiag.DecodeTCPInfo(full, &info); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzDecodeBBRInfo(f *testing.F) {
	f.Add(make([]byte, 20))
	f.Add(make([]byte, 19))
	f.Fuzz(func(t *testing.T, b []byte) {
		var bi netlinkdiag.BBRInfo
		err := netlinkdiag.DecodeBBRInfo(b, &bi)
		if err != nil {
			if !errors.Is(err, netlinkdiag.ErrShort) || len(b) >= 20 || bi != (netlinkdiag.BBRInfo{}) {
				t.Fatalf("%d bytes: %+v, %v", len(b), bi, err)
			}
			return
		}
		ne := binary.NativeEndian
		if bi.BW != uint64(ne.Uint32(b))|uint64(ne.Uint32(b[4:]))<<32 || bi.CwndGain != ne.Uint32(b[16:]) {
			t.Fatalf("%d bytes decoded to %+v", len(b), bi)
		}
	})
}
