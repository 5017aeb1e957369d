package procsrc

import (
	"context"
	"fmt"
	"github.com/sockstate/sockstate/inspect"

	"github.com/sockstate/sockstate/procnet"
)

// Summary is the socket summary ss -s prints: the counters of
// /proc/net/sockstat and sockstat6 and a count of established connections,
// combined as ss combines them.
type Summary struct {
	// Sockets is the namespace's sockets with a file, of every family
	// ("sockets: used"; ss's Total).
	Sockets int64

	// TCPAll is TCP sockets allocated on the host plus the namespace's
	// TIME_WAIT ones (alloc + tw), ss's "TCP:" figure.
	TCPAll int64
	// TCPEstablished is the namespace's connections in ESTABLISHED or
	// CLOSE_WAIT, the sockets the kernel's tcpCurrEstab counter counts.
	TCPEstablished int64
	// TCPClosed is alloc minus the namespace's hashed sockets other than
	// TIME_WAIT: sockets allocated but in no table, ss's "closed".
	TCPClosed int64
	// TCPOrphaned is TCP sockets no file refers to any more, host-wide.
	TCPOrphaned int64
	// TCPTimeWait is the namespace's TIME_WAIT sockets.
	TCPTimeWait int64

	// The transport table: sockets in use per protocol and family. TCP
	// counts hashed sockets, TIME_WAIT included; FRAG counts reassembly
	// queues.
	RAW, UDP, TCP, FRAG Counts
}

// Counts is one row of the transport table.
type Counts struct {
	IPv4, IPv6 int64
}

// Total is the row's IPv4 and IPv6 counts together.
func (c Counts) Total() int64 { return c.IPv4 + c.IPv6 }

// INET is the transport table's INET row: RAW, UDP and TCP together.
func (s *Summary) INET() Counts {
	return Counts{
		IPv4: s.RAW.IPv4 + s.UDP.IPv4 + s.TCP.IPv4,
		IPv6: s.RAW.IPv6 + s.UDP.IPv6 + s.TCP.IPv6,
	}
}

// summaryFrom combines sockstat's counters and the established count as
// print_summary in ss does.
func summaryFrom(st *procnet.Sockstat, established int64) Summary {
	return Summary{
		Sockets:        st.Sockets,
		TCPAll:         st.TCP.Alloc + st.TCP.TW,
		TCPEstablished: established,
		TCPClosed:      st.TCP.Alloc - (st.TCP.InUse + st.TCP6.InUse - st.TCP.TW),
		TCPOrphaned:    st.TCP.Orphan,
		TCPTimeWait:    st.TCP.TW,
		RAW:            Counts{st.RAW.InUse, st.RAW6.InUse},
		UDP:            Counts{st.UDP.InUse, st.UDP6.InUse},
		TCP:            Counts{st.TCP.InUse, st.TCP6.InUse},
		FRAG:           Counts{st.FRAG.InUse, st.FRAG6.InUse},
	}
}

// ReadSummary reads the summary of the network namespace open at netNS (0:
// the caller's): sockstat and sockstat6 from a thread in that namespace,
// and the established count from src, which must list the same namespace.
// ss reads that count from /proc/net/snmp's CurrEstab; counting the
// sockets instead gives the same number at one instant, and works with
// either source.
func ReadSummary(ctx context.Context, src inspect.Source, netNS int) (Summary, error) {
	st, err := readSockstat(netNS)
	if err != nil {
		return Summary{}, fmt.Errorf("inspect: summary: %w", err)
	}
	socks, err := src.Sockets(ctx, inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.StatesOf(inspect.Established, inspect.CloseWait)})
	if err != nil {
		return Summary{}, fmt.Errorf("inspect: summary: %w", err)
	}
	return summaryFrom(&st, int64(len(socks))), nil
}
