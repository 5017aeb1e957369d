package cli

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/capture"
	"github.com/sockstate/sockstate/internal/demo"
)

// testLadder is a ladder of three rows: a call, a data packet and the
// state it caused, and what the capture lost.
func testLadder() *demo.Ladder {
	pk := &demo.Packet{
		Packet:  capture.Packet{Flags: capture.PSH | capture.ACK, Seq: 1001, Ack: 5001, Payload: []byte("hello from the client")},
		Elapsed: 1503512 * time.Microsecond, From: demo.Client, RelSeq: 1, RelAck: 1,
	}
	fin := &demo.Packet{
		Packet:  capture.Packet{Flags: capture.FIN | capture.ACK, Seq: 5012, Ack: 1022},
		Elapsed: 2705820 * time.Microsecond, From: demo.ServerConn, RelSeq: 12, RelAck: 22,
	}
	return &demo.Ladder{
		Client: netip.MustParseAddrPort("127.0.0.1:50000"), Server: netip.MustParseAddrPort("127.0.0.1:7788"),
		Caused: true, Lost: capture.Stats{Dropped: 2}, Stray: 1,
		Rows: []demo.Row{
			{Entry: &demo.Entry{Elapsed: 1503454 * time.Microsecond, Kind: demo.EntryStep, Actor: "client", Text: `send("hello from the client")`}},
			{Packet: pk},
			{Packet: fin},
			{Entry: &demo.Entry{Elapsed: 2705757 * time.Microsecond, Kind: demo.EntryState, Socket: demo.ServerConn, State: inspect.FinWait1, Observed: true}, Packet: fin},
			{Entry: &demo.Entry{Elapsed: 2705834 * time.Microsecond, Kind: demo.EntryState, Socket: demo.Client, State: inspect.CloseWait, Observed: true}, Packet: fin},
		},
	}
}

// TestLadderPrinter draws a ladder at both widths, with relative and
// absolute numbers: the columns, the arrows' directions, the payload on
// the arrow or under it, the states on their sides and the lost lines.
func TestLadderPrinter(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    ladderPrinter
		want []string
	}{
		{"100", ladderPrinter{width: 100, micro: true}, []string{
			"        ms          client│                                                        │ server",
			"  1503.454                │ send(\"hello from the client\")                          │",
			"  1503.512                │─ PSH,ACK seq=1 ack=1 len=21 \"hello from the client\" ──▶│",
			"  2705.820                │◀───────────── FIN,ACK seq=12 ack=22 len=0 ─────────────│",
			"  2705.757                │                                                        │ FIN_WAIT1",
			"  2705.834      CLOSE_WAIT│                                                        │",
			"            lost: the kernel dropped 2 frames of the capture; 0 frames held no TCP segment",
			"            1 packets of port 7788 belonged to another connection and are left out",
			"            each state is drawn after the packet that caused it, at its own time: SYN_SENT,",
			"            FIN_WAIT1 and LAST_ACK begin as their packet is sent, just before it",
		}},
		{"80 absolute", ladderPrinter{width: 80, absolute: true}, []string{
			"        ms          client│                                    │ server",
			"      1503                │ send(\"hello from the client\")      │",
			"      1503                │───────────── PSH,ACK ─────────────▶│",
			"                          │      seq=1001 ack=5001 len=21      │",
			"                          │      \"hello from the client\"       │",
			"      2705                │◀─ FIN,ACK seq=5012 ack=1022 len=0 ─│",
			"      2705                │                                    │ FIN_WAIT1",
			"      2705      CLOSE_WAIT│                                    │",
			"            lost: the kernel dropped 2 frames of the capture; 0 frames held no",
			"            TCP segment",
			"            1 packets of port 7788 belonged to another connection and are left",
			"            out",
			"            each state is drawn after the packet that caused it, at its own",
			"            time: SYN_SENT, FIN_WAIT1 and LAST_ACK begin as their packet is",
			"            sent, just before it",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			tc.p.w = &b
			if err := tc.p.print(testLadder()); err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
