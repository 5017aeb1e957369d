package trace

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

const (
	afINET  = 2
	afINET6 = 10
)

// decode fills tr from the record b (layout in program.go) and returns the
// drop counter it carries. Time is left for the caller, which knows the
// clock offset. Addresses and ports are in network byte order, the rest
// native. On error tr is unchanged.
func decode(b []byte, tr *Transition) (drops uint64, err error) {
	if len(b) < recordSize {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), recordSize)
	}
	ne := binary.NativeEndian
	// The kernel's states and IP protocol numbers fit a byte.
	proto, from, to := ne.Uint16(b[recProtocol:]), ne.Uint32(b[recOld:]), ne.Uint32(b[recNew:])
	if proto > 0xff || from > 0xff || to > 0xff {
		return 0, fmt.Errorf("%w: protocol %d, states %d -> %d", ErrMalformed, proto, from, to)
	}
	if kind := recordKind(b); kind > kindResetSent {
		return 0, fmt.Errorf("%w: kind %d", ErrMalformed, kind)
	}
	var local, peer netip.Addr
	switch family := ne.Uint16(b[recFamily:]); family {
	case afINET:
		local = netip.AddrFrom4([4]byte(b[recSaddr4 : recSaddr4+4]))
		peer = netip.AddrFrom4([4]byte(b[recDaddr4 : recDaddr4+4]))
	case afINET6:
		local = netip.AddrFrom16([16]byte(b[recSaddr6 : recSaddr6+16]))
		peer = netip.AddrFrom16([16]byte(b[recDaddr6 : recDaddr6+16]))
	default:
		return 0, fmt.Errorf("%w: address family %d", ErrMalformed, family)
	}
	*tr = Transition{
		Mono:     time.Duration(ne.Uint64(b[recTime:])),
		SK:       ne.Uint64(b[recSK:]),
		Cookie:   ne.Uint64(b[recCookie:]),
		Protocol: inspect.Protocol(proto),
		Family:   inspect.Family(ne.Uint16(b[recFamily:])),
		Local:    netip.AddrPortFrom(local, binary.BigEndian.Uint16(b[recSport:])),
		Peer:     netip.AddrPortFrom(peer, binary.BigEndian.Uint16(b[recDport:])),
		From:     inspect.State(from),
		To:       inspect.State(to),
		Err:      ne.Uint32(b[recErr:]),
		Acked:    ne.Uint64(b[recAcked:]),
		Received: ne.Uint64(b[recReceived:]),
		Inode:    ne.Uint64(b[recInode:]),
		NetNS:    uint64(ne.Uint32(b[recNetNS:])),
	}
	return ne.Uint64(b[recDrops:]), nil
}

// sockDone is the bit of sk_flags that tcp_fin sets when the peer's FIN
// comes (SOCK_DONE, enum sock_flags in include/net/sock.h; checked against
// the kernel's BTF). sk_shutdown's RCV_SHUTDOWN would not do: close(2)
// sets it too.
const sockDone = 1

// recordFINIn reports whether the socket of the record b, which decode has
// accepted, had received its peer's FIN.
func recordFINIn(b []byte) bool {
	return binary.NativeEndian.Uint64(b[recFlags:])&(1<<sockDone) != 0
}

// recordKind returns the kind of the record b, which decode has accepted:
// kindTransition or a reset.
func recordKind(b []byte) uint32 {
	return binary.NativeEndian.Uint32(b[recKind:])
}
