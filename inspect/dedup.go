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

// DropRepeats keeps one entry for each socket, using seen (cleared first,
// made if empty) to remember them: the later entry, in the earlier one's
// place, since the walk read it later and it says what the socket is now.
// Neither /proc nor sock_diag reads the socket tables at one instant: each
// read of a table walks the hash table on from where the last one stopped,
// and a socket added meanwhile can shift the walk so that it lists another
// socket twice (seen here with three sockets: the server's end of a fresh
// connection twice and the client's end not at all; the rows differed in
// their timers, so procnet's exact-duplicate rule kept both; and under
// churn, TIME_WAIT sockets in /proc/net/tcp, and a socket listed with its
// file and again as the timewait socket that replaced it). Diff would
// report the second as a new socket, and ls would print it twice. Sockets
// that share a key but not an inode, such as SO_REUSEPORT listeners under
// /proc, are kept, but for a connection listed at two stages of its making
// (dropSuperseded).
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
		if at, dup := seen.earlier(&socks[i], len(out)); dup {
			out[at] = socks[i]
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

// Sightings is a set of sockets seen in one listing. A TCP socket is
// remembered by its cookie: one cookie is one TCP socket, whatever its
// entries say of its file (a socket listed with its file and again,
// further on in the walk, as the timewait socket that replaced it, inode
// 0, is one socket); another kind's by its cookie and inode. Without a cookie, a connected TCP socket is remembered by its
// tuple, which no two TCP sockets share at one instant (a new connection
// that reuses a timewait socket's tuple takes its place in the hash table
// under the bucket's lock), and any other by its inode, mapped to the key
// it was first seen with: 64-bit keys hash several times faster than a Key
// and its inode, and cookies go in a u64map.Map. The rare socket seen again
// with another key and the sockets with neither cookie nor inode go to
// others.
type Sightings struct {
	cookies u64map.Map // cookie -> position
	inodes  map[uint64]seenAt
	others  map[sighting]int // -> position
}

// seenAt is the key an inode was first seen with, and where.
type seenAt struct {
	key Key
	pos int
}

// Reset empties s, making room for n sockets.
func (s *Sightings) Reset(n int) {
	if s.inodes == nil {
		s.inodes = map[uint64]seenAt{}
		s.others = map[sighting]int{}
	}
	s.cookies.Reset(n)
	clear(s.inodes)
	clear(s.others)
}

// Repeat reports whether so was seen already, and remembers it. A caller
// that has handed the first entry on keeps it and drops so.
func (s *Sightings) Repeat(so *Socket) bool {
	_, dup := s.earlier(so, 0)
	return dup
}

// earlier returns the position at which so was seen already, or remembers
// it at pos and returns false.
func (s *Sightings) earlier(so *Socket, pos int) (int, bool) {
	switch {
	case so.Cookie != 0 && so.Protocol == TCP:
		p, found := s.cookies.GetOrPut(so.Cookie, uint64(pos))
		return int(p), found
	case so.Cookie != 0:
		// An MPTCP socket accepted from a listener whose cookie was
		// made before the accept keeps that cookie (the kernel copies
		// the listener, cookie and all): two sockets, one cookie, each
		// with its own file.
		return s.other(sighting{KeyOf(so), so.Inode}, pos)
	case so.Protocol == TCP && so.Peer.Port() != 0:
		return s.other(sighting{key: KeyOf(so)}, pos)
	case so.Inode != 0:
		e, ok := s.inodes[so.Inode]
		if !ok {
			s.inodes[so.Inode] = seenAt{KeyOf(so), pos}
			return 0, false
		}
		if e.key == KeyOf(so) {
			return e.pos, true
		}
	}
	return s.other(sighting{KeyOf(so), so.Inode}, pos)
}

// other looks k up in s.others, or remembers it at pos.
func (s *Sightings) other(k sighting, pos int) (int, bool) {
	if p, ok := s.others[k]; ok {
		return p, true
	}
	s.others[k] = pos
	return 0, false
}
