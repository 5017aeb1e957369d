package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

type tableOptions struct {
	// netid and state show those columns; ss leaves them out when only
	// one protocol, or one state, is listed.
	netid, state, header, extended bool
	// timers (-o) adds timer:(...), info (-i) the tcp_info line and
	// memory (-m) the skmem line, as ss does.
	timers, info, memory bool
	// processes (-p), when not nil, holds the processes holding each
	// socket (processes[i] for socks[i]), printed as users:(...) in a
	// Process column.
	processes [][]owners.Process
}

// stateName is the state as sockstate prints it: the kernel's name, except
// that a UDP socket in CLOSE is UNCONN, as ss says.
func stateName(s *inspect.Socket) string {
	if s.Protocol == inspect.UDP && s.State == inspect.Close {
		return "UNCONN"
	}
	return s.State.String()
}

// appendEndpoint appends ap as ss prints it: [v6]:port, with * for port 0.
func appendEndpoint(b []byte, ap netip.AddrPort) []byte {
	if ap.Addr().Is6() {
		b = append(b, '[')
		b = ap.Addr().AppendTo(b)
		b = append(b, ']')
	} else {
		b = ap.Addr().AppendTo(b)
	}
	b = append(b, ':')
	if ap.Port() == 0 {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// endpoint prints ap as ss does: [v6]:port, with * for port 0.
func endpoint(ap netip.AddrPort) string {
	port := "*"
	if ap.Port() != 0 {
		port = strconv.Itoa(int(ap.Port()))
	}
	if ap.Addr().Is6() {
		return "[" + ap.Addr().String() + "]:" + port
	}
	return ap.Addr().String() + ":" + port
}

// writeTable writes socks as an aligned table (writeAligned). It once
// used tablewriter for tables under 1,000 rows; TestWriteAlignedMatchesTablewriter
// holds the output to tablewriter's, byte for byte, but tablewriter took
// 10 ms of CPU for 500 rows, which is the whole of ss's time for a
// filtered listing of 10,000 sockets.
func writeTable(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	return writeAligned(w, socks, o)
}

// table lays out rows of left-aligned columns, each cell padded to its
// column's width and followed by a space, as the table has always looked.
// Only the cells are kept, in one buffer, so a listing of 100,000 sockets
// makes no allocation per cell. What follows the cells on a row (ss's
// Process column and the timer) and the second line (the -i and -m
// details) are not aligned: they are made while the rows are written, one
// at a time, and never all held at once.
type table struct {
	cols int
	buf  []byte
	ends []int32 // end of each cell in buf, row after row
	// serial formats the rows on the calling goroutine, into line, which
	// it keeps, as a table written batch by batch reuses one table.
	serial bool
	line   []byte
}

func (t *table) end() { t.ends = append(t.ends, int32(len(t.buf))) }

// cell returns cell i of row r.
func (t *table) cell(r, i int) []byte {
	k := r*t.cols + i
	start := int32(0)
	if k > 0 {
		start = t.ends[k-1]
	}
	return t.buf[start:t.ends[k]]
}

// write writes the rows, padding each cell to its column's width. tail
// appends what follows the cells of row r, its newline included; it must be
// safe to call from several goroutines at once.
//
// Rows are formatted in blocks. A large table's blocks are shared among
// GOMAXPROCS goroutines, each with two buffers it reuses, and written in
// order as they are done: -i's lines take about as long to format as the
// kernel takes to list the sockets.
func (t *table) write(w io.Writer, tail func(b []byte, r int) []byte) error {
	widths := make([]int, t.cols)
	rows := len(t.ends) / t.cols
	for r := range rows {
		for i := range t.cols {
			widths[i] = max(widths[i], len(t.cell(r, i)))
		}
	}
	format := func(b []byte, from, to int) []byte {
		const spaces = "                                                                "
		for r := from; r < to; r++ {
			for i := range t.cols {
				cell := t.cell(r, i)
				b = append(b, cell...)
				for pad := widths[i] - len(cell) + 1; pad > 0; pad -= len(spaces) {
					b = append(b, spaces[:min(pad, len(spaces))]...)
				}
			}
			b = tail(b, r)
		}
		return b
	}

	const blockRows = 1024
	blocks := (rows + blockRows - 1) / blockRows
	workers := min(runtime.GOMAXPROCS(0), blocks)
	if workers <= 1 || t.serial {
		for from := 0; from < rows; from += blockRows {
			t.line = format(t.line[:0], from, min(from+blockRows, rows))
			if _, err := w.Write(t.line); err != nil {
				return err
			}
		}
		return nil
	}
	// Worker k formats blocks k, k+workers, ...; the writer takes block n
	// from worker n%workers and gives the buffer back when written.
	type worker struct{ done, free chan []byte }
	ws := make([]worker, workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for k := range ws {
		ws[k] = worker{done: make(chan []byte, 2), free: make(chan []byte, 2)}
		ws[k].free <- nil
		ws[k].free <- nil
		wg.Go(func() {
			for n := k; n < blocks; n += workers {
				var b []byte
				select {
				case b = <-ws[k].free:
				case <-stop:
					return
				}
				from := n * blockRows
				ws[k].done <- format(b[:0], from, min(from+blockRows, rows))
			}
		})
	}
	defer wg.Wait()
	defer close(stop)
	for n := range blocks {
		k := n % workers
		b := <-ws[k].done
		if _, err := w.Write(b); err != nil {
			return err
		}
		ws[k].free <- b
	}
	return nil
}

// writeAligned writes the table tablewriter would, left-aligned columns
// each followed by one space, and what only it can: the free text after the
// cells (-p, -o) and the second lines (-i, -m).
func writeAligned(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	return (&table{}).writeSockets(w, socks, o)
}

// writeSockets lays out socks in t, reusing its buffers, and writes them.
func (t *table) writeSockets(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	t.cols = 4
	if o.netid {
		t.cols++
	}
	if o.state {
		t.cols++
	}
	if o.extended {
		t.cols += 3
	}
	t.buf = slices.Grow(t.buf[:0], 64*(len(socks)+1))
	t.ends = slices.Grow(t.ends[:0], t.cols*(len(socks)+1))
	first := 0 // the row of socks[0]
	if o.header {
		first = 1
		cell := func(s string) {
			t.buf = append(t.buf, s...)
			t.end()
		}
		if o.netid {
			cell("Netid")
		}
		if o.state {
			cell("State")
		}
		cell("Recv-Q")
		cell("Send-Q")
		cell("Local Address:Port")
		cell("Peer Address:Port")
		if o.extended {
			cell("UID")
			cell("Inode")
			cell("Cookie")
		}
	}
	for i := range socks {
		s := &socks[i]
		if o.netid {
			t.buf = append(t.buf, s.Protocol.String()...)
			t.end()
		}
		if o.state {
			t.buf = append(t.buf, stateName(s)...)
			t.end()
		}
		t.buf = strconv.AppendUint(t.buf, uint64(s.RecvQ), 10)
		t.end()
		t.buf = strconv.AppendUint(t.buf, uint64(s.SendQ), 10)
		t.end()
		t.buf = appendEndpoint(t.buf, s.Local)
		t.end()
		t.buf = appendEndpoint(t.buf, s.Peer)
		t.end()
		if o.extended {
			t.buf = strconv.AppendUint(t.buf, uint64(s.UID), 10)
			t.end()
			t.buf = strconv.AppendUint(t.buf, s.Inode, 10)
			t.end()
			t.buf = appendCookie(t.buf, s.Cookie)
			t.end()
		}
	}
	return t.write(w, func(b []byte, r int) []byte {
		if r < first {
			if o.processes != nil {
				b = append(b, "Process"...)
			}
			return append(b, '\n')
		}
		i := r - first
		s := &socks[i]
		// Users, then the timer, as ss orders them.
		start := len(b)
		if o.processes != nil && len(o.processes[i]) > 0 {
			b = appendUsers(b, o.processes[i])
		}
		if o.timers && s.Timer != inspect.TimerNone {
			if len(b) > start {
				b = append(b, ' ')
			}
			b = appendTimer(b, s)
		}
		b = append(b, '\n')
		// ss prints the second line for every socket with -m, and for
		// every TCP socket with -i, even when the kernel sent nothing
		// to put on it (TIME_WAIT).
		if !o.memory && !(o.info && s.Protocol == inspect.TCP) {
			return b
		}
		b = append(b, '\t')
		if o.memory && s.Memory != nil {
			b = appendMemory(b, s.Memory)
		}
		if o.info && s.Info != nil {
			b = appendInfo(b, s.State, s.Info, o.timers)
		}
		return append(b, '\n')
	})
}

func cookieText(c uint64) string {
	return string(appendCookie(nil, c))
}

func appendCookie(b []byte, c uint64) []byte {
	if c == 0 {
		return append(b, '-')
	}
	return strconv.AppendUint(append(b, "0x"...), c, 16)
}

type jsonEndpoint struct {
	Addr string `json:"addr"`
	Port uint16 `json:"port"`
}

type jsonSocket struct {
	Netid   string        `json:"netid"`
	Family  string        `json:"family"`
	State   string        `json:"state"`
	RecvQ   uint32        `json:"recv_q"`
	SendQ   uint32        `json:"send_q"`
	Local   jsonEndpoint  `json:"local"`
	Peer    jsonEndpoint  `json:"peer"`
	UID     uint32        `json:"uid"`
	Inode   uint64        `json:"inode"`
	Cookie  string        `json:"cookie,omitempty"`
	Timer   *jsonTimer    `json:"timer,omitempty"`
	Process []jsonProcess `json:"process,omitempty"`
	Memory  *jsonMemory   `json:"memory,omitempty"`
	Info    *jsonTCPInfo  `json:"info,omitempty"`
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
		Netid:  s.Protocol.String(),
		Family: s.Family.String(),
		State:  stateName(s),
		RecvQ:  s.RecvQ,
		SendQ:  s.SendQ,
		Local:  jsonEndpoint{Addr: s.Local.Addr().String(), Port: s.Local.Port()},
		Peer:   jsonEndpoint{Addr: s.Peer.Addr().String(), Port: s.Peer.Port()},
		UID:    s.UID,
		Inode:  s.Inode,
	}
	if s.Cookie != 0 {
		j.Cookie = cookieText(s.Cookie)
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
	b = appendJSONString(b, s.Protocol.String())
	b = append(b, `,"family":`...)
	b = appendJSONString(b, s.Family.String())
	b = append(b, `,"state":`...)
	b = appendJSONString(b, stateName(s))
	b = append(b, `,"recv_q":`...)
	b = strconv.AppendUint(b, uint64(s.RecvQ), 10)
	b = append(b, `,"send_q":`...)
	b = strconv.AppendUint(b, uint64(s.SendQ), 10)
	b = append(b, `,"local":`...)
	b = appendJSONEndpoint(b, s.Local)
	b = append(b, `,"peer":`...)
	b = appendJSONEndpoint(b, s.Peer)
	b = append(b, `,"uid":`...)
	b = strconv.AppendUint(b, uint64(s.UID), 10)
	b = append(b, `,"inode":`...)
	b = strconv.AppendUint(b, s.Inode, 10)
	if s.Cookie != 0 {
		b = append(b, `,"cookie":"`...)
		b = append(appendCookie(b, s.Cookie), '"')
	}
	if len(procs) > 0 {
		b = append(b, `,"process":[`...)
		for i, p := range procs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"pid":`...)
			b = strconv.AppendInt(b, int64(p.PID), 10)
			b = append(b, `,"comm":`...)
			b = appendJSONString(b, p.Comm)
			b = append(b, `,"fd":`...)
			b = strconv.AppendInt(b, int64(p.FD), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

// appendJSONEndpoint appends a jsonEndpoint of ap as json.Encoder writes
// it.
func appendJSONEndpoint(b []byte, ap netip.AddrPort) []byte {
	b = append(b, `{"addr":`...)
	// An address without a zone is hex digits, dots and colons, which
	// need no escaping; a zone is an interface name, which may.
	if a := ap.Addr(); a.IsValid() && a.Zone() == "" {
		b = append(a.AppendTo(append(b, '"')), '"')
	} else {
		b = appendJSONString(b, a.String())
	}
	b = append(b, `,"port":`...)
	b = strconv.AppendUint(b, uint64(ap.Port()), 10)
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

// writeJSON writes one JSON array, an object per socket and per line. The
// timer, process, memory and info keys come with -o, -p, -m and -i, for
// the sockets that have them.
func writeJSON(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	l := listWriter{w: w, json: true}
	if err := l.write(socks, o); err != nil {
		return err
	}
	return l.close(o)
}

// listWriter writes a listing that comes in batches: a table whose
// columns are aligned within each batch, as ss aligns each part of its
// output it buffers, or one JSON array.
type listWriter struct {
	w       io.Writer
	json    bool
	started bool // a batch was written
	table   table
	line    []byte
	buf     bytes.Buffer
	enc     *json.Encoder
}

// write writes socks; o.processes, if set, holds their processes. The
// table's header, if o asks for one, comes with the first batch.
func (l *listWriter) write(socks []inspect.Socket, o tableOptions) error {
	if len(socks) == 0 {
		return nil
	}
	first := !l.started
	l.started = true
	if !l.json {
		o.header = o.header && first
		// The batches come on a goroutine that overlaps the kernel's
		// work already: each is formatted serially, in one reused table.
		l.table.serial = true
		return l.table.writeSockets(l.w, socks, o)
	}
	sep := ",\n"
	if first {
		sep = "["
	}
	for i := range socks {
		var procs []owners.Process
		if o.processes != nil {
			procs = o.processes[i]
		}
		line, ok := appendJSONSocket(append(l.line[:0], sep...), &socks[i], procs, &o)
		if !ok {
			if l.enc == nil {
				l.enc = json.NewEncoder(&l.buf)
			}
			l.buf.Reset()
			if err := l.enc.Encode(newJSONSocket(&socks[i], procs, &o)); err != nil {
				return fmt.Errorf("json: %w", err)
			}
			line = append(line, l.buf.Bytes()[:l.buf.Len()-1]...) // without the newline Encode ends with
		}
		l.line = line
		if _, err := l.w.Write(line); err != nil {
			return err
		}
		sep = ",\n"
	}
	return nil
}

// close ends the listing: the header of an empty table, the end of the
// JSON array.
func (l *listWriter) close(o tableOptions) error {
	switch {
	case l.json && !l.started:
		_, err := io.WriteString(l.w, "[]\n")
		return err
	case l.json:
		_, err := io.WriteString(l.w, "]\n")
		return err
	case !l.started:
		return writeTable(l.w, nil, o)
	}
	return nil
}
