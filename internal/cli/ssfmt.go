package cli

import (
	"math"
	"strconv"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

// This file writes the extra text of -o, -p, -m and -i as ss(8) prints it
// (misc/ss.c of iproute2: tcp_timer_print, proc_ctx_print,
// print_skmeminfo, tcp_show_info and tcp_stats_print): the same keys, the
// same conditions for leaving a key out, and the same number formats,
// with ss -n's plain bits per second for rates. Each function appends to a
// byte slice, as the table is built in one buffer.

// appendG appends x as C's printf %g does: 6 significant digits, trailing
// zeros dropped, an exponent below 1e-4 and from 1e6 on.
func appendG(b []byte, x float64) []byte {
	return strconv.AppendFloat(b, x, 'g', 6, 64)
}

// appendMS appends d in milliseconds as %g does, as ss prints the
// microseconds of tcp_info divided by 1000. Such a value has at most three
// decimals, so when it has at most 6 significant digits %g prints it
// exactly, which integer formatting does faster than strconv's %g; other
// values go to appendG.
func appendMS(b []byte, d time.Duration) []byte {
	if d < 0 || d%time.Microsecond != 0 {
		return appendG(b, ms(d))
	}
	us := uint64(d / time.Microsecond)
	ip, fp := us/1000, us%1000
	frac := 3 // decimals, trailing zeros dropped
	for ; frac > 0 && fp%10 == 0; frac-- {
		fp /= 10
	}
	intDigits := 0
	for v := ip; v > 0; v /= 10 {
		intDigits++
	}
	if ip >= 1e6 || intDigits+frac > 6 {
		return appendG(b, ms(d))
	}
	b = strconv.AppendUint(b, ip, 10)
	if frac == 0 {
		return b
	}
	b = append(b, '.')
	for p := frac - 1; p >= 0; p-- {
		digit := fp
		for range p {
			digit /= 10
		}
		b = append(b, byte('0'+digit%10))
	}
	return b
}

// appendBW appends a rate in bits per second as ss -n does (%.0f): the
// value rounded to the nearest integer, halves to even, as printf rounds.
func appendBW(b []byte, bps float64) []byte {
	if r := math.RoundToEven(bps); r >= 0 && r < 1<<63 {
		b = strconv.AppendUint(b, uint64(r), 10)
	} else {
		b = strconv.AppendFloat(b, bps, 'f', 0, 64)
	}
	return append(b, "bps"...)
}

func appendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

// ms is a duration in milliseconds as a float, as ss computes
// (double)usec/1000.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// appendMSTimer appends a timer's remaining time as ss's print_ms_timer
// does: minutes, seconds and milliseconds, dropping the finer units once
// the coarser ones are large ("119min", "1.500ms", "10sec", "200ms"), and
// nothing at all for 0.
func appendMSTimer(b []byte, d time.Duration) []byte {
	timeout := uint64(d / time.Millisecond)
	secs := timeout / 1000
	minutes := secs / 60
	secs %= 60
	msecs := timeout % 1000
	if minutes > 0 {
		msecs = 0
		b = appendUint(b, minutes)
		b = append(b, "min"...)
		if minutes > 9 {
			secs = 0
		}
	}
	if secs > 0 {
		if secs > 9 {
			msecs = 0
		}
		b = appendUint(b, secs)
		if msecs > 0 {
			b = append(b, '.')
		} else {
			b = append(b, "sec"...)
		}
	}
	if msecs > 0 {
		if msecs < 100 {
			b = append(b, '0')
		}
		if msecs < 10 {
			b = append(b, '0')
		}
		b = appendUint(b, msecs)
		b = append(b, "ms"...)
	}
	return b
}

// appendTimer appends -o's "timer:(NAME,EXPIRES,RETRANSMITS)"; nothing for
// a socket without a pending timer.
func appendTimer(b []byte, s *inspect.Socket) []byte {
	if s.Timer == inspect.TimerNone {
		return b
	}
	name := "unknown"
	if s.Timer <= inspect.TimerPersist {
		name = s.Timer.String()
	}
	b = append(b, "timer:("...)
	b = append(b, name...)
	b = append(b, ',')
	b = appendMSTimer(b, s.Expires)
	b = append(b, ',')
	b = appendUint(b, uint64(s.Retransmits))
	return append(b, ')')
}

// appendUsers appends -p's users:(("comm",pid=PID,fd=FD),...).
func appendUsers(b []byte, procs []owners.Process) []byte {
	return appendProcList(b, "users:(", procs)
}

// appendProcList appends label, then procs as ("comm",pid=PID,fd=FD),...
// and a closing parenthesis.
func appendProcList(b []byte, label string, procs []owners.Process) []byte {
	b = append(b, label...)
	for i, p := range procs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "(\""...)
		b = appendComm(b, p.Comm)
		b = append(b, "\",pid="...)
		b = strconv.AppendInt(b, int64(p.PID), 10)
		if p.TID != 0 {
			b = append(b, ",tid="...)
			b = strconv.AppendInt(b, int64(p.TID), 10)
		}
		b = append(b, ",fd="...)
		b = strconv.AppendInt(b, int64(p.FD), 10)
		b = append(b, ')')
	}
	return append(b, ')')
}

// appendComm appends a command name, which a process may set to any bytes
// but NUL, with quotes, backslashes and control characters escaped so that
// it stays on its line and in its quotes. ss prints it raw.
func appendComm(b []byte, comm string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(comm); i++ {
		switch c := comm[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendMemory appends -m's " skmem:(r,rb,t,tb,f,w,o,bl,d)"; the backlog
// and drops only when the kernel sent them.
func appendMemory(b []byte, m *inspect.Memory) []byte {
	field := func(b []byte, key string, v uint32) []byte {
		b = append(b, key...)
		return appendUint(b, uint64(v))
	}
	b = field(b, " skmem:(r", m.RmemAlloc)
	b = field(b, ",rb", m.RcvBuf)
	b = field(b, ",t", m.WmemAlloc)
	b = field(b, ",tb", m.SndBuf)
	b = field(b, ",f", m.FwdAlloc)
	b = field(b, ",w", m.WmemQueued)
	b = field(b, ",o", m.OptMem)
	if m.Vars > 7 {
		b = field(b, ",bl", m.Backlog)
	}
	if m.Vars > 8 {
		b = field(b, ",d", m.Drops)
	}
	return append(b, ')')
}

// The values of tcp_info that ss leaves out: a pacing rate of "unlimited",
// and a slow start threshold from 0xffff up, where the kernel's
// TCP_INFINITE_SSTHRESH (0x7fffffff) lies.
const (
	unlimitedRate   = ^uint64(0)
	ssthreshNoLimit = 0xffff
)

// appendInfo appends -i's fields of a TCP socket, each after a space, in
// tcp_stats_print's order. The option names (ts, sack, ecn, ecnseen,
// fastopen) come only with options set, as ss prints them only with -o.
func appendInfo(b []byte, state inspect.State, in *inspect.TCPInfo, options bool) []byte {
	key := func(b []byte, k string) []byte { return append(append(b, ' '), k...) }
	u := func(b []byte, k string, v uint64) []byte {
		if v == 0 {
			return b
		}
		return appendUint(key(b, k), v)
	}
	g := func(b []byte, k string, d time.Duration) []byte {
		if d == 0 {
			return b
		}
		return appendMS(key(b, k), d)
	}

	if options {
		for _, o := range []struct {
			bit  inspect.TCPOptions
			name string
		}{
			{inspect.OptTimestamps, "ts"}, {inspect.OptSACK, "sack"}, {inspect.OptECN, "ecn"},
			{inspect.OptECNSeen, "ecnseen"}, {inspect.OptSYNData, "fastopen"},
		} {
			if in.Options&o.bit != 0 {
				b = key(b, o.name)
			}
		}
	}
	if in.Congestion != "" {
		b = key(b, in.Congestion)
	}
	if in.Options&inspect.OptWScale != 0 {
		b = appendUint(key(b, "wscale:"), uint64(in.SndWScale))
		b = appendUint(append(b, ','), uint64(in.RcvWScale))
	}
	if in.RTO != 3*time.Second {
		b = g(b, "rto:", in.RTO)
	}
	b = u(b, "backoff:", uint64(in.Backoff))
	if in.RTT != 0 {
		b = appendMS(key(b, "rtt:"), in.RTT)
		b = appendMS(append(b, '/'), in.RTTVar)
	}
	b = g(b, "ato:", in.ATO)
	b = u(b, "mss:", uint64(in.SndMSS))
	b = u(b, "pmtu:", uint64(in.PMTU))
	b = u(b, "rcvmss:", uint64(in.RcvMSS))
	b = u(b, "advmss:", uint64(in.AdvMSS))
	b = u(b, "cwnd:", uint64(in.SndCwnd))
	if in.SndSSThresh < ssthreshNoLimit {
		b = u(b, "ssthresh:", uint64(in.SndSSThresh))
	}
	b = u(b, "bytes_sent:", in.BytesSent)
	b = u(b, "bytes_retrans:", in.BytesRetrans)
	b = u(b, "bytes_acked:", in.BytesAcked)
	b = u(b, "bytes_received:", in.BytesReceived)
	b = u(b, "segs_out:", uint64(in.SegsOut))
	b = u(b, "segs_in:", uint64(in.SegsIn))
	b = u(b, "data_segs_out:", uint64(in.DataSegsOut))
	b = u(b, "data_segs_in:", uint64(in.DataSegsIn))
	if bbr := in.BBR; bbr != nil {
		b = appendBW(key(b, "bbr:(bw:"), float64(bbr.BW)*8)
		b = appendMS(append(b, ",mrtt:"...), bbr.MinRTT)
		if bbr.PacingGain != 0 {
			b = appendG(append(b, ",pacing_gain:"...), bbr.PacingGain)
		}
		if bbr.CwndGain != 0 {
			b = appendG(append(b, ",cwnd_gain:"...), bbr.CwndGain)
		}
		b = append(b, ')')
	}
	if in.RTT > 0 && in.SndMSS != 0 && in.SndCwnd != 0 {
		rttUsec := float64(in.RTT / time.Microsecond)
		b = appendBW(key(b, "send "), float64(in.SndCwnd)*float64(in.SndMSS)*8000000/rttUsec)
	}
	b = u(b, "lastsnd:", uint64(in.LastDataSent/time.Millisecond))
	b = u(b, "lastrcv:", uint64(in.LastDataRecv/time.Millisecond))
	b = u(b, "lastack:", uint64(in.LastAckRecv/time.Millisecond))
	if in.PacingRate != 0 && in.PacingRate != unlimitedRate {
		b = appendBW(key(b, "pacing_rate "), float64(in.PacingRate)*8)
		if in.MaxPacingRate != 0 && in.MaxPacingRate != unlimitedRate {
			b = appendBW(append(b, '/'), float64(in.MaxPacingRate)*8)
		}
	}
	if in.DeliveryRate != 0 {
		b = appendBW(key(b, "delivery_rate "), float64(in.DeliveryRate)*8)
	}
	b = u(b, "delivered:", uint64(in.Delivered))
	b = u(b, "delivered_ce:", uint64(in.DeliveredCE))
	if in.AppLimited {
		b = key(b, "app_limited")
	}
	if in.BusyTime != 0 {
		b = appendUint(key(b, "busy:"), uint64(in.BusyTime/time.Millisecond))
		b = append(b, "ms"...)
		limited := func(b []byte, k string, d time.Duration) []byte {
			if d == 0 {
				return b
			}
			b = appendUint(key(b, k), uint64(d/time.Millisecond))
			b = strconv.AppendFloat(append(b, "ms("...), 100*float64(d)/float64(in.BusyTime), 'f', 1, 64)
			return append(b, "%)"...)
		}
		b = limited(b, "rwnd_limited:", in.RwndLimited)
		b = limited(b, "sndbuf_limited:", in.SndbufLimited)
	}
	b = u(b, "unacked:", uint64(in.Unacked))
	if in.Retrans != 0 || in.TotalRetrans != 0 {
		b = appendUint(key(b, "retrans:"), uint64(in.Retrans))
		b = appendUint(append(b, '/'), uint64(in.TotalRetrans))
	}
	b = u(b, "lost:", uint64(in.Lost))
	if state != inspect.Listen {
		b = u(b, "sacked:", uint64(in.Sacked))
	}
	b = u(b, "dsack_dups:", uint64(in.DSACKDups))
	b = u(b, "fackets:", uint64(in.Fackets))
	if in.Reordering != 3 {
		b = appendUint(key(b, "reordering:"), uint64(in.Reordering))
	}
	b = u(b, "reord_seen:", uint64(in.ReordSeen))
	b = g(b, "rcv_rtt:", in.RcvRTT)
	b = u(b, "rcv_space:", uint64(in.RcvSpace))
	b = u(b, "rcv_ssthresh:", uint64(in.RcvSSThresh))
	b = u(b, "notsent:", uint64(in.NotSentBytes))
	b = g(b, "minrtt:", in.MinRTT)
	b = u(b, "rcv_ooopack:", uint64(in.RcvOOOPack))
	b = u(b, "snd_wnd:", uint64(in.SndWnd))
	// ss prints the upper layer protocol after the tcp_info fields (and,
	// for TLS and MPTCP subflows, its details, which are left out here).
	if in.ULP != "" {
		b = append(key(b, "tcp-ulp-"), in.ULP...)
	}
	return b
}
