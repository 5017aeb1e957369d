package inspect

import (
	"net/netip"
	"slices"

	"github.com/sockstate/sockstate/inspect/internal/u64map"
)

// sighting is a socket's key and inode: two in one snapshot with both
// equal are one socket listed twice.
type sighting struct {
	key   Key
	inode uint64
}

// DropRepeats drops the later of two entries for one socket, using seen
// (cleared first, made if empty) to remember them. Neither /proc nor
// sock_diag reads the socket tables at one instant: each read of a table
// walks the hash table on from where the last one stopped, and a socket
// added meanwhile can shift the walk so that it lists another socket
// twice (seen here with
// three sockets: the server's end of a fresh connection twice and the
// client's end not at all; the rows differed in their timers, so procnet's
// exact-duplicate rule kept both; and under churn, TIME_WAIT sockets in
// /proc/net/tcp). Diff would report the second as a new socket, and ls
// would print it twice. Sockets that share a key but not an inode, such
// as SO_REUSEPORT listeners under /proc, are kept, but for a connection
// listed at two stages of its making (dropSuperseded).
func DropRepeats(socks []Socket, seen *Sightings) []Socket {
	for i := range socks {
		if r := handshakeRank(&socks[i]); r >= 0 && r < accepted {
			socks = dropSuperseded(socks)
			break
		}
	}
	seen.Reset(len(socks))
	out := socks[:0]
	for i := range socks {
		if seen.Repeat(&socks[i]) {
			continue
		}
		out = append(out, socks[i])
	}
	return out
}

// How far a connection that a listener made has come, by what a listing
// shows of it: a request socket (SYN_RECV, no file) until the handshake
// ends, then a full socket waiting in the accept queue (ESTABLISHED or
// CLOSE_WAIT, no file yet), then an accepted one, with a file.
const (
	request = iota
	queued
	accepted
)

// handshakeRank returns how far a TCP socket has come after its listener
// made it, or -1 when its entry does not say: a socket without a file in
// other states is one closed by its owner or in TIME_WAIT.
func handshakeRank(s *Socket) int {
	switch {
	case s.Protocol != TCP || s.Peer.Port() == 0:
		return -1
	case s.Inode != 0:
		return accepted
	case s.State == SynRecv:
		return request
	case s.State == Established || s.State == CloseWait:
		return queued
	}
	return -1
}

// dropSuperseded drops each entry of a connection that the listing shows
// again further on in its making: the request socket of a connection
// listed as a full socket too, and the queued socket of one listed as
// accepted. The kernel puts the full socket in the request's place in the
// hash table (inet_ehash_insert), and accept() gives the same socket its
// file, so at no instant are there two: a listing with both read the table
// while the connection moved on, and the later entry is what it is now.
func dropSuperseded(socks []Socket) []Socket {
	type tuple struct {
		local, peer netip.AddrPort
	}
	furthest := map[tuple]int{}
	for i := range socks {
		s := &socks[i]
		if r := handshakeRank(s); r >= 0 && r < accepted {
			t := tuple{s.Local, s.Peer}
			furthest[t] = max(furthest[t], r)
		}
	}
	for i := range socks {
		s := &socks[i]
		t := tuple{s.Local, s.Peer}
		if r, ok := furthest[t]; ok {
			furthest[t] = max(r, handshakeRank(s))
		}
	}
	return slices.DeleteFunc(socks, func(s Socket) bool {
		r := handshakeRank(&s)
		return r >= 0 && r < furthest[tuple{s.Local, s.Peer}]
	})
}

// Sightings is a set of sockets seen in one listing. A socket is
// remembered by its cookie, or without one by its inode, mapped to the
// inode or key it was first seen with: 64-bit keys hash several times
// faster than a Key and its inode, and cookies go in a u64map.Map. The rare
// socket seen again with another inode or key (one listed with its file
// and then as a timewait socket, inode 0) and the sockets with neither
// cookie nor inode go to others.
type Sightings struct {
	cookies u64map.Map
	inodes  map[uint64]Key
	others  map[sighting]struct{}
}

// Reset empties s, making room for n sockets.
func (s *Sightings) Reset(n int) {
	if s.inodes == nil {
		s.inodes = map[uint64]Key{}
		s.others = map[sighting]struct{}{}
	}
	s.cookies.Reset(n)
	clear(s.inodes)
	clear(s.others)
}

// Repeat reports whether so was seen already, and remembers it.
func (s *Sightings) Repeat(so *Socket) bool {
	switch {
	case so.Cookie != 0:
		inode, found := s.cookies.GetOrPut(so.Cookie, so.Inode)
		if !found {
			return false
		}
		if inode == so.Inode {
			return true
		}
	case so.Inode != 0:
		k, ok := s.inodes[so.Inode]
		if !ok {
			s.inodes[so.Inode] = KeyOf(so)
			return false
		}
		if k == KeyOf(so) {
			return true
		}
	}
	k := sighting{KeyOf(so), so.Inode}
	_, dup := s.others[k]
	s.others[k] = struct{}{}
	return dup
}
