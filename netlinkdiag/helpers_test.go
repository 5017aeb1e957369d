package netlinkdiag

import (
	"encoding/binary"
	"net/netip"
)

// nlmsgNoop is NLMSG_NOOP, which a reply may contain and the parser skips
// like every type it does not know.
const nlmsgNoop = 0x1

// The builders below lay out kernel structures byte by byte, apart from
// the package's own encoders, so that a wrong offset in either shows.

// encodeMsg builds the inet_diag_msg payload that m describes, followed by
// m.Attrs. Ports and addresses are big endian, the rest native.
func encodeMsg(m Msg) []byte {
	b := make([]byte, 72, 72+len(m.Attrs))
	b[0], b[1], b[2], b[3] = m.Family, m.State, m.Timer, m.Retrans
	binary.BigEndian.PutUint16(b[4:], m.Src.Port())
	binary.BigEndian.PutUint16(b[6:], m.Dst.Port())
	putTestAddr(b[8:24], m.Src.Addr())
	putTestAddr(b[24:40], m.Dst.Addr())
	ne := binary.NativeEndian
	ne.PutUint32(b[40:], m.IfIndex)
	ne.PutUint32(b[44:], uint32(m.Cookie))
	ne.PutUint32(b[48:], uint32(m.Cookie>>32))
	ne.PutUint32(b[52:], m.Expires)
	ne.PutUint32(b[56:], m.RQueue)
	ne.PutUint32(b[60:], m.WQueue)
	ne.PutUint32(b[64:], m.UID)
	ne.PutUint32(b[68:], m.Inode)
	return append(b, m.Attrs...)
}

func putTestAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		a4 := a.As4()
		copy(b, a4[:])
		return
	}
	a16 := a.As16()
	copy(b, a16[:])
}

// nlmsg builds a netlink message with its padding.
func nlmsg(typ, flags uint16, seq, pid uint32, payload []byte) []byte {
	b := make([]byte, 16, 16+len(payload)+3)
	binary.NativeEndian.PutUint32(b[0:], uint32(16+len(payload)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[12:], pid)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// attr builds a netlink attribute with its padding.
func attr(typ uint16, payload []byte) []byte {
	b := make([]byte, 4, 4+len(payload)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(4+len(payload)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// errCode is the little payload of NLMSG_ERROR and NLMSG_DONE: a native
// int32, a negative errno.
func errCode(code int32) []byte {
	return binary.NativeEndian.AppendUint32(nil, uint32(code))
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// testMsg returns a Msg with a distinct value in every field, so that a
// field read from the wrong offset shows.
func testMsg(family uint8, cookie uint64) Msg {
	m := Msg{
		Family:  family,
		State:   1,
		Timer:   2,
		Retrans: 3,
		IfIndex: 0x01020304,
		Cookie:  cookie,
		Expires: 0x11121314,
		RQueue:  0x21222324,
		WQueue:  0x31323334,
		UID:     0x41424344,
		Inode:   0x51525354,
		Attrs:   []byte{},
	}
	if family == afINET6 {
		m.Src = netip.MustParseAddrPort("[2001:db8::1]:443")
		m.Dst = netip.MustParseAddrPort("[2001:db8::2]:50000")
	} else {
		m.Src = netip.MustParseAddrPort("192.0.2.1:443")
		m.Dst = netip.MustParseAddrPort("198.51.100.2:50000")
	}
	return m
}
