package ssfilter

import (
	"net/netip"
	"testing"

	"github.com/sockstate/sockstate/inspect"
)

// TestMatchCleared judges sockets whose tuple tcp_disconnect cleared
// (local address 0.0.0.0, peer port 0): decided where the fields left
// decide, undecided where a cleared one would.
func TestMatchCleared(t *testing.T) {
	client := &inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("0.0.0.0:40003"), Peer: netip.MustParseAddrPort("10.0.0.1:0")}
	server := &inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet,
		Local: netip.MustParseAddrPort("127.0.0.1:7400"), Peer: netip.MustParseAddrPort("127.0.0.1:0")}
	tests := []struct {
		expr          string
		s             *inspect.Socket
		keep, decided bool
	}{
		{"", client, true, true},
		{"dport = :7788", client, false, false},
		{"dst 10.0.0.1", client, true, true},
		{"dst 127.0.0.1", client, false, true},
		{"dst 10.0.0.1 and dport = :7788", client, false, false},
		{"dst 127.0.0.1 and dport = :7788", client, false, true},
		{"sport = :40003 or dport = :7788", client, true, true},
		{"sport = :1 or dport = :7788", client, false, false},
		{"not src 127.0.0.1", client, false, false},
		{"src 127.0.0.1", server, true, true},
		{"src 10.0.0.0/8", server, false, true},
		{"sport = :1", client, false, true},
		{"dst 10.0.0.0/8 and sport < :40003", client, false, true},
		{"not dport = :7788", server, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := Parse([]string{tt.expr})
			if err != nil {
				t.Fatal(err)
			}
			keep, decided := f.MatchCleared(tt.s)
			if keep != tt.keep || decided != tt.decided {
				t.Errorf("MatchCleared(%v -> %v) = %v, %v; want %v, %v", tt.s.Local, tt.s.Peer, keep, decided, tt.keep, tt.decided)
			}
		})
	}
}
