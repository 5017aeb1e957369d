package demo

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/capture"
)

var (
	testClient = netip.MustParseAddrPort("127.0.0.1:50000")
	testServer = netip.MustParseAddrPort("127.0.0.1:7788")
)

// seg makes a packet from the client (or the server) at µs after start.
func seg(start time.Time, us int, fromClient bool, f capture.Flags, seq, ack uint32, payload string) capture.Packet {
	p := capture.Packet{Time: start.Add(time.Duration(us) * time.Microsecond), Src: testClient, Dst: testServer, Flags: f, Seq: seq, Ack: ack, Payload: []byte(payload)}
	if !fromClient {
		p.Src, p.Dst = testServer, testClient
	}
	return p
}

func stateAt(us int, r Role, st inspect.State) Entry {
	return Entry{Elapsed: time.Duration(us) * time.Microsecond, Kind: EntryState, Socket: r, State: st, Observed: true}
}

// rowsOf renders the ladder's rows as one line each.
func rowsOf(l *Ladder) []string {
	var out []string
	for _, r := range l.Rows {
		switch {
		case r.Entry == nil:
			p := r.Packet
			s := p.From.Side() + " " + p.Flags.String() + " " + uitoa(p.RelSeq) + " " + uitoa(p.RelAck)
			if c := p.Comment(nil); c != "" {
				s += " [" + c + "]"
			}
			out = append(out, s)
		case r.Entry.Kind == EntryState:
			out = append(out, "  "+r.Entry.Socket.String()+" "+Names(nil).State(r.Entry.State))
		default:
			out = append(out, "  "+r.Entry.Actor+" "+r.Entry.Text)
		}
	}
	return out
}

func uitoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// TestBuildLadder ties states to packets by order: a state entered by
// sending follows the first packet its end sent after it, any other the
// last its end received before it, TIME_WAIT the FIN its end received
// (the tracer's lookup may stamp it before that FIN), and gone follows
// CLOSE. Packets of other connections are counted, not drawn.
func TestBuildLadder(t *testing.T) {
	start := time.Unix(1000, 0)
	const ci, si = 1000, 5000 // the initial sequence numbers
	A, F, S, P := capture.ACK, capture.FIN, capture.SYN, capture.PSH
	pkts := []capture.Packet{
		seg(start, 110, true, S, ci, 0, ""),
		seg(start, 120, false, S|A, si, ci+1, ""),
		seg(start, 130, true, A, ci+1, si+1, ""),
		{Time: start.Add(135 * time.Microsecond), Src: netip.MustParseAddrPort("127.0.0.1:40000"), Dst: testServer, Flags: S},
		seg(start, 200, true, P|A, ci+1, si+1, "hi"),
		seg(start, 210, false, A, si+1, ci+3, ""),
		// The server closes; the client's ACK rides on its FIN: three
		// packets.
		seg(start, 310, false, F|A, si+1, ci+3, ""),
		seg(start, 410, true, F|A, ci+3, si+2, ""),
		seg(start, 420, false, A, si+2, ci+4, ""),
	}
	entries := []Entry{
		{Elapsed: 100 * time.Microsecond, Kind: EntryStep, Actor: "client", Text: "connect()"},
		stateAt(105, Client, inspect.SynSent),
		stateAt(125, Client, inspect.Established),
		stateAt(132, ServerConn, inspect.SynRecv),
		stateAt(133, ServerConn, inspect.Established),
		{Elapsed: 300 * time.Microsecond, Kind: EntryStep, Actor: "server", Text: "close()"},
		stateAt(305, ServerConn, inspect.FinWait1),
		stateAt(315, Client, inspect.CloseWait),
		{Elapsed: 400 * time.Microsecond, Kind: EntryStep, Actor: "client", Text: "close()"},
		stateAt(405, Client, inspect.LastAck),
		stateAt(412, ServerConn, inspect.FinWait2),
		// The lookup's stamp, before the FIN it found the result of,
		// reported after FIN_WAIT2.
		stateAt(408, ServerConn, inspect.TimeWait),
		stateAt(425, Client, inspect.Close),
		stateAt(425, Client, Gone),
	}
	l := buildLadder(entries, pkts, start, testClient, testServer, true)
	want := []string{
		"  client connect()",
		"client SYN 0 0 [client CLOSE -> SYN_SENT]",
		"  client SYN_SENT",
		"server SYN,ACK 0 1 [client SYN_SENT -> ESTABLISHED]",
		"  client ESTABLISHED",
		"client ACK 1 1 [server LISTEN -> SYN_RECV; server SYN_RECV -> ESTABLISHED]",
		"  server conn SYN_RECV",
		"  server conn ESTABLISHED",
		"client PSH,ACK 1 1",
		"server ACK 1 3",
		"  server close()",
		"server FIN,ACK 1 3 [server ESTABLISHED -> FIN_WAIT1; client ESTABLISHED -> CLOSE_WAIT]",
		"  server conn FIN_WAIT1",
		"  client CLOSE_WAIT",
		"  client close()",
		"client FIN,ACK 3 2 [client CLOSE_WAIT -> LAST_ACK; server FIN_WAIT1 -> FIN_WAIT2; server FIN_WAIT2 -> TIME_WAIT]",
		"  client LAST_ACK",
		"  server conn FIN_WAIT2",
		"  server conn TIME_WAIT",
		"server ACK 2 4 [client LAST_ACK -> CLOSE]",
		"  client CLOSE",
		"  client gone",
	}
	if diff := cmp.Diff(want, rowsOf(l)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if l.Stray != 1 {
		t.Errorf("stray %d, want 1", l.Stray)
	}

	// Polled, the states stay where they were seen, and no packet claims
	// them.
	polled := buildLadder(entries[:5], pkts[:3], start, testClient, testServer, false)
	want = []string{
		"  client connect()",
		"  client SYN_SENT",
		"client SYN 0 0",
		"server SYN,ACK 0 1",
		"  client ESTABLISHED",
		"client ACK 1 1",
		"  server conn SYN_RECV",
		"  server conn ESTABLISHED",
	}
	if diff := cmp.Diff(want, rowsOf(polled)); diff != "" {
		t.Errorf("polled rows (-want +got):\n%s", diff)
	}
}
