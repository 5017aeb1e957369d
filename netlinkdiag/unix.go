package netlinkdiag

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
)

// The unix_diag numbers, from include/uapi/linux/unix_diag.h.
const (
	afUNIX = 1 // AF_UNIX

	sizeofUnixDiagReq = 24 // struct unix_diag_req
	sizeofUnixDiagMsg = 16 // struct unix_diag_msg
)

// The udiag_show bits of a UnixRequest: which attributes the kernel sends
// with each socket.
const (
	UnixShowName    uint32 = 0x01 // UDIAG_SHOW_NAME: UnixAttrName
	UnixShowVFS     uint32 = 0x02 // UDIAG_SHOW_VFS: UnixAttrVFS
	UnixShowPeer    uint32 = 0x04 // UDIAG_SHOW_PEER: UnixAttrPeer
	UnixShowIcons   uint32 = 0x08 // UDIAG_SHOW_ICONS: UnixAttrIcons
	UnixShowRQLen   uint32 = 0x10 // UDIAG_SHOW_RQLEN: UnixAttrRQLen
	UnixShowMemInfo uint32 = 0x20 // UDIAG_SHOW_MEMINFO: UnixAttrMemInfo
	UnixShowUID     uint32 = 0x40 // UDIAG_SHOW_UID: UnixAttrUID
)

// The attribute types of a unix_diag_msg reply (UNIX_DIAG_*). Unlike
// INET_DIAG_*, they start at 0.
const (
	UnixAttrName     uint16 = 0 // the bound name: a path, or NUL and an abstract name
	UnixAttrVFS      uint16 = 1 // struct unix_diag_vfs: the bound file's inode and device
	UnixAttrPeer     uint16 = 2 // u32 inode of the peer
	UnixAttrIcons    uint16 = 3 // u32 inodes of a listener's pending connections
	UnixAttrRQLen    uint16 = 4 // struct unix_diag_rqlen
	UnixAttrMemInfo  uint16 = 5 // u32[SK_MEMINFO_VARS], as AttrSkMemInfo
	UnixAttrShutdown uint16 = 6 // u8 sk_shutdown: bit 0 receive, bit 1 send
	UnixAttrUID      uint16 = 7 // u32 owner's user id
)

// UnixRequest is a unix_diag_req dump request.
type UnixRequest struct {
	// States is the udiag_states bit mask, bit N for state N: a unix
	// socket is in TCP_LISTEN, TCP_ESTABLISHED, TCP_CLOSE or, while it
	// connects, TCP_SYN_SENT (include/net/tcp_states.h).
	States uint32
	// Show is the udiag_show bits (UnixShow*).
	Show uint32
}

// UnixMsg is a decoded unix_diag_msg plus its attributes.
type UnixMsg struct {
	// Type is the socket type: SOCK_STREAM 1, SOCK_DGRAM 2,
	// SOCK_SEQPACKET 5.
	Type uint8
	// State is the socket state, numbered as in tcp_states.h.
	State uint8
	// Inode is the socket's inode number.
	Inode uint32
	// Cookie is the kernel's socket cookie, udiag_cookie[0] |
	// udiag_cookie[1]<<32.
	Cookie uint64
	// Attrs holds the raw attributes (UnixAttr*); read them with
	// NewAttrDecoder. It aliases the receive buffer: it is valid only
	// until the callback that received the UnixMsg returns.
	Attrs []byte
}

// DecodeUnixMsg decodes one unix_diag_msg, the payload of a
// SOCK_DIAG_BY_FAMILY reply to a UnixRequest without its nlmsghdr, into m.
// It allocates nothing; m.Attrs then aliases b. On error m is left
// unchanged. Every field is in native byte order.
func DecodeUnixMsg(b []byte, m *UnixMsg) error {
	if len(b) < sizeofUnixDiagMsg {
		return fmt.Errorf("netlinkdiag: unix_diag_msg of %d bytes, want %d: %w", len(b), sizeofUnixDiagMsg, ErrShort)
	}
	if b[0] != afUNIX {
		return fmt.Errorf("netlinkdiag: unix_diag_msg of address family %d: %w", b[0], ErrMalformed)
	}
	ne := binary.NativeEndian
	m.Type = b[1]
	m.State = b[2]
	m.Inode = ne.Uint32(b[4:8])
	m.Cookie = uint64(ne.Uint32(b[8:12])) | uint64(ne.Uint32(b[12:16]))<<32
	m.Attrs = b[sizeofUnixDiagMsg:]
	return nil
}

// UnixName is a decoded UnixAttrName: a path, or an abstract name (the
// kernel's leading NUL dropped), which may hold any bytes, NUL included.
type UnixName struct {
	Name     string
	Abstract bool
}

// DecodeUnixName decodes the payload of a UnixAttrName attribute. The
// kernel sends a path without its NUL terminator; a payload that has one
// is cut there. It allocates the name.
func DecodeUnixName(b []byte) UnixName {
	if len(b) > 0 && b[0] == 0 {
		return UnixName{Name: string(b[1:]), Abstract: true}
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return UnixName{Name: string(b)}
}

// UnixVFS is struct unix_diag_vfs: the inode and device of the file a
// socket is bound to.
type UnixVFS struct {
	Ino uint32
	// Dev is the kernel's dev_t: the major number in bits 20 and up, the
	// minor in the 20 below (new_encode_dev is for userspace; this is the
	// in-kernel s_dev).
	Dev uint32
}

// DecodeUnixVFS decodes the payload of a UnixAttrVFS attribute, in native
// byte order. A payload of another size wraps ErrShort or ErrMalformed.
func DecodeUnixVFS(b []byte) (UnixVFS, error) {
	if err := wantLen("unix_diag_vfs", b, 8); err != nil {
		return UnixVFS{}, err
	}
	ne := binary.NativeEndian
	return UnixVFS{Ino: ne.Uint32(b[0:4]), Dev: ne.Uint32(b[4:8])}, nil
}

// UnixRQLen is struct unix_diag_rqlen: for a listener, its pending
// connections and the backlog's limit; otherwise the bytes queued to
// receive and, for a stream socket, those sent and not yet read by the peer
// (a datagram socket's Send-Q is its memory in flight).
type UnixRQLen struct {
	RQueue, WQueue uint32
}

// DecodeUnixRQLen decodes the payload of a UnixAttrRQLen attribute, in
// native byte order. A payload of another size wraps ErrShort or
// ErrMalformed.
func DecodeUnixRQLen(b []byte) (UnixRQLen, error) {
	if err := wantLen("unix_diag_rqlen", b, 8); err != nil {
		return UnixRQLen{}, err
	}
	ne := binary.NativeEndian
	return UnixRQLen{RQueue: ne.Uint32(b[0:4]), WQueue: ne.Uint32(b[4:8])}, nil
}

// AppendUnixIcons appends to dst the inodes of a UnixAttrIcons payload,
// native-order u32s. A payload that is not a whole number of them wraps
// ErrMalformed and appends nothing.
func AppendUnixIcons(dst []uint32, b []byte) ([]uint32, error) {
	if len(b)%4 != 0 {
		return dst, fmt.Errorf("netlinkdiag: unix icons of %d bytes, not a whole number of u32: %w", len(b), ErrMalformed)
	}
	for i := 0; i < len(b); i += 4 {
		dst = append(dst, binary.NativeEndian.Uint32(b[i:i+4]))
	}
	return dst, nil
}

// wantLen checks that a fixed-size payload b is n bytes long.
func wantLen(what string, b []byte, n int) error {
	switch {
	case len(b) < n:
		return fmt.Errorf("netlinkdiag: %s of %d bytes, want %d: %w", what, len(b), n, ErrShort)
	case len(b) > n:
		return fmt.Errorf("netlinkdiag: %s of %d bytes, want %d: %w", what, len(b), n, ErrMalformed)
	}
	return nil
}

// appendUnixRequest appends to b a SOCK_DIAG_BY_FAMILY dump request for
// unix sockets: struct unix_diag_req, whose udiag_ino and udiag_cookie a
// dump leaves 0, fields in native byte order.
func appendUnixRequest(b []byte, req UnixRequest, seq uint32) []byte {
	b, r, _ := appendMsg(b, sockDiagByFamily, nlmFRequest|nlmFDump, seq, sizeofUnixDiagReq, nil)
	r[0] = afUNIX
	binary.NativeEndian.PutUint32(r[4:8], req.States)
	binary.NativeEndian.PutUint32(r[12:16], req.Show)
	return b
}

// DumpUnixOnce sends one unix_diag dump request and calls fn for every
// reply message, decoded into a reused UnixMsg: fn must copy what it
// keeps. It returns an error wrapping ErrDumpInterrupted, after fn has seen
// every message, if any carried NLM_F_DUMP_INTR. Errors are as for Dump.
func (c *Conn) DumpUnixOnce(ctx context.Context, req UnixRequest, fn func(*UnixMsg) error) error {
	var m UnixMsg
	intr, err := c.exchange(ctx, true, func(b []byte, seq uint32) ([]byte, error) {
		return appendUnixRequest(b, req, seq), nil
	}, func(payload []byte) error {
		if err := DecodeUnixMsg(payload, &m); err != nil {
			return err
		}
		return fn(&m)
	})
	if err != nil {
		return err
	}
	if intr {
		return fmt.Errorf("netlinkdiag: dump of unix sockets: %w", ErrDumpInterrupted)
	}
	return nil
}
