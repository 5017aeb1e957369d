package cli

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/demo"
)

// TestOutputs writes the same records in each format and holds the bytes:
// a listing, an event, a timeline entry and a result.
func TestOutputs(t *testing.T) {
	l := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Listen,
		Local: netip.MustParseAddrPort("127.0.0.1:80"), Peer: netip.MustParseAddrPort("0.0.0.0:0"), Inode: 7}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ev := inspect.WatchEvent{Event: inspect.Event{Kind: inspect.EventNew, Socket: l, To: inspect.Listen}, Time: at}
	en := demo.Entry{Kind: demo.EntryStep, Elapsed: 2 * time.Millisecond, Actor: "server", Text: "listen"}
	const sock = `{"netid":"tcp","family":"inet","state":"LISTEN","recv_q":0,"send_q":0,"local":{"addr":"127.0.0.1","port":80},"peer":{"addr":"0.0.0.0","port":0},"uid":0,"inode":7}`
	const event = `{"time":"2026-11-24T10:00:00.000000Z","event":"new","netid":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":80},"peer":{"addr":"0.0.0.0","port":0},"to":"LISTEN"}`
	const entry = `{"ms":2,"us":2000,"type":"step","actor":"server","text":"listen"}`
	const result = `{"type":"result","ok":true,"missed":[]}`
	for _, tt := range []struct {
		format string
		want   string
	}{
		{"json", "[" + sock + ",\n" + sock + ",\n" + event + ",\n" + entry + ",\n" + result + "]\n"},
		{"jsonl", sock + "\n" + sock + "\n" + event + "\n" + entry + "\n" + result + "\n"},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			o := newOutput(tt.format, &b, view{})
			for _, err := range []error{
				o.sockets([]inspect.Socket{l, l}, tableOptions{}),
				o.event(&ev),
				o.entry(&en),
				o.result(nil),
				o.endList(tableOptions{}),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}
