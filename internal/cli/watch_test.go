package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
)

func TestEventPrinter(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.Local)
	tcp := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("127.0.0.1:7788"), Peer: netip.MustParseAddrPort("127.0.0.1:51234"), Cookie: 0x2a}
	udp := inspect.Socket{Protocol: inspect.UDP, Family: inspect.INet6,
		Local: netip.MustParseAddrPort("[::1]:5353"), Peer: netip.MustParseAddrPort("[::]:0")}
	tests := []struct {
		name  string
		e     inspect.WatchEvent
		color bool
		want  string
	}{
		{"new", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventNew, Socket: tcp, To: inspect.Established}, Time: at}, false,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        new         -> ESTABLISHED\n"},
		{"change", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventChange, Socket: tcp, From: inspect.Established, To: inspect.CloseWait}, Time: at, InState: 301400 * time.Microsecond}, false,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        ESTABLISHED -> CLOSE_WAIT  after 301ms\n"},
		{"gone", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: tcp, From: inspect.LastAck}, Time: at, InState: 1500 * time.Microsecond}, false,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        LAST_ACK    -> gone        after 1.5ms\n"},
		{"udp unconnected", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: udp, From: inspect.Close}, Time: at}, false,
			"10:00:00.123456 udp [::1]:5353             [::]:*                 UNCONN      -> gone\n"},
		{"lost", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventLost}, Time: at}, false,
			"10:00:00.123456 lost: the kernel dropped reports (of destroyed sockets or state changes: its buffer was full, or the tracer found a state change it was not given); resynchronised from a fresh dump\n"},
		{"lost, counted", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventLost}, Time: at, Lost: 3}, false,
			"10:00:00.123456 lost: 3 reports, the kernel dropped reports (of destroyed sockets or state changes: its buffer was full, or the tracer found a state change it was not given); resynchronised from a fresh dump\n"},
		{"unmatched", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventUnmatched}, Time: at, Unmatched: 12}, false,
			"10:00:00.123456 unmatched: 12 destroyed sockets that no poll showed could not be matched to the filter: the kernel cleared the addresses it reads\n"},
		{"cause", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventChange, Socket: tcp, From: inspect.Established, To: inspect.Close}, Time: at, InState: 2 * time.Second, Cause: inspect.CauseResetReceived}, false,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        ESTABLISHED -> CLOSE       reset-received after 2s\n"},
		{"gone, cause", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: tcp, From: inspect.Close}, Time: at, Cause: inspect.CauseRefused}, false,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        CLOSE       -> gone        refused\n"},
		{"gone, lifetime", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: tcp, From: inspect.Close}, Time: at, Cause: inspect.CauseClosed,
			Lifetime: 1234 * time.Millisecond, Bytes: &inspect.Bytes{Acked: 1001, Received: 2001}}, false,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        CLOSE       -> gone        closed         lived 1.23s acked 1001 B received 2001 B\n"},
		{"gone, polled", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: tcp, From: inspect.Close}, Time: at,
			Seen: 4560 * time.Millisecond, Bytes: &inspect.Bytes{Acked: 1002, Received: 1}}, false,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        CLOSE       -> gone        seen 4.56s acked 1002 B received 1 B\n"},
		{"reset", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
			Local: netip.MustParseAddrPort("0.0.0.0:51234"), Peer: netip.MustParseAddrPort("127.0.0.1:0")}, From: inspect.Close}, Time: at, Reset: true}, false,
			"10:00:00.123456 tcp 0.0.0.0:51234          127.0.0.1:*            CLOSE       -> gone        reset, addresses cleared by the kernel\n"},
		{"colour", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventChange, Socket: tcp, From: inspect.Established, To: inspect.TimeWait}, Time: at, InState: 2 * time.Second}, true,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        \x1b[32mESTABLISHED\x1b[0m -> \x1b[34mTIME_WAIT\x1b[0m   after 2s\n"},
		{"colour new", inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventNew, Socket: tcp, To: inspect.Listen}, Time: at}, true,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        new         -> \x1b[36mLISTEN\x1b[0m\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := eventPrinter{w: &b, color: tt.color, layout: newLayout(0, false, false)}
			if err := p.print(&tt.e, nil); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestJSONEvent(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	tcp := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("127.0.0.1:7788"), Peer: netip.MustParseAddrPort("127.0.0.1:51234"), Cookie: 0x2a}
	tests := []struct {
		e    inspect.WatchEvent
		want string
	}{
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventChange, Socket: tcp, From: inspect.Established, To: inspect.CloseWait}, Time: at, InState: 301 * time.Millisecond},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"change","netid":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":7788},"peer":{"addr":"127.0.0.1","port":51234},"from":"ESTABLISHED","to":"CLOSE_WAIT","cookie":"0x2a","in_state_ms":301,"in_state_us":301000}`},
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventNew, Socket: tcp, To: inspect.Listen}, Time: at},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"new","netid":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":7788},"peer":{"addr":"127.0.0.1","port":51234},"to":"LISTEN","cookie":"0x2a"}`},
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventLost}, Time: at},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"lost"}`},
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventLost}, Time: at, Lost: 3},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"lost","lost":3}`},
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventUnmatched}, Time: at, Unmatched: 12},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"unmatched","unmatched":12}`},
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: tcp, From: inspect.Close}, Time: at, Cause: inspect.CauseResetSent},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"gone","netid":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":7788},"peer":{"addr":"127.0.0.1","port":51234},"from":"CLOSE","cookie":"0x2a","cause":"reset-sent"}`},
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: tcp, From: inspect.Close}, Time: at, Cause: inspect.CauseClosed,
			Lifetime: 1234 * time.Millisecond, Bytes: &inspect.Bytes{Acked: 1001, Received: 2001}},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"gone","netid":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":7788},"peer":{"addr":"127.0.0.1","port":51234},"from":"CLOSE","cookie":"0x2a","cause":"closed","lifetime_ms":1234,"bytes_acked":1001,"bytes_received":2001}`},
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: tcp, From: inspect.Close}, Time: at, Cause: inspect.CauseRefused,
			Seen: 4560 * time.Millisecond, Bytes: &inspect.Bytes{}},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"gone","netid":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":7788},"peer":{"addr":"127.0.0.1","port":51234},"from":"CLOSE","cookie":"0x2a","cause":"refused","seen_ms":4560,"bytes_acked":0,"bytes_received":0}`},
		{inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventGone, Socket: inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
			Local: netip.MustParseAddrPort("0.0.0.0:51234"), Peer: netip.MustParseAddrPort("127.0.0.1:0"), Cookie: 0x2b}, From: inspect.Close}, Time: at, Reset: true},
			`{"time":"2026-11-24T10:00:00.123456Z","event":"gone","netid":"tcp","family":"inet","local":{"addr":"0.0.0.0","port":51234},"peer":{"addr":"127.0.0.1","port":0},"from":"CLOSE","cookie":"0x2b","reset":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.e.Kind.String(), func(t *testing.T) {
			var b bytes.Buffer
			if err := json.NewEncoder(&b).Encode(newJSONEvent(&tt.e, false, nil)); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want+"\n" {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestIsTerminal: a pseudo-terminal is one, a pipe and a buffer are not.
func TestIsTerminal(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if !isTerminal(pts) {
		t.Error("isTerminal(pty) = false")
	}
	if isTerminal(w) {
		t.Error("isTerminal(pipe) = true")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("isTerminal(buffer) = true")
	}
}
