package netlinkdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Linux's address family numbers. They are spelled out here rather than
// taken from golang.org/x/sys/unix because the decoders build on every
// platform and other systems number their families differently (AF_INET6 is
// 30 on Darwin).
const (
	afUNSPEC = 0
	afINET   = 2
	afINET6  = 10

	ipprotoTCP = 6
)

// Sizes of the kernel structures, from include/uapi/linux/inet_diag.h.
const (
	sizeofInetDiagSockID = 48 // struct inet_diag_sockid
	sizeofInetDiagReq    = 60 // struct inet_diag_req, the legacy request
	sizeofInetDiagReqV2  = 56 // struct inet_diag_req_v2
	sizeofInetDiagMsg    = 72 // struct inet_diag_msg
)

// The package's sentinel errors. Errors returned by this package wrap them
// with context, so test them with errors.Is.
var (
	// ErrShort is wrapped by decode errors for data that ends before the
	// structure or the length it announces.
	ErrShort = errors.New("message too short")
	// ErrMalformed is wrapped by decode errors for data that is long enough
	// but impossible: a length field smaller than its own header, or an
	// address family other than AF_INET and AF_INET6.
	ErrMalformed = errors.New("malformed message")
	// ErrDumpInterrupted is wrapped by Dump's error when every attempt of a
	// dump carried NLM_F_DUMP_INTR, and by DumpOnce's when its one attempt
	// did.
	ErrDumpInterrupted = errors.New("dump interrupted")
)

// Msg is a decoded inet_diag_msg plus its attributes.
type Msg struct {
	// Family is the address family: AF_INET (2) or AF_INET6 (10).
	Family uint8
	// State is the socket state with the numbers of
	// include/net/tcp_states.h (ESTABLISHED=1 ... LISTEN=10).
	State uint8
	// Timer is the pending timer: 0 none, 1 retransmit, 2 keepalive,
	// 3 TIME_WAIT, 4 zero window probe.
	Timer uint8
	// Retrans is the number of retransmits (or probes) the timer has sent.
	Retrans uint8

	// Src and Dst are the local and remote address and port. An AF_INET
	// socket has IPv4 addresses; an AF_INET6 one has IPv6 addresses, IPv4
	// mapped ones included. No zone is set: IfIndex carries it.
	Src, Dst netip.AddrPort
	// IfIndex is the interface the socket is bound to, 0 for none.
	IfIndex uint32
	// Cookie is the kernel's socket cookie, idiag_cookie[0] |
	// idiag_cookie[1]<<32. It identifies the socket for its whole life,
	// TIME_WAIT included.
	Cookie uint64

	// Expires is the time until the timer fires, in milliseconds.
	Expires uint32
	// RQueue and WQueue are the receive and send queues: for a listener,
	// the accept queue's length and its limit.
	RQueue, WQueue uint32
	// UID is the owner's user id.
	UID uint32
	// Inode is the socket's inode number, 0 for a TIME_WAIT socket.
	Inode uint32

	// Attrs holds the raw netlink attributes after the fixed header; read
	// them with NewAttrDecoder. It aliases the receive buffer: it is valid
	// only until the callback that received the Msg returns.
	Attrs []byte
}

// DecodeMsg decodes one inet_diag_msg, the payload of a SOCK_DIAG_BY_FAMILY
// reply without its nlmsghdr, into m. It reuses m and allocates nothing when
// it succeeds; m.Attrs then aliases b. On error m is left unchanged.
func DecodeMsg(b []byte, m *Msg) error {
	if len(b) < sizeofInetDiagMsg {
		return fmt.Errorf("netlinkdiag: inet_diag_msg of %d bytes, want %d: %w", len(b), sizeofInetDiagMsg, ErrShort)
	}
	src, dst, err := decodeAddrs(b[0], b[4:4+sizeofInetDiagSockID])
	if err != nil {
		return err
	}
	m.Family = b[0]
	m.State = b[1]
	m.Timer = b[2]
	m.Retrans = b[3]
	m.Src = src
	m.Dst = dst
	m.IfIndex = binary.NativeEndian.Uint32(b[40:44])
	// The cookie is two native-order u32 words, the low one first.
	m.Cookie = uint64(binary.NativeEndian.Uint32(b[44:48])) | uint64(binary.NativeEndian.Uint32(b[48:52]))<<32
	m.Expires = binary.NativeEndian.Uint32(b[52:56])
	m.RQueue = binary.NativeEndian.Uint32(b[56:60])
	m.WQueue = binary.NativeEndian.Uint32(b[60:64])
	m.UID = binary.NativeEndian.Uint32(b[64:68])
	m.Inode = binary.NativeEndian.Uint32(b[68:72])
	m.Attrs = b[sizeofInetDiagMsg:]
	return nil
}

// decodeAddrs decodes the ports and addresses of an inet_diag_sockid (id is
// at least sizeofInetDiagSockID bytes). Ports and addresses are in network
// byte order; an IPv4 address fills the first 4 bytes of its 16-byte field.
func decodeAddrs(family uint8, id []byte) (src, dst netip.AddrPort, err error) {
	sport := binary.BigEndian.Uint16(id[0:2])
	dport := binary.BigEndian.Uint16(id[2:4])
	switch family {
	case afINET:
		src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(id[4:8])), sport)
		dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(id[20:24])), dport)
	case afINET6:
		src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(id[4:20])), sport)
		dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(id[20:36])), dport)
	default:
		return src, dst, fmt.Errorf("netlinkdiag: address family %d: %w", family, ErrMalformed)
	}
	return src, dst, nil
}
