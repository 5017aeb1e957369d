package netlinkdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Operation codes of sock_diag filter bytecode, from the INET_DIAG_BC_* enum
// in include/uapi/linux/inet_diag.h.
const (
	bcJmp   = 1 // INET_DIAG_BC_JMP
	bcSGE   = 2 // INET_DIAG_BC_S_GE
	bcSLE   = 3 // INET_DIAG_BC_S_LE
	bcDGE   = 4 // INET_DIAG_BC_D_GE
	bcDLE   = 5 // INET_DIAG_BC_D_LE
	bcSCond = 7 // INET_DIAG_BC_S_COND
	bcDCond = 8 // INET_DIAG_BC_D_COND
	// bcCgroupCond is INET_DIAG_BC_CGROUP_COND (Linux 5.7): the op is
	// followed by the u64 cgroup v2 id, in native byte order.
	bcCgroupCond = 13
)

// Sizes of the kernel's structures: struct inet_diag_bc_op {u8 code; u8 yes;
// u16 no;} and struct inet_diag_hostcond {u8 family; u8 prefix_len; int port;
// __be32 addr[];}, whose port sits 4-byte aligned.
const (
	sizeofBCOp     = 4
	sizeofHostcond = 8
)

// MaxProgramLen is the longest program that fits the u16 length of the
// INET_DIAG_REQ_BYTECODE attribute (whose 4-byte header counts), rounded down
// to the 4-byte alignment every operation keeps.
const MaxProgramLen = 0xffff - 4 - 3

// ErrProgramTooLong is returned by Program.Bytes when the program exceeds
// MaxProgramLen.
var ErrProgramTooLong = errors.New("netlinkdiag: bytecode program too long")

// Side is the end of a socket a condition tests.
type Side uint8

// The two ends of a socket.
const (
	Source Side = iota // the local address and port (ss's src, sport)
	Dest               // the remote address and port (ss's dst, dport)
)

// Label names a position in a Program that conditions jump to when they fail.
// Accept and Reject are the two exits every program has; NewLabel makes more.
type Label int

// The exits of a program. The kernel keeps a socket when execution runs off
// the end of the program exactly (Accept) and drops it when a jump lands 4
// bytes past the end (Reject); net/ipv4/inet_diag.c inet_diag_bc_run.
const (
	Accept Label = -1
	Reject Label = -2
)

// Program assembles sock_diag filter bytecode, the payload of the
// INET_DIAG_REQ_BYTECODE attribute of an inet_diag_req_v2 dump request.
//
// Every operation either holds, and execution goes on with the next
// operation, or fails, and execution jumps forward to the operation's label.
// Jump always jumps. Programs are straight-line code with forward jumps only,
// which is what the kernel's inet_diag_bc_audit accepts: each jump must land
// on an operation boundary, at the end (accept) or 4 bytes past it (reject).
//
// The zero Program has no operations.
type Program struct {
	ops    []bcOp
	labels []int // operation index each label is bound to; -1 while unbound
}

type bcOp struct {
	code uint8
	no   Label
	port int32        // comparisons: the port; hostconds: the port or -1
	pfx  netip.Prefix // hostconds: the address prefix, invalid for any
	id   uint64       // cgroup conditions: the cgroup v2 id
}

// NewLabel returns a label to pass to conditions and bind later with Bind.
func (p *Program) NewLabel() Label {
	p.labels = append(p.labels, -1)
	return Label(len(p.labels) - 1)
}

// Bind places l, which NewLabel returned, at the next operation to be added
// (or at the end of the program when none follows).
func (p *Program) Bind(l Label) {
	p.labels[l] = len(p.ops)
}

// PortAtLeast adds a condition that holds when the side's port is >= port
// (INET_DIAG_BC_S_GE or D_GE) and otherwise jumps to no.
func (p *Program) PortAtLeast(side Side, port uint16, no Label) {
	code := uint8(bcSGE)
	if side == Dest {
		code = bcDGE
	}
	p.ops = append(p.ops, bcOp{code: code, no: no, port: int32(port)})
}

// PortAtMost adds a condition that holds when the side's port is <= port
// (INET_DIAG_BC_S_LE or D_LE) and otherwise jumps to no.
func (p *Program) PortAtMost(side Side, port uint16, no Label) {
	code := uint8(bcSLE)
	if side == Dest {
		code = bcDLE
	}
	p.ops = append(p.ops, bcOp{code: code, no: no, port: int32(port)})
}

// HostCond adds a condition on the side's address and port
// (INET_DIAG_BC_S_COND or D_COND) that otherwise jumps to no. It holds when
// port is -1 or equals the side's port, and the address is in pfx. An invalid
// (zero) pfx matches any address and is sent as family AF_UNSPEC. The kernel
// compares families: an IPv4 prefix also matches IPv4-mapped addresses of
// IPv6 sockets, an IPv6 prefix never matches an IPv4 socket.
func (p *Program) HostCond(side Side, pfx netip.Prefix, port int32, no Label) {
	code := uint8(bcSCond)
	if side == Dest {
		code = bcDCond
	}
	p.ops = append(p.ops, bcOp{code: code, no: no, port: port, pfx: pfx})
}

// CgroupCond adds a condition that holds when the socket's cgroup v2 id is
// id (INET_DIAG_BC_CGROUP_COND) and otherwise jumps to no. The kernel
// compares 0 for the minisockets (TIME_WAIT, SYN_RECV), which keep no
// cgroup.
func (p *Program) CgroupCond(id uint64, no Label) {
	p.ops = append(p.ops, bcOp{code: bcCgroupCond, no: no, id: id})
}

// Jump adds an unconditional jump to l (INET_DIAG_BC_JMP).
func (p *Program) Jump(l Label) {
	p.ops = append(p.ops, bcOp{code: bcJmp, no: l})
}

// size returns the encoded length of op.
func (op *bcOp) size() int {
	switch op.code {
	case bcJmp:
		return sizeofBCOp
	case bcSCond, bcDCond:
		return sizeofBCOp + sizeofHostcond + addrLen(op.pfx)
	case bcCgroupCond:
		return sizeofBCOp + 8
	}
	return 2 * sizeofBCOp // a comparison carries its port in a second op
}

func addrLen(pfx netip.Prefix) int {
	switch {
	case !pfx.IsValid():
		return 0
	case pfx.Addr().Is4():
		return 4
	}
	return 16
}

// Bytes encodes the program. It fails when a label is unbound, a jump goes
// backwards, or the program is longer than MaxProgramLen. A program without
// operations encodes to no bytes: send no attribute for it, as the kernel
// rejects an empty one.
func (p *Program) Bytes() ([]byte, error) {
	offs := make([]int, len(p.ops)+1)
	for i := range p.ops {
		offs[i+1] = offs[i] + p.ops[i].size()
	}
	end := offs[len(p.ops)]
	if end > MaxProgramLen {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrProgramTooLong, end, MaxProgramLen)
	}
	b := make([]byte, 0, end)
	for i := range p.ops {
		op := &p.ops[i]
		var target int
		switch op.no {
		case Accept:
			target = end
		case Reject:
			target = end + 4
		default:
			if op.no < 0 || int(op.no) >= len(p.labels) || p.labels[op.no] < 0 {
				return nil, fmt.Errorf("netlinkdiag: bytecode operation %d jumps to unbound label %d", i, op.no)
			}
			target = offs[p.labels[op.no]]
		}
		n := op.size()
		if target < offs[i]+n {
			return nil, fmt.Errorf("netlinkdiag: bytecode operation %d jumps backwards", i)
		}
		b = op.append(b, n, target-offs[i])
	}
	return b, nil
}

// append encodes op, n bytes long, whose failure jumps no bytes forward.
// Every field is in native byte order except the address, which is in
// network order.
func (op *bcOp) append(b []byte, n, no int) []byte {
	ne := binary.NativeEndian
	b = append(b, op.code, uint8(n))
	b = ne.AppendUint16(b, uint16(no))
	switch op.code {
	case bcJmp:
	case bcCgroupCond:
		b = ne.AppendUint64(b, op.id)
	case bcSCond, bcDCond:
		var family, bits uint8 // AF_UNSPEC, any address
		switch addrLen(op.pfx) {
		case 4:
			family, bits = 2, uint8(op.pfx.Bits()) // AF_INET
		case 16:
			family, bits = 10, uint8(op.pfx.Bits()) // AF_INET6
		}
		b = append(b, family, bits, 0, 0)
		b = ne.AppendUint32(b, uint32(op.port))
		if op.pfx.IsValid() {
			b = append(b, op.pfx.Addr().AsSlice()...)
		}
	default:
		// The port rides in the no field of a second, never executed op.
		b = append(b, 0, 0)
		b = ne.AppendUint16(b, uint16(op.port))
	}
	return b
}
