package netlinkdiag

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The attribute types of an inet_diag_msg reply (INET_DIAG_*), from
// include/uapi/linux/inet_diag.h.
const (
	AttrMemInfo       uint16 = 1  // struct inet_diag_meminfo
	AttrInfo          uint16 = 2  // struct tcp_info for TCP
	AttrVegasInfo     uint16 = 3  // struct tcpvegas_info
	AttrCong          uint16 = 4  // congestion control name, NUL-terminated
	AttrTOS           uint16 = 5  // u8 IPv4 TOS
	AttrTClass        uint16 = 6  // u8 IPv6 traffic class
	AttrSkMemInfo     uint16 = 7  // u32[SK_MEMINFO_VARS]
	AttrShutdown      uint16 = 8  // u8 sk_shutdown: bit 0 receive, bit 1 send
	AttrDCTCPInfo     uint16 = 9  // struct tcp_dctcp_info
	AttrProtocol      uint16 = 10 // u8 IP protocol
	AttrSkV6Only      uint16 = 11 // u8 IPV6_V6ONLY
	AttrLocals        uint16 = 12 // SCTP local addresses
	AttrPeers         uint16 = 13 // SCTP peer addresses
	AttrPad           uint16 = 14 // alignment padding
	AttrMark          uint16 = 15 // u32 socket mark, with CAP_NET_ADMIN
	AttrBBRInfo       uint16 = 16 // struct tcp_bbr_info
	AttrClassID       uint16 = 17 // u32 net_cls class id
	AttrMD5Sig        uint16 = 18 // TCP MD5 keys
	AttrULPInfo       uint16 = 19 // nested INET_ULP_INFO_*
	AttrSkBPFStorages uint16 = 20 // nested BPF socket storage
	AttrCgroupID      uint16 = 21 // u64 cgroup v2 id
	AttrSockOpt       uint16 = 22 // struct inet_diag_sockopt
)

// The attributes nested in AttrULPInfo (INET_ULP_INFO_*), which the kernel
// sends with AttrInfo for a socket with an upper layer protocol.
const (
	ULPInfoName  uint16 = 1 // the protocol's name, NUL-terminated: "tls", "mptcp"
	ULPInfoTLS   uint16 = 2 // nested TLS_INFO_*
	ULPInfoMPTCP uint16 = 3 // nested MPTCP_SUBFLOW_ATTR_*
)

// The flag bits of nla_type, from include/uapi/linux/netlink.h.
const (
	attrFlagNested uint16 = 0x8000 // NLA_F_NESTED
	attrTypeMask   uint16 = 0x3fff // NLA_TYPE_MASK: without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// The Request.Ext bits that ask for an extension: bit (INET_DIAG_x - 1).
// Only the first eight attributes fit the u8; the kernel sends the others
// with these (AttrDCTCPInfo and AttrBBRInfo with ExtVegasInfo, AttrClassID
// with ExtTClass) or unasked.
const (
	ExtMemInfo   uint8 = 1 << (AttrMemInfo - 1)
	ExtInfo      uint8 = 1 << (AttrInfo - 1)
	ExtVegasInfo uint8 = 1 << (AttrVegasInfo - 1)
	ExtCong      uint8 = 1 << (AttrCong - 1)
	ExtTOS       uint8 = 1 << (AttrTOS - 1)
	ExtTClass    uint8 = 1 << (AttrTClass - 1)
	ExtSkMemInfo uint8 = 1 << (AttrSkMemInfo - 1)
	ExtShutdown  uint8 = 1 << (AttrShutdown - 1)
)

// AttrDecoder iterates the netlink attributes of a Msg without allocating.
// Like mdlayher/netlink's AttributeDecoder it keeps the first error, which
// the caller checks once after the loop:
//
//	ad := netlinkdiag.NewAttrDecoder(m.Attrs)
//	for ad.Next() {
//		switch ad.Type() {
//		case netlinkdiag.AttrShutdown:
//			shut = ad.Uint8()
//		}
//	}
//	if err := ad.Err(); err != nil { ... }
//
// Attribute headers and integer payloads are in native byte order.
type AttrDecoder struct {
	b    []byte
	typ  uint16
	data []byte
	err  error
}

// NewAttrDecoder returns a decoder over the attributes in b, such as
// Msg.Attrs.
func NewAttrDecoder(b []byte) AttrDecoder {
	return AttrDecoder{b: b}
}

// Next advances to the next attribute and reports whether there is one. It
// returns false at the end of the data and at the first error.
func (d *AttrDecoder) Next() bool {
	if d.err != nil || len(d.b) == 0 {
		return false
	}
	if len(d.b) < sizeofNlAttr {
		d.err = fmt.Errorf("netlinkdiag: attribute header in %d bytes: %w", len(d.b), ErrShort)
		return false
	}
	n := int(binary.NativeEndian.Uint16(d.b[0:2]))
	switch {
	case n < sizeofNlAttr:
		d.err = fmt.Errorf("netlinkdiag: attribute length %d below its header: %w", n, ErrMalformed)
		return false
	case n > len(d.b):
		d.err = fmt.Errorf("netlinkdiag: attribute length %d with %d bytes left: %w", n, len(d.b), ErrShort)
		return false
	}
	d.typ = binary.NativeEndian.Uint16(d.b[2:4])
	d.data = d.b[sizeofNlAttr:n]
	// The last attribute may go without its padding.
	d.b = d.b[min(align4(n), len(d.b)):]
	return true
}

// Type returns the current attribute's type without the NLA_F_NESTED and
// NLA_F_NET_BYTEORDER flags.
func (d *AttrDecoder) Type() uint16 {
	return d.typ & attrTypeMask
}

// Nested reports whether the current attribute carries NLA_F_NESTED.
func (d *AttrDecoder) Nested() bool {
	return d.typ&attrFlagNested != 0
}

// Bytes returns the current attribute's payload. It aliases the decoded
// data.
func (d *AttrDecoder) Bytes() []byte {
	return d.data
}

// Uint8 returns the current attribute's payload as a u8.
func (d *AttrDecoder) Uint8() uint8 {
	if !d.want(1) {
		return 0
	}
	return d.data[0]
}

// Uint32 returns the current attribute's payload as a native-order u32.
func (d *AttrDecoder) Uint32() uint32 {
	if !d.want(4) {
		return 0
	}
	return binary.NativeEndian.Uint32(d.data)
}

// Uint64 returns the current attribute's payload as a native-order u64.
func (d *AttrDecoder) Uint64() uint64 {
	if !d.want(8) {
		return 0
	}
	return binary.NativeEndian.Uint64(d.data)
}

// String returns the current attribute's payload as a string, up to its
// first NUL byte, as for AttrCong. It allocates the string.
func (d *AttrDecoder) String() string {
	b := d.data
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Err returns the first error met by Next or a typed accessor.
func (d *AttrDecoder) Err() error {
	return d.err
}

// want reports whether the current payload is exactly n bytes, and records
// an error if not.
func (d *AttrDecoder) want(n int) bool {
	if len(d.data) == n {
		return true
	}
	if d.err == nil {
		sentinel := ErrMalformed
		if len(d.data) < n {
			sentinel = ErrShort
		}
		d.err = fmt.Errorf("netlinkdiag: attribute %d of %d bytes, want %d: %w", d.Type(), len(d.data), n, sentinel)
	}
	return false
}

// DecodeCgroupID decodes the payload of AttrCgroupID: the socket's cgroup
// v2 id, a u64 in native byte order.
func DecodeCgroupID(b []byte) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("netlinkdiag: cgroup id in %d bytes: %w", len(b), ErrShort)
	}
	return binary.NativeEndian.Uint64(b), nil
}
