package cli

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
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
			if diff := cmp.Diff(tt.want, printEvents(t, tt.layout, events, nil)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// printEvents prints events in layout l, each held by procs, and returns
// the lines.
func printEvents(t *testing.T, l layout, events []inspect.WatchEvent, procs []owners.Process) []string {
	t.Helper()
	var b bytes.Buffer
	p := eventPrinter{w: &b, layout: l}
	for i := range events {
		if err := p.print(&events[i], procs); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
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

// widthDurations are times in state of each form roundDuration gives, at
// their widest: microseconds, milliseconds, seconds, minutes and hours.
var widthDurations = []time.Duration{
	5780 * time.Nanosecond, 57800 * time.Nanosecond, 578 * time.Microsecond,
	5780 * time.Microsecond, 57800 * time.Microsecond, 578 * time.Millisecond,
	5780 * time.Millisecond, 57800 * time.Millisecond, 99940 * time.Millisecond,
	999 * time.Second, 100000 * time.Second, 1000 * time.Hour,
}

// widestCause is the longest of the causes' names.
func widestCause() inspect.Cause {
	widest := inspect.CauseUnknown
	for c := inspect.CauseUnknown; !strings.HasPrefix(c.String(), "unknown("); c++ {
		if len(c.String()) > len(widest.String()) {
			widest = c
		}
	}
	return widest
}

// TestWatchLinesFit80 prints, at 80 columns, a loopback IPv4 event for
// every pair of states (new and gone included), with each form of the time
// in state at its widest, with and without the widest cause, the reset
// mark and -p's users, with and without -t, in both spellings and colours:
// no line is wider than 80, and the lines hold what one unwrapped line
// would.
func TestWatchLinesFit80(t *testing.T) {
	states := []inspect.State{0}
	for st := inspect.Established; st <= inspect.NewSynRecv; st++ {
		states = append(states, st)
	}
	procs := []owners.Process{{PID: 4194304, Comm: "a-long-command15", FD: 1023}, {PID: 4194303, Comm: "sshd", FD: 3}, {PID: 1, Comm: "systemd", FD: 77}}
	widest := widestCause()
	sock := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("127.0.0.1:65535"), Peer: netip.MustParseAddrPort("127.0.0.1:65534")}
	at := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.Local)
	var lines, wrapped int
	// --all-netns's labels: none, an unnamed namespace's, a long name.
	labels := []func(uint64) string{nil,
		func(ino uint64) string { return "net:[" + strconv.FormatUint(ino, 10) + "]" },
		func(uint64) string { return "sockstate-test-4194304-10" }}
	sock.NetNS = 4026532123
	for _, oneProtocol := range []bool{false, true} {
		for _, ss := range []bool{false, true} {
			for _, color := range []bool{false, true} {
				for _, label := range labels {
					var out, flat bytes.Buffer
					p := eventPrinter{w: &out, color: color, label: label, layout: newLayout(80, oneProtocol, ss)}
					// The same layout with no width: the line unwrapped.
					unwrapped := eventPrinter{w: &flat, color: color, label: label, layout: newLayout(80, oneProtocol, ss)}
					unwrapped.width = 0
					for _, from := range states {
						for _, to := range states {
							e := inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventChange, Socket: sock, From: from, To: to}, Time: at}
							switch {
							case from == 0 && to == 0:
								continue
							case from == 0:
								e.Kind = inspect.EventNew
							case to == 0:
								e.Kind = inspect.EventGone
							}
							for _, d := range widthDurations {
								for _, cause := range []inspect.Cause{inspect.CauseUnknown, widest} {
									for _, withProcs := range [][]owners.Process{nil, procs} {
										e.InState, e.Cause, e.Reset = d, cause, cause != inspect.CauseUnknown
										out.Reset()
										flat.Reset()
										if err := p.print(&e, withProcs); err != nil {
											t.Fatal(err)
										}
										if err := unwrapped.print(&e, withProcs); err != nil {
											t.Fatal(err)
										}
										text := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
										for _, l := range text {
											if n := columns(l); n > 80 {
												t.Fatalf("-t %v, ss names %v, colour %v, labelled %v: %d columns: %q", oneProtocol, ss, color, label != nil, n, l)
											}
										}
										if got, want := strings.Join(strings.Fields(out.String()), ""), strings.Join(strings.Fields(flat.String()), ""); got != want {
											t.Fatalf("wrapped %q holds other text than %q", out.String(), flat.String())
										}
										lines++
										if len(text) > 1 {
											wrapped++
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	// Some lines fit whole and some do not: the test covers both.
	if wrapped == 0 || wrapped == lines {
		t.Errorf("%d of %d lines wrapped; want some, not all", wrapped, lines)
	}
}

// TestWatchLineContinued: at 80 columns, what does not fit after the
// second state goes on an indented line of its own, -p's users too, and a
// lost or unmatched event's line wraps at its words; on a pipe (no width)
// each stays one line.
func TestWatchLineContinued(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.Local)
	sock := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("127.0.0.1:7788"), Peer: netip.MustParseAddrPort("127.0.0.1:51234")}
	procs := []owners.Process{{PID: 4242, Comm: "server", FD: 5}}
	events := []inspect.WatchEvent{
		{Event: inspect.Event{Kind: inspect.EventChange, Socket: sock, From: inspect.Established, To: inspect.FinWait1}, Time: at, InState: 301 * time.Millisecond},
		{Event: inspect.Event{Kind: inspect.EventChange, Socket: sock, From: inspect.SynRecv, To: inspect.Established}, Time: at, InState: 5780 * time.Nanosecond},
		{Event: inspect.Event{Kind: inspect.EventChange, Socket: sock, From: inspect.Established, To: inspect.Close}, Time: at, InState: 99940 * time.Millisecond, Cause: inspect.CauseResetReceived},
		{Event: inspect.Event{Kind: inspect.EventLost}, Time: at, Lost: 17},
		{Event: inspect.Event{Kind: inspect.EventUnmatched}, Time: at, Unmatched: 3},
	}
	tests := []struct {
		name  string
		width int
		procs []owners.Process
		want  []string
	}{
		{"80 columns", 80, nil, []string{
			"10:00:00.123 tcp 127.0.0.1:7788 127.0.0.1:51234 ESTABLISHED -> FIN_WAIT1 301ms",
			"10:00:00.123 tcp 127.0.0.1:7788 127.0.0.1:51234 SYN_RECV    -> ESTABLISHED",
			"                 5.78µs",
			"10:00:00.123 tcp 127.0.0.1:7788 127.0.0.1:51234 ESTABLISHED -> CLOSE",
			"                 reset-received 1m39.9s",
			"10:00:00.123 lost: 17 reports, the kernel dropped reports (of destroyed sockets",
			"             or state changes: its buffer was full, or the tracer found a state",
			"             change it was not given); resynchronised from a fresh dump",
			"10:00:00.123 unmatched: 3 destroyed sockets that no poll showed could not be",
			"             matched to the filter: the kernel cleared the addresses it reads",
		}},
		{"80 columns, -p", 80, procs, []string{
			"10:00:00.123 tcp 127.0.0.1:7788 127.0.0.1:51234 ESTABLISHED -> FIN_WAIT1",
			`                 301ms users:(("server",pid=4242,fd=5))`,
			"10:00:00.123 tcp 127.0.0.1:7788 127.0.0.1:51234 SYN_RECV    -> ESTABLISHED",
			`                 5.78µs users:(("server",pid=4242,fd=5))`,
			"10:00:00.123 tcp 127.0.0.1:7788 127.0.0.1:51234 ESTABLISHED -> CLOSE",
			`                 reset-received 1m39.9s users:(("server",pid=4242,fd=5))`,
			"10:00:00.123 lost: 17 reports, the kernel dropped reports (of destroyed sockets",
			"             or state changes: its buffer was full, or the tracer found a state",
			"             change it was not given); resynchronised from a fresh dump",
			"10:00:00.123 unmatched: 3 destroyed sockets that no poll showed could not be",
			"             matched to the filter: the kernel cleared the addresses it reads",
		}},
		{"a pipe", 0, nil, []string{
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        ESTABLISHED -> FIN_WAIT1   after 301ms",
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        SYN_RECV    -> ESTABLISHED after 5.78µs",
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        ESTABLISHED -> CLOSE       reset-received after 1m39.9s",
			"10:00:00.123456 lost: 17 reports, the kernel dropped reports (of destroyed sockets or state changes: its buffer was full, or the tracer found a state change it was not given); resynchronised from a fresh dump",
			"10:00:00.123456 unmatched: 3 destroyed sockets that no poll showed could not be matched to the filter: the kernel cleared the addresses it reads",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, printEvents(t, newLayout(tt.width, false, false), events, tt.procs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestWatchWideContinued: on a terminal 105 columns or wider, a line
// that the lifetime, bytes and users make wider than the terminal is
// continued too, under the addresses.
func TestWatchWideContinued(t *testing.T) {
	e := inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("127.0.0.1:7788"), Peer: netip.MustParseAddrPort("127.0.0.1:51234")}, From: inspect.Close},
		Time: time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.Local), Cause: inspect.CauseClosed, InState: 24700 * time.Nanosecond,
		Lifetime: 301 * time.Millisecond, Bytes: &inspect.Bytes{Acked: 22, Received: 12}}
	procs := []owners.Process{{PID: 4242, Comm: "server", FD: 5}}
	want := []string{
		"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        CLOSE       -> gone",
		`                    closed after 24.7µs lived 301ms acked 22 B received 12 B users:(("server",pid=4242,fd=5))`,
	}
	if diff := cmp.Diff(want, printEvents(t, newLayout(110, false, false), []inspect.WatchEvent{e}, procs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
