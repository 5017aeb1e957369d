package sockiter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/sockstate/sockstate/inspect"
)

// errShort marks iterator output that is not whole records.
var errShort = errors.New("sockiter: iterator output is not whole records")

// decode turns one record of protocol p into a socket. It reports false
// for a record of another family than the two the iterators walk.
func decode(b []byte, p inspect.Protocol, s *inspect.Socket) (bool, error) {
	if len(b) < recordSize {
		return false, fmt.Errorf("%w: %d bytes, want %d", errShort, len(b), recordSize)
	}
	ne := binary.NativeEndian
	*s = inspect.Socket{
		Protocol: p,
		State:    inspect.State(b[offState]),
		RecvQ:    clamp(ne.Uint32(b[offRecvQ:])),
		SendQ:    ne.Uint32(b[offSendQ:]),
		UID:      ne.Uint32(b[offUID:]),
		Inode:    ne.Uint64(b[offInode:]),
		Cookie:   ne.Uint64(b[offCookie:]),
		IfIndex:  ne.Uint32(b[offBoundIf:]),
		NetNS:    uint64(ne.Uint32(b[offNetNS:])),
	}
	// The local port is skc_num, in host order; the peer's skc_dport,
	// in network order.
	sport := ne.Uint16(b[offSport:])
	dport := binary.BigEndian.Uint16(b[offDport:])
	switch ne.Uint16(b[offFamily:]) {
	case uint16(inspect.INet):
		s.Family = inspect.INet
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[offSaddr:offSaddr+4])), sport)
		s.Peer = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[offDaddr:offDaddr+4])), dport)
	case uint16(inspect.INet6):
		s.Family = inspect.INet6
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[offSaddr:offSaddr+16])), sport)
		s.Peer = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[offDaddr:offDaddr+16])), dport)
	default:
		return false, nil
	}
	// A connection request is a minisocket the kernel files as
	// NEW_SYN_RECV; inet_diag reports it as SYN_RECV, without a uid, as
	// ss shows it.
	if s.State == tcpNewSynRecv {
		s.State, s.UID = tcpSynRecv, 0
	}
	return true, nil
}

// clamp returns a receive queue the kernel computed as a difference of
// sequence numbers that may pass each other, as tcp_diag does: never
// below zero.
func clamp(q uint32) uint32 {
	if int32(q) < 0 {
		return 0
	}
	return q
}
