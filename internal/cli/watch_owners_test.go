package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

// TestEventOwners: watch -p's owners end a text line as ss's users:(...)
// and are "process" in JSON; an event without them has neither.
func TestEventOwners(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	e := inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventChange, Socket: inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("127.0.0.1:7788"), Peer: netip.MustParseAddrPort("127.0.0.1:51234"), Cookie: 0x2a},
		From: inspect.Established, To: inspect.CloseWait}, Time: at}
	procs := []owners.Process{{PID: 42, Comm: "server", FD: 3}, {PID: 43, Comm: "worker", FD: 5}}
	tests := []struct {
		name       string
		procs      []owners.Process
		text, json string
	}{
		{"owners", procs,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        ESTABLISHED -> CLOSE_WAIT  users:((\"server\",pid=42,fd=3),(\"worker\",pid=43,fd=5))\n",
			`{"time":"2026-11-24T10:00:00.123456Z","event":"change","netid":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":7788},"peer":{"addr":"127.0.0.1","port":51234},"from":"ESTABLISHED","to":"CLOSE_WAIT","cookie":"0x2a","process":[{"pid":42,"comm":"server","fd":3},{"pid":43,"comm":"worker","fd":5}]}` + "\n"},
		{"unknown", nil,
			"10:00:00.123456 tcp 127.0.0.1:7788         127.0.0.1:51234        ESTABLISHED -> CLOSE_WAIT\n",
			`{"time":"2026-11-24T10:00:00.123456Z","event":"change","netid":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":7788},"peer":{"addr":"127.0.0.1","port":51234},"from":"ESTABLISHED","to":"CLOSE_WAIT","cookie":"0x2a"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := eventPrinter{w: &b, layout: newLayout(0, false, false)}
			if err := p.print(&e, tt.procs); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.text {
				t.Errorf("text\n got %q\nwant %q", b.String(), tt.text)
			}
			b.Reset()
			if err := json.NewEncoder(&b).Encode(newJSONEvent(&e, false, tt.procs)); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.json {
				t.Errorf("JSON\n got %s\nwant %s", b.String(), tt.json)
			}
		})
	}
}
