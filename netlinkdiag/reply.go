package netlinkdiag

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// reply follows the reply to one request across the datagrams that carry
// it. The kernel answers a dump with NLM_F_MULTI messages closed by
// NLMSG_DONE, an exact lookup with one message, and either with NLMSG_ERROR
// when it refuses the request. It answers SOCK_DESTROY, sent with
// NLM_F_ACK, with NLMSG_ERROR alone: error 0 acknowledges success.
type reply struct {
	seq, pid uint32 // the request's nlmsg_seq and the socket's port id
	dump     bool   // the request carried NLM_F_DUMP
	done     bool   // the reply is complete
	intr     bool   // a message carried NLM_F_DUMP_INTR
}

// parse handles the netlink messages of the datagram b. It decodes every
// SOCK_DIAG_BY_FAMILY message of the reply into m and calls fn with it. It
// skips messages of other requests (by nlmsg_seq and nlmsg_pid) and of
// types it does not know, such as NLMSG_NOOP, and stops at the end of the
// reply, at the first malformed message, and when fn returns an error,
// which it returns as is.
func (r *reply) parse(b []byte, m *Msg, fn func(*Msg) error) error {
	return r.handle(b, func(payload []byte) error {
		if err := DecodeMsg(payload, m); err != nil {
			return err
		}
		return fn(m)
	})
}

// handle is parse for any sock_diag reply: it hands the payload of each
// SOCK_DIAG_BY_FAMILY message of the reply to fn, which decodes it.
func (r *reply) handle(b []byte, fn func(payload []byte) error) error {
	for len(b) > 0 {
		h, payload, rest, err := nextMsg(b)
		if err != nil {
			return err
		}
		b = rest
		if h.seq != r.seq || h.pid != r.pid {
			continue
		}
		if h.flags&nlmFDumpIntr != 0 {
			r.intr = true
		}
		switch h.typ {
		case nlmsgError:
			r.done = true
			return decodeError("nlmsgerr", payload, true)
		case nlmsgDone:
			r.done = true
			return decodeError("NLMSG_DONE", payload, false)
		case sockDiagByFamily, tcpdiagGetSock:
			// The kernel answers a TCPDIAG_GETSOCK dump with messages
			// of that type, and the same inet_diag_msg.
			if !r.dump && h.flags&nlmFMulti == 0 {
				r.done = true
			}
			if err := fn(payload); err != nil {
				return err
			}
			if r.done {
				return nil
			}
		}
	}
	return nil
}

// nlMsghdr holds the fields of a struct nlmsghdr past its length.
type nlMsghdr struct {
	typ, flags uint16
	seq, pid   uint32
}

// nextMsg splits the first netlink message off b: its header, its payload,
// and the messages after it. The last message may go without its padding.
// Netlink headers are in native byte order.
func nextMsg(b []byte) (h nlMsghdr, payload, rest []byte, err error) {
	if len(b) < sizeofNlMsghdr {
		return h, nil, nil, fmt.Errorf("netlinkdiag: nlmsghdr in %d bytes: %w", len(b), ErrShort)
	}
	ne := binary.NativeEndian
	length := ne.Uint32(b[0:4])
	switch {
	case length < sizeofNlMsghdr:
		return h, nil, nil, fmt.Errorf("netlinkdiag: nlmsg_len %d below its header: %w", length, ErrMalformed)
	case length > uint32(len(b)):
		return h, nil, nil, fmt.Errorf("netlinkdiag: nlmsg_len %d with %d bytes left: %w", length, len(b), ErrShort)
	}
	h = nlMsghdr{typ: ne.Uint16(b[4:6]), flags: ne.Uint16(b[6:8]), seq: ne.Uint32(b[8:12]), pid: ne.Uint32(b[12:16])}
	n := int(length)
	return h, b[sizeofNlMsghdr:n], b[min(align4(n), len(b)):], nil
}

// decodeError decodes the error code that starts the payload of an
// NLMSG_ERROR (struct nlmsgerr, required) or NLMSG_DONE (an int, optional)
// message: 0 or a negative errno, in native byte order. It returns nil for
// 0 and a wrapped syscall.Errno (unix.Errno on Linux) otherwise, so that
// errors.Is finds the errno and os.ErrPermission and its kin.
func decodeError(what string, payload []byte, required bool) error {
	if len(payload) < 4 {
		if !required {
			return nil
		}
		return fmt.Errorf("netlinkdiag: %s in %d bytes: %w", what, len(payload), ErrShort)
	}
	code := int32(binary.NativeEndian.Uint32(payload[0:4]))
	switch {
	case code == 0:
		return nil
	case code > 0:
		return fmt.Errorf("netlinkdiag: %s with positive error %d: %w", what, code, ErrMalformed)
	}
	return fmt.Errorf("netlinkdiag: kernel replied: %w", syscall.Errno(-int64(code)))
}
