package inspect

import (
	"net/netip"
	"testing"
)

// TestKeyOfWithoutCookie: without a cookie, unix and raw sockets are told
// apart by their inodes (two unbound unix sockets from /proc have equal
// everything else, and so do two raw sockets of one protocol), while TCP
// and UDP keep the tuple, which holds as a socket moves to TIME_WAIT and
// loses its inode.
func TestKeyOfWithoutCookie(t *testing.T) {
	lo := netip.MustParseAddrPort("127.0.0.1:1")
	tests := []struct {
		name string
		a, b Socket
		same bool
	}{
		{"unix", Socket{Family: Unix, Unix: &UnixEnd{}, Inode: 10}, Socket{Family: Unix, Unix: &UnixEnd{}, Inode: 11}, false},
		{"raw", Socket{Protocol: Raw, Local: lo, Inode: 10}, Socket{Protocol: Raw, Local: lo, Inode: 11}, false},
		{"tcp into TIME_WAIT", Socket{Protocol: TCP, Local: lo, Inode: 10}, Socket{Protocol: TCP, Local: lo, State: TimeWait}, true},
		{"cookie", Socket{Protocol: Raw, Cookie: 5, Inode: 10}, Socket{Protocol: Raw, Cookie: 5, Inode: 11}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyOf(&tt.a) == KeyOf(&tt.b); got != tt.same {
				t.Errorf("KeyOf(%+v) == KeyOf(%+v): %v, want %v", tt.a, tt.b, got, tt.same)
			}
		})
	}
}
