package cli

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

// jsonEndpoint is an address and port; with -r also the names found for
// them, beside the numbers.
type jsonEndpoint struct {
	Addr    string `json:"addr"`
	Host    string `json:"host,omitempty"`
	Port    uint16 `json:"port"`
	Service string `json:"service,omitempty"`
}

// newJSONEndpoint returns ap's jsonEndpoint, with the names n has for it
// as an endpoint of protocol p.
func newJSONEndpoint(ap netip.AddrPort, p inspect.Protocol, n *names) jsonEndpoint {
	host, service := n.endpointNames(ap, p)
	return jsonEndpoint{Addr: ap.Addr().String(), Host: host, Port: ap.Port(), Service: service}
}

type jsonSocket struct {
	Netid     string         `json:"netid"`
	Family    string         `json:"family"`
	State     string         `json:"state"`
	RecvQ     uint32         `json:"recv_q"`
	SendQ     uint32         `json:"send_q"`
	Local     jsonEndpoint   `json:"local"`
	Peer      jsonEndpoint   `json:"peer"`
	UID       uint32         `json:"uid"`
	Inode     uint64         `json:"inode"`
	Cookie    string         `json:"cookie,omitempty"`
	NetNS     *jsonNetNS     `json:"netns,omitempty"`
	Cgroup    string         `json:"cgroup,omitempty"`
	Container *jsonContainer `json:"container,omitempty"`
	Timer     *jsonTimer     `json:"timer,omitempty"`
	Process   []jsonProcess  `json:"process,omitempty"`
	Memory    *jsonMemory    `json:"memory,omitempty"`
	Info      *jsonTCPInfo   `json:"info,omitempty"`
}

type jsonTimer struct {
	Name      string `json:"name"`
	ExpiresMS int64  `json:"expires_ms"`
	Retrans   uint8  `json:"retrans"`
}

type jsonProcess struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	FD   int    `json:"fd"`
	TID  int    `json:"tid,omitempty"`
}

type jsonMemory struct {
	RmemAlloc  uint32  `json:"rmem_alloc"`
	RcvBuf     uint32  `json:"rcvbuf"`
	WmemAlloc  uint32  `json:"wmem_alloc"`
	SndBuf     uint32  `json:"sndbuf"`
	FwdAlloc   uint32  `json:"fwd_alloc"`
	WmemQueued uint32  `json:"wmem_queued"`
	OptMem     uint32  `json:"optmem"`
	Backlog    *uint32 `json:"backlog,omitempty"`
	Drops      *uint32 `json:"drops,omitempty"`
}

// jsonTCPInfo is -i's "info" object: times in milliseconds (fractions for
// microsecond precision), rates in bits per second as ss prints them,
// counts as the kernel keeps them.
type jsonTCPInfo struct {
	State         string   `json:"state"`
	CAState       string   `json:"ca_state"`
	Options       []string `json:"options"`
	SndWScale     *uint8   `json:"snd_wscale,omitempty"`
	RcvWScale     *uint8   `json:"rcv_wscale,omitempty"`
	Congestion    string   `json:"congestion,omitempty"`
	ULP           string   `json:"ulp,omitempty"`
	RTOMS         float64  `json:"rto_ms"`
	ATOMS         float64  `json:"ato_ms"`
	RTTMS         float64  `json:"rtt_ms"`
	RTTVarMS      float64  `json:"rttvar_ms"`
	MinRTTMS      float64  `json:"min_rtt_ms"`
	RcvRTTMS      float64  `json:"rcv_rtt_ms"`
	Backoff       uint8    `json:"backoff"`
	SndMSS        uint32   `json:"mss"`
	RcvMSS        uint32   `json:"rcv_mss"`
	AdvMSS        uint32   `json:"advmss"`
	PMTU          uint32   `json:"pmtu"`
	Cwnd          uint32   `json:"cwnd"`
	SSThresh      *uint32  `json:"ssthresh,omitempty"`
	RcvSSThresh   uint32   `json:"rcv_ssthresh"`
	RcvSpace      uint32   `json:"rcv_space"`
	Reordering    uint32   `json:"reordering"`
	SndWnd        uint32   `json:"snd_wnd"`
	RcvWnd        uint32   `json:"rcv_wnd"`
	Unacked       uint32   `json:"unacked"`
	Sacked        uint32   `json:"sacked"`
	Lost          uint32   `json:"lost"`
	Retrans       uint32   `json:"retrans"`
	TotalRetrans  uint32   `json:"total_retrans"`
	DSACKDups     uint32   `json:"dsack_dups"`
	ReordSeen     uint32   `json:"reord_seen"`
	RcvOOOPack    uint32   `json:"rcv_ooopack"`
	NotSent       uint32   `json:"notsent"`
	BytesSent     uint64   `json:"bytes_sent"`
	BytesRetrans  uint64   `json:"bytes_retrans"`
	BytesAcked    uint64   `json:"bytes_acked"`
	BytesReceived uint64   `json:"bytes_received"`
	SegsOut       uint32   `json:"segs_out"`
	SegsIn        uint32   `json:"segs_in"`
	DataSegsOut   uint32   `json:"data_segs_out"`
	DataSegsIn    uint32   `json:"data_segs_in"`
	Delivered     uint32   `json:"delivered"`
	DeliveredCE   uint32   `json:"delivered_ce"`
	LastSendMS    int64    `json:"lastsnd_ms"`
	LastRecvMS    int64    `json:"lastrcv_ms"`
	LastAckMS     int64    `json:"lastack_ms"`
	PacingRate    *float64 `json:"pacing_rate_bps,omitempty"`
	MaxPacingRate *float64 `json:"max_pacing_rate_bps,omitempty"`
	DeliveryRate  float64  `json:"delivery_rate_bps"`
	AppLimited    bool     `json:"app_limited"`
	BusyMS        int64    `json:"busy_ms"`
	RwndLimitedMS int64    `json:"rwnd_limited_ms"`
	SndbufLimitMS int64    `json:"sndbuf_limited_ms"`
	BBR           *jsonBBR `json:"bbr,omitempty"`
}

type jsonBBR struct {
	BW         float64 `json:"bw_bps"`
	MinRTTMS   float64 `json:"min_rtt_ms"`
	PacingGain float64 `json:"pacing_gain"`
	CwndGain   float64 `json:"cwnd_gain"`
}

func newJSONTCPInfo(in *inspect.TCPInfo) *jsonTCPInfo {
	names := in.Options.Names()
	if names == nil {
		names = []string{}
	}
	j := &jsonTCPInfo{
		State: in.State.String(), CAState: in.CAState.String(), Options: names, Congestion: in.Congestion, ULP: in.ULP,
		RTOMS: ms(in.RTO), ATOMS: ms(in.ATO), RTTMS: ms(in.RTT), RTTVarMS: ms(in.RTTVar),
		MinRTTMS: ms(in.MinRTT), RcvRTTMS: ms(in.RcvRTT), Backoff: in.Backoff,
		SndMSS: in.SndMSS, RcvMSS: in.RcvMSS, AdvMSS: in.AdvMSS, PMTU: in.PMTU, Cwnd: in.SndCwnd,
		RcvSSThresh: in.RcvSSThresh, RcvSpace: in.RcvSpace, Reordering: in.Reordering,
		SndWnd: in.SndWnd, RcvWnd: in.RcvWnd, Unacked: in.Unacked, Sacked: in.Sacked, Lost: in.Lost,
		Retrans: in.Retrans, TotalRetrans: in.TotalRetrans, DSACKDups: in.DSACKDups, ReordSeen: in.ReordSeen,
		RcvOOOPack: in.RcvOOOPack, NotSent: in.NotSentBytes,
		BytesSent: in.BytesSent, BytesRetrans: in.BytesRetrans, BytesAcked: in.BytesAcked, BytesReceived: in.BytesReceived,
		SegsOut: in.SegsOut, SegsIn: in.SegsIn, DataSegsOut: in.DataSegsOut, DataSegsIn: in.DataSegsIn,
		Delivered: in.Delivered, DeliveredCE: in.DeliveredCE,
		LastSendMS: int64(in.LastDataSent / time.Millisecond), LastRecvMS: int64(in.LastDataRecv / time.Millisecond),
		LastAckMS:    int64(in.LastAckRecv / time.Millisecond),
		DeliveryRate: float64(in.DeliveryRate) * 8, AppLimited: in.AppLimited,
		BusyMS: int64(in.BusyTime / time.Millisecond), RwndLimitedMS: int64(in.RwndLimited / time.Millisecond),
		SndbufLimitMS: int64(in.SndbufLimited / time.Millisecond),
	}
	if in.Options&inspect.OptWScale != 0 {
		j.SndWScale, j.RcvWScale = &in.SndWScale, &in.RcvWScale
	}
	if in.SndSSThresh < ssthreshNoLimit {
		j.SSThresh = &in.SndSSThresh
	}
	if in.PacingRate != 0 && in.PacingRate != unlimitedRate {
		r := float64(in.PacingRate) * 8
		j.PacingRate = &r
	}
	if in.MaxPacingRate != 0 && in.MaxPacingRate != unlimitedRate {
		r := float64(in.MaxPacingRate) * 8
		j.MaxPacingRate = &r
	}
	if bbr := in.BBR; bbr != nil {
		j.BBR = &jsonBBR{BW: float64(bbr.BW) * 8, MinRTTMS: ms(bbr.MinRTT), PacingGain: bbr.PacingGain, CwndGain: bbr.CwndGain}
	}
	return j
}

func newJSONSocket(s *inspect.Socket, procs []owners.Process, o *tableOptions) jsonSocket {
	j := jsonSocket{
		Netid:  s.Netid(),
		Family: s.Family.String(),
		State:  stateName(s, o.ssNames),
		RecvQ:  s.RecvQ,
		SendQ:  s.SendQ,
		Local:  newJSONEndpoint(s.Local, s.Protocol, o.names),
		Peer:   newJSONEndpoint(s.Peer, s.Protocol, o.names),
		UID:    s.UID,
		Inode:  s.Inode,
	}
	if s.Cookie != 0 {
		j.Cookie = cookieText(s.Cookie)
	}
	if o.netns != nil {
		ns := o.netns.jsonOf(s.NetNS)
		j.NetNS = &ns
	}
	if o.cgroups != nil && o.cgroups.show {
		j.Cgroup = o.cgroups.path(s.CgroupID)
	}
	if o.cgroups != nil && o.cgroups.containers {
		if n := o.cgroups.container(s.CgroupID); n.ok {
			j.Container = &jsonContainer{Runtime: n.c.Runtime, ID: n.c.ID, PodUID: n.c.PodUID, Unit: n.c.Unit}
		}
	}
	if o.timers && s.Timer != inspect.TimerNone {
		j.Timer = &jsonTimer{Name: s.Timer.String(), ExpiresMS: int64(s.Expires / time.Millisecond), Retrans: s.Retransmits}
	}
	for _, p := range procs {
		j.Process = append(j.Process, jsonProcess(p))
	}
	if m := s.Memory; o.memory && m != nil {
		j.Memory = &jsonMemory{RmemAlloc: m.RmemAlloc, RcvBuf: m.RcvBuf, WmemAlloc: m.WmemAlloc, SndBuf: m.SndBuf,
			FwdAlloc: m.FwdAlloc, WmemQueued: m.WmemQueued, OptMem: m.OptMem}
		if m.Vars > 7 {
			j.Memory.Backlog = &m.Backlog
		}
		if m.Vars > 8 {
			j.Memory.Drops = &m.Drops
		}
	}
	if o.info && s.Info != nil {
		j.Info = newJSONTCPInfo(s.Info)
	}
	return j
}

// appendJSONSocket appends what json.Encoder writes of newJSONSocket(s,
// procs, o), without its newline, by hand: reflection was two thirds of
// ls -j's rendering. It reports false, appending nothing, for a socket
// with a timer, memory or info to write, which are left to json.Encoder.
func appendJSONSocket(b []byte, s *inspect.Socket, procs []owners.Process, o *tableOptions) ([]byte, bool) {
	if (o.timers && s.Timer != inspect.TimerNone) || (o.memory && s.Memory != nil) || (o.info && s.Info != nil) {
		return b, false
	}
	b = append(b, `{"netid":`...)
	b = appendJSONString(b, s.Netid())
	b = append(b, `,"family":`...)
	b = appendJSONString(b, s.Family.String())
	b = append(b, `,"state":`...)
	b = appendJSONString(b, stateName(s, o.ssNames))
	b = append(b, `,"recv_q":`...)
	b = strconv.AppendUint(b, uint64(s.RecvQ), 10)
	b = append(b, `,"send_q":`...)
	b = strconv.AppendUint(b, uint64(s.SendQ), 10)
	b = append(b, `,"local":`...)
	b = appendJSONEndpoint(b, s.Local, s.Protocol, o.names)
	b = append(b, `,"peer":`...)
	b = appendJSONEndpoint(b, s.Peer, s.Protocol, o.names)
	b = append(b, `,"uid":`...)
	b = strconv.AppendUint(b, uint64(s.UID), 10)
	b = append(b, `,"inode":`...)
	b = strconv.AppendUint(b, s.Inode, 10)
	if s.Cookie != 0 {
		b = append(b, `,"cookie":"`...)
		b = append(appendCookie(b, s.Cookie), '"')
	}
	if o.netns != nil {
		b = appendJSONNetNS(b, o.netns.jsonOf(s.NetNS))
	}
	if o.cgroups != nil && o.cgroups.show {
		if p := o.cgroups.path(s.CgroupID); p != "" {
			b = appendJSONString(append(b, `,"cgroup":`...), p)
		}
	}
	if o.cgroups != nil && o.cgroups.containers {
		if n := o.cgroups.container(s.CgroupID); n.ok {
			b = appendJSONContainer(b, &n.c)
		}
	}
	if len(procs) > 0 {
		b = appendJSONProcs(append(b, `,"process":`...), procs)
	}
	return append(b, '}'), true
}

// appendJSONEndpoint appends newJSONEndpoint(ap, p, n) as json.Encoder
// writes it.
func appendJSONEndpoint(b []byte, ap netip.AddrPort, p inspect.Protocol, n *names) []byte {
	host, service := n.endpointNames(ap, p)
	b = append(b, `{"addr":`...)
	// An address without a zone is hex digits, dots and colons, which
	// need no escaping; a zone is an interface name, which may.
	if a := ap.Addr(); a.IsValid() && a.Zone() == "" {
		b = append(a.AppendTo(append(b, '"')), '"')
	} else {
		b = appendJSONString(b, a.String())
	}
	if host != "" {
		b = appendJSONString(append(b, `,"host":`...), host)
	}
	b = append(b, `,"port":`...)
	b = strconv.AppendUint(b, uint64(ap.Port()), 10)
	if service != "" {
		b = appendJSONString(append(b, `,"service":`...), service)
	}
	return append(b, '}')
}

// appendJSONString appends s as json.Encoder writes it: printable ASCII
// other than the quote, the backslash and the HTML characters it escapes
// (<, >, &) as it is, and anything else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}
