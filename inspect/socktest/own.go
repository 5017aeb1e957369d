package socktest

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/sockstate/sockstate/inspect"
)

// ownedSocket is a socket the process holds a descriptor of.
type ownedSocket struct {
	inode uint64
	fd    int
}

// sockName is what the process's own descriptor says of a socket.
type sockName struct {
	// tcp is set for a TCP socket of family inet or inet6.
	tcp       bool
	listening bool
	family    inspect.Family
	local     netip.AddrPort
	// peer is the zero AddrPort unless the socket is connected: the
	// kernel names no peer before the handshake ends (SYN_SENT) nor
	// after the connection is gone (CLOSE).
	peer netip.AddrPort
}

// socketInode returns the inode of the socket a /proc/self/fd link names:
// proc(5) shows a socket descriptor as "socket:[INODE]", any other file as
// its path or another "type:[inode]".
func socketInode(link string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	if err != nil || ino == 0 {
		return 0, false
	}
	return ino, true
}
