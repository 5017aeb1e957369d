package inspect

import "testing"

// TestNames holds the netids and family names ss prints, for every
// constant, and the form of a number the model has no name for.
func TestNames(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{TCP.String(), "tcp"},
		{UDP.String(), "udp"},
		{Raw.String(), "raw"},
		{MPTCP.String(), "mptcp"},
		{Protocol(132).String(), "proto(132)"},
		{Unix.String(), "unix"},
		{INet.String(), "inet"},
		{INet6.String(), "inet6"},
		{Family(16).String(), "family(16)"},
		{UnixStream.String(), "u_str"},
		{UnixDgram.String(), "u_dgr"},
		{UnixSeqPacket.String(), "u_seq"},
		{UnixType(3).String(), "unix(3)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
