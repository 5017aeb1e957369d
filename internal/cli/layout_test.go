package cli

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
)

// TestLayout prints the same events in each layout: wide as always, narrow
// for a terminal under 105 columns, without the netid for -t, with ss's
// state names; a full IPv6 address widens the columns once, and the lines
// after it stay aligned.
func TestLayout(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.Local)
	v4 := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("127.0.0.1:7788"), Peer: netip.MustParseAddrPort("127.0.0.1:51234")}
	v6 := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet6,
		Local: netip.MustParseAddrPort("[fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535"), Peer: netip.MustParseAddrPort("[fd00:1234:5678:9abc:def0:1234:5678:9abd]:7788")}
	events := []inspect.WatchEvent{
		{Event: inspect.Event{Kind: inspect.EventNew, Socket: v4, To: inspect.Established}, Time: at},
		{Event: inspect.Event{Kind: inspect.EventChange, Socket: v6, From: inspect.Established, To: inspect.FinWait1}, Time: at, InState: 301400 * time.Microsecond},
		{Event: inspect.Event{Kind: inspect.EventChange, Socket: v4, From: inspect.Established, To: inspect.CloseWait}, Time: at, InState: 2 * time.Second},
	}
	tests := []struct {
		name   string
		layout layout
		want   []string
	}{
		{"wide", newLayout(0, false, false), []string{
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        new         -> ESTABLISHED",
			"10:00:00.123456 tcp [fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535 [fd00:1234:5678:9abc:def0:1234:5678:9abd]:7788 ESTABLISHED -> FIN_WAIT1   after 301ms",
			"10:00:00.123456 tcp 127.0.0.1:7788                                  127.0.0.1:51234                                ESTABLISHED -> CLOSE_WAIT  after 2s",
		}},
		{"80 columns, -t", newLayout(80, true, false), []string{
			"10:00:00.123 127.0.0.1:7788 127.0.0.1:51234 new -> ESTABLISHED",
			"10:00:00.123 [fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535 [fd00:1234:5678:9abc:def0:1234:5678:9abd]:7788 ESTABLISHED -> FIN_WAIT1 301ms",
			"10:00:00.123 127.0.0.1:7788                                  127.0.0.1:51234                                ESTABLISHED -> CLOSE_WAIT 2s",
		}},
		{"104 columns, ss names", newLayout(104, false, true), []string{
			"10:00:00.123 tcp 127.0.0.1:7788 127.0.0.1:51234 new -> ESTAB",
			"10:00:00.123 tcp [fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535 [fd00:1234:5678:9abc:def0:1234:5678:9abd]:7788 ESTAB -> FIN-WAIT-1 301ms",
			"10:00:00.123 tcp 127.0.0.1:7788                                  127.0.0.1:51234                                ESTAB -> CLOSE-WAIT 2s",
		}},
		{"105 columns", newLayout(105, true, false), []string{
			"10:00:00.123456 127.0.0.1:7788         127.0.0.1:51234        new         -> ESTABLISHED",
			"10:00:00.123456 [fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535 [fd00:1234:5678:9abc:def0:1234:5678:9abd]:7788 ESTABLISHED -> FIN_WAIT1   after 301ms",
			"10:00:00.123456 127.0.0.1:7788                                  127.0.0.1:51234                                ESTABLISHED -> CLOSE_WAIT  after 2s",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := eventPrinter{w: &b, layout: tt.layout}
			for i := range events {
				if err := p.print(&events[i]); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tt.want, strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestStateNames covers every state in both spellings, and UDP's UNCONN.
func TestStateNames(t *testing.T) {
	want := map[inspect.State][2]string{
		inspect.Established: {"ESTABLISHED", "ESTAB"},
		inspect.SynSent:     {"SYN_SENT", "SYN-SENT"},
		inspect.SynRecv:     {"SYN_RECV", "SYN-RECV"},
		inspect.FinWait1:    {"FIN_WAIT1", "FIN-WAIT-1"},
		inspect.FinWait2:    {"FIN_WAIT2", "FIN-WAIT-2"},
		inspect.TimeWait:    {"TIME_WAIT", "TIME-WAIT"},
		inspect.Close:       {"CLOSE", "UNCONN"},
		inspect.CloseWait:   {"CLOSE_WAIT", "CLOSE-WAIT"},
		inspect.LastAck:     {"LAST_ACK", "LAST-ACK"},
		inspect.Listen:      {"LISTEN", "LISTEN"},
		inspect.Closing:     {"CLOSING", "CLOSING"},
		inspect.NewSynRecv:  {"NEW_SYN_RECV", "SYN-RECV"},
		99:                  {"unknown(99)", "unknown(99)"},
	}
	for st, names := range want {
		s := inspect.Socket{Protocol: inspect.TCP, State: st}
		if got := [2]string{stateName(&s, false), stateName(&s, true)}; got != names {
			t.Errorf("state %d: got %q, want %q", st, got, names)
		}
	}
	udp := inspect.Socket{Protocol: inspect.UDP, State: inspect.Close}
	if got := stateName(&udp, false); got != "UNCONN" {
		t.Errorf("UDP in CLOSE: %q, want UNCONN", got)
	}
}
