package socktest

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
)

// ownSockets lists the sockets the process holds, once per inode however
// many descriptors share it.
func ownSockets() ([]ownedSocket, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("socktest: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("socktest: %w", err)
	}
	var out []ownedSocket
	seen := make(map[uint64]bool)
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			return nil, fmt.Errorf("socktest: /proc/self/fd entry %q is not a descriptor number", name)
		}
		link, err := os.Readlink("/proc/self/fd/" + name)
		if errors.Is(err, fs.ErrNotExist) {
			// Closed since the listing, as the listing's own
			// descriptor is.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("socktest: %w", err)
		}
		if ino, ok := socketInode(link); ok && !seen[ino] {
			seen[ino] = true
			out = append(out, ownedSocket{inode: ino, fd: fd})
		}
	}
	return out, nil
}

// errChanged says a descriptor no longer holds the socket it was listed
// with: it was closed, and maybe reused, in between.
var errChanged = errors.New("socktest: descriptor changed since it was listed")

// nameOf asks the socket's own descriptor for its protocol, whether it
// listens, and its addresses.
func nameOf(s ownedSocket) (sockName, error) {
	var name sockName
	proto, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return name, errChanged
	}
	listening, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return name, errChanged
	}
	name.listening = listening != 0
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		return name, errChanged
	}
	name.family, name.local = inetAddr(sa)
	if sa, err := unix.Getpeername(s.fd); err == nil {
		_, name.peer = inetAddr(sa)
	}
	// A Go listener is MPTCP by default where the kernel has it: its TCP
	// subflows are what sock_diag and /proc/net/tcp list, under the
	// MPTCP socket's inode, which the kernel grafts onto them.
	name.tcp = name.family != 0 && (proto == unix.IPPROTO_TCP || proto == unix.IPPROTO_MPTCP)
	// What the descriptor said is the listed socket's only if the
	// descriptor still links to the listed inode.
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(s.fd))
	if ino, ok := socketInode(link); err != nil || !ok || ino != s.inode {
		return name, errChanged
	}
	return name, nil
}

// inetAddr returns the family and address of an inet or inet6 socket
// address, and zeros for any other.
func inetAddr(sa unix.Sockaddr) (inspect.Family, netip.AddrPort) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return inspect.INet, netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return inspect.INet6, netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return 0, netip.AddrPort{}
}
