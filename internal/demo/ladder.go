package demo

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/capture"
)

// Ladder is the exchange as a sequence diagram: the timeline's entries
// and the connection's packets in one order, each state change after the
// packet that caused it.
type Ladder struct {
	Rows []Row
	// Client and Server are the connection's ends; Interface is where
	// the packets were captured.
	Client, Server netip.AddrPort
	Interface      string
	// RawIP says the packets' frames are bare IP packets (a TUN device),
	// not Ethernet frames.
	RawIP bool
	// Caused says the states are tied to their packets: the source
	// reported every state change with the kernel's time. Otherwise the
	// states are placed where a look at the sockets saw them.
	Caused bool
	// Lost is what the capture lost; Stray counts the packets of the
	// port that were not the connection's.
	Lost  capture.Stats
	Stray int
	// Names spells the states in what is drawn of the ladder:
	// Config.Names.
	Names Names
}

// Row is one row of the ladder: an entry of the timeline or a packet.
type Row struct {
	// Entry is a step, a note or a state; nil for a packet.
	Entry *Entry
	// Packet is the row's packet; for a state, the packet that caused
	// it, if any.
	Packet *Packet
	// key names the row across builds of a growing ladder: an entry's
	// index, or minus one less the packet's.
	key int
}

// Packet is one of the connection's packets.
type Packet struct {
	capture.Packet
	// Elapsed is the packet's time since the demo started.
	Elapsed time.Duration
	// From is the side that sent it: Client or ServerConn.
	From Role
	// RelSeq and RelAck count from the initial sequence numbers, as
	// Wireshark does: the sender's for RelSeq, the receiver's for
	// RelAck (0 without ACK).
	RelSeq, RelAck uint32
	// Caused lists the state changes the packet caused, in order.
	Caused []Transition
	key    int // Row.key
}

// Transition is a state change of one of the connection's ends.
type Transition struct {
	Socket   Role
	From, To inspect.State
}

// Side names the end of the connection r is: "client" or "server".
func (r Role) Side() string {
	if r == Client {
		return "client"
	}
	return "server"
}

// Text names t as a packet comment does, its states spelled by n:
// "client SYN_SENT -> ESTABLISHED".
func (t Transition) Text(n Names) string {
	return t.Socket.Side() + " " + n.State(t.From) + " -> " + n.State(t.To)
}

// Comment lists the transitions p caused, "; " between them, their
// states spelled by n.
func (p *Packet) Comment(n Names) string {
	parts := make([]string, len(p.Caused))
	for i, t := range p.Caused {
		parts[i] = t.Text(n)
	}
	return strings.Join(parts, "; ")
}

// sentCause holds the states a socket enters as it sends the segment that
// announces them (RFC 9293, section 3.10): connect() sends a SYN, close()
// a FIN. The kernel changes the state first, so their packet follows
// them; every other state of a connection follows the packet it received.
var sentCause = map[inspect.State]bool{inspect.SynSent: true, inspect.FinWait1: true, inspect.LastAck: true}

// buildLadder orders entries and the packets between client and server,
// of all pkts, by time and, when caused, ties each state change of the
// connection's ends to its packet by order on one clock. The states come
// from the tracer on the wall clock it derives from CLOCK_MONOTONIC, the
// packets from the kernel's CLOCK_REALTIME stamps: the same clock but for
// a step of the wall clock while the demo runs. A state entered by sending
// is caused by the first packet its end sent at or after it; any other by
// the last packet its end received at or before it.
func buildLadder(entries []Entry, pkts []capture.Packet, start time.Time, client, server netip.AddrPort, caused bool) *Ladder {
	l := &Ladder{Client: client, Server: server, Interface: "lo", Caused: caused}
	var packets []*Packet
	isn := map[Role]uint32{}
	for i := range pkts {
		p := &Packet{Packet: pkts[i], Elapsed: pkts[i].Time.Sub(start)}
		switch {
		case p.Src == client && p.Dst == server:
			p.From = Client
		case p.Src == server && p.Dst == client:
			p.From = ServerConn
		default:
			l.Stray++
			continue
		}
		if p.Flags&capture.SYN != 0 {
			isn[p.From] = p.Seq
		}
		p.key = -1 - i
		packets = append(packets, p)
	}
	for _, p := range packets {
		p.RelSeq = p.Seq - isn[p.From]
		if p.Flags&capture.ACK != 0 {
			p.RelAck = p.Ack - isn[other(p.From)]
		}
	}

	rows := make([]Row, 0, len(entries)+len(packets))
	for _, p := range packets {
		rows = append(rows, Row{Packet: p, key: p.key})
	}
	var after map[*Packet][]Row
	placed := map[*Entry]bool{}
	if caused {
		after = attach(entries, packets, placed)
	}
	for i := range entries {
		if e := &entries[i]; !placed[e] {
			rows = append(rows, Row{Entry: e, key: i})
		}
	}
	slices.SortStableFunc(rows, func(a, b Row) int { return cmp.Compare(a.at(), b.at()) })
	out := make([]Row, 0, len(entries)+len(packets))
	for _, r := range rows {
		out = append(out, r)
		if r.Entry == nil {
			out = append(out, after[r.Packet]...)
		}
	}
	l.Rows = out
	return l
}

func other(r Role) Role {
	if r == Client {
		return ServerConn
	}
	return Client
}

// at is when the row happened.
func (r Row) at() time.Duration {
	if r.Entry != nil {
		return r.Entry.Elapsed
	}
	return r.Packet.Elapsed
}

// attach finds, in the order the states were reported, each connection
// state's cause in packets, records the transition on the packet, and
// returns the rows to put after each packet: the states it caused, and
// an end's "gone" after its CLOSE. It adds the entries it places to
// placed.
func attach(entries []Entry, packets []*Packet, placed map[*Entry]bool) map[*Packet][]Row {
	// The server's connection is the listener's child: the kernel clones
	// it from the listener (LISTEN -> SYN_RECV at the tracepoint), as the
	// textbook's server goes from LISTEN to SYN_RCVD.
	prev := map[Role]inspect.State{Client: inspect.Close, ServerConn: inspect.Listen}
	lastCause := map[Role]*Packet{}
	prevAt := map[Role]time.Duration{}
	after := map[*Packet][]Row{}
	for i := range entries {
		e := &entries[i]
		if e.Kind != EntryState || !e.Observed || (e.Socket != Client && e.Socket != ServerConn) {
			continue
		}
		if e.State == Gone {
			if p := lastCause[e.Socket]; p != nil {
				placed[e] = true
				after[p] = append(after[p], Row{Entry: e, Packet: p, key: i})
			}
			continue
		}
		p := causeOf(e, prevAt[e.Socket], packets)
		lastCause[e.Socket], prevAt[e.Socket] = p, e.Elapsed
		if p != nil {
			prevAt[e.Socket] = p.Elapsed
			placed[e] = true
			after[p] = append(after[p], Row{Entry: e, Packet: p, key: i})
			p.Caused = append(p.Caused, Transition{Socket: e.Socket, From: prev[e.Socket], To: e.State})
		}
		prev[e.Socket] = e.State
	}
	return after
}

// causeOf returns the packet that caused e, or nil when there is none;
// since is when the socket's state before was caused. TIME_WAIT has no
// kernel time: the tracer reports it when a lookup finds the time-wait
// socket, and stamps it with when the lookups began, which may be before
// the FIN that the kernel moved the socket on; its cause is the first FIN
// its end received since the state before was caused.
func causeOf(e *Entry, since time.Duration, packets []*Packet) *Packet {
	if e.State == inspect.TimeWait {
		for _, p := range packets {
			if p.From != e.Socket && p.Elapsed >= since && p.Flags&capture.FIN != 0 {
				return p
			}
		}
		return nil
	}
	if sentCause[e.State] {
		for _, p := range packets {
			if p.From == e.Socket && p.Elapsed >= e.Elapsed {
				return p
			}
		}
		return nil
	}
	var cause *Packet
	for _, p := range packets {
		if p.Elapsed > e.Elapsed {
			break
		}
		if p.From != e.Socket {
			cause = p
		}
	}
	return cause
}

// Packets returns the ladder's packets in the order the kernel took them in.
func (l *Ladder) Packets() []*Packet {
	var out []*Packet
	for _, r := range l.Rows {
		if r.Entry == nil {
			out = append(out, r.Packet)
		}
	}
	return out
}

// flushRows gives OutRows the ladder's rows that settled before cutoff
// and it was not given yet; r.mu is held.
func (r *run) flushRows(cutoff time.Duration) {
	if r.cfg.Capture == nil || r.cfg.OutRows == nil {
		return
	}
	l := buildLadder(r.entries, r.cfg.Capture.Packets(), r.start, r.client, r.server, r.cfg.EveryChange)
	n := 0
	for n < len(l.Rows) && l.Rows[n].anchor() < cutoff {
		n++
	}
	r.outRows(l.Rows[:n])
}

// outRows gives OutRows those of rows it was not given, keeping its
// first error; r.mu is held.
func (r *run) outRows(rows []Row) {
	if r.cfg.OutRows == nil || r.outErr != nil {
		return
	}
	if r.given == nil {
		r.given = map[int]bool{}
	}
	var fresh []Row
	for _, row := range rows {
		if !r.given[row.key] {
			r.given[row.key] = true
			fresh = append(fresh, row)
		}
	}
	if len(fresh) > 0 {
		r.outErr = r.cfg.OutRows(fresh)
	}
}

// anchor is where the row stands in time: a state tied to a packet
// stands with it.
func (r Row) anchor() time.Duration {
	if r.Packet != nil {
		return r.Packet.Elapsed
	}
	return r.Entry.Elapsed
}
