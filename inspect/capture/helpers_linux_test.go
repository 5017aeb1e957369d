//go:build linux

package capture_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect/capture"
)

// stopped stops c and returns its packets, failing the test if the
// capture failed or lost a frame.
func stopped(t *testing.T, c *capture.Capture) []capture.Packet {
	t.Helper()
	packets, stats, err := c.Stop()
	if err != nil || stats != (capture.Stats{}) {
		t.Fatalf("stop: %v, stats %+v; want nothing lost", err, stats)
	}
	return packets
}

// segments writes each packet as "FROM FLAGS PAYLOAD": from the server
// when its source is server, else from the client.
func segments(packets []capture.Packet, server netip.AddrPort) []string {
	got := make([]string, len(packets))
	for i, p := range packets {
		from := "client"
		if p.Src == server {
			from = "server"
		}
		got[i] = strings.TrimSpace(from + " " + p.Flags.String() + " " + string(p.Payload))
	}
	return got
}

// wantConnection requires got to be want, a whole connection's segments
// that end in the client's FIN, the server's ACK, its FIN and the last
// ACK: the server's ACK may ride on its FIN instead, one segment fewer.
func wantConnection(t *testing.T, want, got []string) {
	t.Helper()
	if n := len(want); len(got) == n-1 {
		want = append(want[:n-3:n-3], want[n-2:]...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
}
