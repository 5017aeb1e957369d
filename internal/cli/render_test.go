package cli

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/sockstate/sockstate/inspect"
)

// TestWriteAlignedMatchesTablewriter holds the streaming renderer used for
// large tables to the tablewriter output used for small ones, byte for byte.
func TestWriteAlignedMatchesTablewriter(t *testing.T) {
	socks := []inspect.Socket{
		{Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Listen, SendQ: 4096,
			Local: netip.MustParseAddrPort("0.0.0.0:22"), Peer: netip.MustParseAddrPort("0.0.0.0:0"), Inode: 1234, Cookie: 0x2a},
		{Protocol: inspect.UDP, Family: inspect.INet6, State: inspect.Close,
			Local: netip.MustParseAddrPort("[::1]:5353"), Peer: netip.MustParseAddrPort("[::]:0"), UID: 65534},
		{Protocol: inspect.TCP, Family: inspect.INet6, State: inspect.TimeWait,
			Local: netip.MustParseAddrPort("[2001:db8::1]:443"), Peer: netip.MustParseAddrPort("[2001:db8::2]:51234"), Cookie: 0xffffffffff},
		{Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Established, RecvQ: 123456, SendQ: 7,
			Local: netip.MustParseAddrPort("127.0.0.1:7788"), Peer: netip.MustParseAddrPort("127.0.0.1:1")},
	}
	for _, o := range []tableOptions{
		{netid: true, state: true, header: true},
		{netid: true, state: true, header: true, extended: true},
		{state: true},
		{netid: true, extended: true},
		{header: true},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			var tw, al bytes.Buffer
			if err := writeTable(&tw, socks, o); err != nil {
				t.Fatal(err)
			}
			if err := writeAligned(&al, socks, o); err != nil {
				t.Fatal(err)
			}
			if tw.String() != al.String() {
				t.Errorf("tablewriter:\n%s\nwriteAligned:\n%s", tw.String(), al.String())
			}
			if lines := bytes.Count(al.Bytes(), []byte("\n")); lines != len(socks)+btoi(o.header) {
				t.Errorf("%d lines, want %d", lines, len(socks)+btoi(o.header))
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
