package cli

import (
	"strconv"

	"github.com/sockstate/sockstate/inspect"
)

// This file writes unix sockets as ss(8) does (misc/ss.c of iproute2:
// unix_stats_print and unix_show_sock): the name, then the inode, in
// place of an address and port.

// appendUnixLocal appends a unix socket's local end: its path, @ and its
// abstract name, or * when it is not bound, then a space and its inode.
func appendUnixLocal(b []byte, s *inspect.Socket) []byte {
	b = appendUnixName(b, s.Unix)
	b = append(b, ' ')
	return strconv.AppendUint(b, s.Inode, 10)
}

// appendUnixPeer appends a unix socket's peer as ss does: *, and the
// peer's inode, 0 for none.
func appendUnixPeer(b []byte, s *inspect.Socket) []byte {
	b = append(b, "* "...)
	return strconv.AppendUint(b, s.Unix.PeerInode, 10)
}

// appendUnixName appends u's name as ss prints it: a path as it is, an
// abstract name after @ with each NUL in it as @, * for none. ss prints a
// control character raw; here it is escaped (\xHH) so that a name cannot
// break its line.
func appendUnixName(b []byte, u *inspect.UnixEnd) []byte {
	if u.Name == "" && !u.Abstract {
		return append(b, '*')
	}
	if u.Abstract {
		b = append(b, '@')
	}
	const hex = "0123456789abcdef"
	for i := 0; i < len(u.Name); i++ {
		switch c := u.Name[i]; {
		case c == 0 && u.Abstract:
			b = append(b, '@')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendUnixDetails appends what ss -e prints of a unix socket: its
// shutdown state (<-> open both ways, a - where a way is shut), the
// inode and device of the file it is bound to, and a listener's pending
// connections.
func appendUnixDetails(b []byte, u *inspect.UnixEnd) []byte {
	if u.Shutdown&1 != 0 {
		b = append(b, '-')
	} else {
		b = append(b, '<')
	}
	b = append(b, '-')
	if u.Shutdown&2 != 0 {
		b = append(b, '-')
	} else {
		b = append(b, '>')
	}
	if u.VFSInode != 0 || u.VFSDev != 0 {
		b = strconv.AppendUint(append(b, " ino:"...), uint64(u.VFSInode), 10)
		// ss splits the kernel's dev_t (major << 20 | minor) with
		// glibc's major() and minor(), made for the userspace
		// encoding: device 254:0 prints as 0/65024. Printed as ss
		// prints it, so that the two compare.
		d := u.VFSDev
		b = strconv.AppendUint(append(b, " dev:"...), uint64(d>>8&0xfff), 10)
		b = strconv.AppendUint(append(b, '/'), uint64(d&0xff|d>>12&^0xff), 10)
	}
	if u.Pending != nil {
		b = append(b, " peers:"...)
		for _, ino := range u.Pending {
			b = strconv.AppendUint(append(b, ' '), ino, 10)
		}
	}
	return b
}

// appendUnixTail appends what follows the users of socks[i], a unix
// socket, on its line (its own started at start): the peer's processes
// for -p, and ss's -e details and -m memory, which ss prints on the
// socket's line, not on a second one as for inet sockets.
func appendUnixTail(b []byte, s *inspect.Socket, start int, o *tableOptions, i int) []byte {
	sep := func(b []byte) []byte {
		if len(b) > start {
			b = append(b, ' ')
		}
		return b
	}
	if o.peers != nil && len(o.peers[i]) > 0 {
		b = appendProcList(sep(b), "peer:(", o.peers[i])
	}
	if o.extended {
		b = appendUnixDetails(sep(b), s.Unix)
	}
	if o.memory && s.Memory != nil {
		// appendMemory starts with the space of inet's second line.
		at := len(b)
		b = appendMemory(b, s.Memory)
		if at == start {
			b = append(b[:at], b[at+1:]...)
		}
	}
	return b
}
