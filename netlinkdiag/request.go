package netlinkdiag

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Netlink and sock_diag numbers from include/uapi/linux/netlink.h and
// include/uapi/linux/sock_diag.h.
const (
	sizeofNlMsghdr = 16 // struct nlmsghdr
	sizeofNlAttr   = 4  // struct nlattr

	nlmsgError = 0x2
	nlmsgDone  = 0x3

	nlmFRequest  = 0x1
	nlmFMulti    = 0x2
	nlmFAck      = 0x4
	nlmFDumpIntr = 0x10
	nlmFDump     = 0x300 // NLM_F_ROOT | NLM_F_MATCH

	tcpdiagGetSock   = 18 // TCPDIAG_GETSOCK: the legacy request, struct inet_diag_req
	sockDiagByFamily = 20
	sockDestroy      = 21

	inetDiagReqBytecode = 1 // INET_DIAG_REQ_BYTECODE
	inetDiagReqProtocol = 3 // INET_DIAG_REQ_PROTOCOL: u32, for a protocol past sdiag_protocol's u8

	ipprotoUDP     = 17  // IPPROTO_UDP
	ipprotoUDPLite = 136 // IPPROTO_UDPLITE
)

// inetDiagNoCookie is INET_DIAG_NOCOOKIE in both words of idiag_cookie: the
// kernel then matches a socket on its addresses alone.
const inetDiagNoCookie = ^uint64(0)

// Request is an inet_diag_req_v2 dump request.
//
// A TCP dump with Family 0 (AF_UNSPEC) lists both families in one walk of
// the kernel's socket tables, where one dump per family walks them twice,
// each time skipping the other family's sockets. It goes as the legacy
// TCPDIAG_GETSOCK request (struct inet_diag_req), which the kernel still
// serves for TCP only, and sockets come in the kernel's table order with
// the families mixed.
type Request struct {
	Family   uint8  // unix.AF_INET or unix.AF_INET6; 0 for both (TCP dumps only)
	Protocol uint16 // unix.IPPROTO_TCP, IPPROTO_UDP, IPPROTO_RAW or IPPROTO_MPTCP (262)
	States   uint32 // idiag_states bit mask, bit N = state N (tcp_states.h)
	Ext      uint8  // idiag_ext: bit (INET_DIAG_x - 1) per wanted extension; 0 = none
	Bytecode []byte // INET_DIAG_REQ_BYTECODE attribute; nil for none
	// RawProtocol is a raw socket's protocol (its local "port" in a
	// dump's inet_diag_sockid), which raw_diag matches in a lookup or a
	// SOCK_DESTROY: struct inet_diag_req_raw's sdiag_raw_protocol, in
	// inet_diag_req_v2's pad byte, as ss -K sends it. 0 for other requests.
	RawProtocol uint8
}

// SockID names one socket for Lookup: the inet_diag_sockid of the request.
// Src is the socket's local end and Dst its remote end, as Msg reports them.
type SockID struct {
	Src, Dst netip.AddrPort
	// IfIndex is the interface the socket is bound to, 0 for none.
	IfIndex uint32
	// Cookie is the socket's cookie; 0 asks for whatever socket has the
	// addresses (the kernel never hands out cookie 0).
	Cookie uint64
}

// maxBytecode is the longest bytecode that fits an attribute's u16 length.
const maxBytecode = 0xffff - sizeofNlAttr

// appendRequest appends to b a SOCK_DIAG_BY_FAMILY request with the
// netlink flags and sequence number given.
func appendRequest(b []byte, req Request, id SockID, flags uint16, seq uint32) ([]byte, error) {
	return appendTypedRequest(b, sockDiagByFamily, req, id, flags, seq)
}

// appendTypedRequest appends to b a request of the netlink message type typ
// (SOCK_DIAG_BY_FAMILY or SOCK_DESTROY) with the flags and sequence number
// given. All fields but the ports and addresses of id are in native byte
// order.
func appendTypedRequest(b []byte, typ uint16, req Request, id SockID, flags uint16, seq uint32) ([]byte, error) {
	if req.Family == afUNSPEC {
		if typ != sockDiagByFamily || flags&nlmFDump == 0 || req.Protocol != ipprotoTCP {
			return b, fmt.Errorf("netlinkdiag: address family 0 (both) is for TCP dumps only")
		}
		return appendCompatDump(b, req, flags, seq)
	}
	if req.Family != afINET && req.Family != afINET6 {
		return b, fmt.Errorf("netlinkdiag: request for address family %d, want AF_INET or AF_INET6", req.Family)
	}
	start := len(b)
	b, r, err := appendMsg(b, typ, flags, seq, sizeofInetDiagReqV2, req.Bytecode)
	if err != nil {
		return b, err
	}
	r[0] = req.Family
	r[1] = uint8(req.Protocol)
	r[2] = req.Ext
	r[3] = req.RawProtocol
	binary.NativeEndian.PutUint32(r[4:8], req.States)
	if err := putSockID(r[8:8+sizeofInetDiagSockID], req.Family, id); err != nil {
		return b[:start], err
	}
	if req.Protocol > 0xff {
		// The kernel takes the protocol from the attribute when there
		// is one (inet_diag_get_protocol), so sdiag_protocol's
		// truncated value does not matter; ss sends the same.
		b = appendU32Attr(b, start, inetDiagReqProtocol, uint32(req.Protocol))
	}
	return b, nil
}

// appendU32Attr appends a u32 attribute to the message that starts at
// b[start:], growing its nlmsg_len. Native byte order.
func appendU32Attr(b []byte, start int, typ uint16, v uint32) []byte {
	ne := binary.NativeEndian
	b = ne.AppendUint16(b, sizeofNlAttr+4)
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint32(b, v)
	ne.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendCompatDump appends a TCPDIAG_GETSOCK dump request: struct
// inet_diag_req (idiag_family, idiag_src_len, idiag_dst_len, idiag_ext, a
// zero inet_diag_sockid, idiag_states, idiag_dbs), then the bytecode. The
// kernel's inet_diag_dump_compat runs it as an AF_UNSPEC dump. Fields in
// native byte order.
func appendCompatDump(b []byte, req Request, flags uint16, seq uint32) ([]byte, error) {
	b, r, err := appendMsg(b, tcpdiagGetSock, flags, seq, sizeofInetDiagReq, req.Bytecode)
	if err != nil {
		return b, err
	}
	r[3] = req.Ext
	binary.NativeEndian.PutUint32(r[4+sizeofInetDiagSockID:], req.States)
	return b, nil
}

// appendMsg appends to b a netlink message of type typ with the flags and
// sequence number given, whose payload is a zeroed request of bodyLen
// bytes and then, unless it is nil, bytecode as an INET_DIAG_REQ_BYTECODE
// attribute. It returns b and the request, for the caller to fill in.
// Header fields are in native byte order; nlmsg_pid stays 0: the kernel
// knows the sender.
func appendMsg(b []byte, typ, flags uint16, seq uint32, bodyLen int, bytecode []byte) ([]byte, []byte, error) {
	if len(bytecode) > maxBytecode {
		return b, nil, fmt.Errorf("netlinkdiag: bytecode of %d bytes, at most %d fit an attribute", len(bytecode), maxBytecode)
	}
	size := sizeofNlMsghdr + bodyLen
	if bytecode != nil {
		size += align4(sizeofNlAttr + len(bytecode))
	}
	start := len(b)
	b = append(b, make([]byte, size)...)
	m := b[start:]

	ne := binary.NativeEndian
	ne.PutUint32(m[0:4], uint32(size))
	ne.PutUint16(m[4:6], typ)
	ne.PutUint16(m[6:8], flags)
	ne.PutUint32(m[8:12], seq)
	if bytecode != nil {
		a := m[sizeofNlMsghdr+bodyLen:]
		ne.PutUint16(a[0:2], uint16(sizeofNlAttr+len(bytecode)))
		ne.PutUint16(a[2:4], inetDiagReqBytecode)
		copy(a[sizeofNlAttr:], bytecode)
	}
	return b, m[sizeofNlMsghdr : sizeofNlMsghdr+bodyLen], nil
}

// putSockID writes id into the zeroed inet_diag_sockid b for a request of
// the family given. Ports and addresses are in network byte order, the
// interface and cookie in native order.
func putSockID(b []byte, family uint8, id SockID) error {
	binary.BigEndian.PutUint16(b[0:2], id.Src.Port())
	binary.BigEndian.PutUint16(b[2:4], id.Dst.Port())
	if err := putAddr(b[4:20], family, id.Src.Addr()); err != nil {
		return err
	}
	if err := putAddr(b[20:36], family, id.Dst.Addr()); err != nil {
		return err
	}
	binary.NativeEndian.PutUint32(b[36:40], id.IfIndex)
	cookie := id.Cookie
	if cookie == 0 {
		cookie = inetDiagNoCookie
	}
	binary.NativeEndian.PutUint32(b[40:44], uint32(cookie))
	binary.NativeEndian.PutUint32(b[44:48], uint32(cookie>>32))
	return nil
}

// putAddr writes a into the zeroed 16-byte address field b. The zero Addr
// leaves the field zero, as for a dump.
func putAddr(b []byte, family uint8, a netip.Addr) error {
	switch {
	case !a.IsValid():
	case family == afINET6:
		a16 := a.As16()
		copy(b, a16[:])
	case a.Unmap().Is4():
		a4 := a.Unmap().As4()
		copy(b, a4[:])
	default:
		return fmt.Errorf("netlinkdiag: IPv6 address %s in an AF_INET request", a)
	}
	return nil
}

// align4 rounds n up to the 4-byte alignment of netlink messages and
// attributes (NLMSG_ALIGN, NLA_ALIGN).
func align4(n int) int {
	return (n + 3) &^ 3
}
