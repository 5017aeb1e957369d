package ssfilter

import (
	"fmt"
	"net/netip"

	"github.com/sockstate/sockstate/inspect"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// Match reports whether f keeps s. It gives the answer the kernel gives when
// it runs the filter's bytecode (inet_diag_bc_run), so that the proc source,
// which filters here, and the netlink source, which filters in the kernel,
// keep the same sockets.
func (f *Filter) Match(s *inspect.Socket) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(s)
}

func (e *expr) match(s *inspect.Socket) bool {
	switch e.kind {
	case exprAnd:
		return e.x.match(s) && e.y.match(s)
	case exprOr:
		return e.x.match(s) || e.y.match(s)
	case exprNot:
		return !e.x.match(s)
	case exprUnix:
		return matchUnix(e, s)
	case exprCgroup:
		return s.CgroupID == e.cgroupID
	case exprPort:
		if e.port == anyPort {
			return e.op == opEq
		}
		p, q := int32(endOf(s, e.side).Port()), e.port
		switch e.op {
		case opEq:
			return p == q
		case opNe:
			return p != q
		case opLt:
			return p < q
		case opGt:
			return p > q
		case opLe:
			return p <= q
		}
		return p >= q
	}
	ap := endOf(s, e.side)
	if e.port != anyPort && int32(ap.Port()) != e.port {
		return false
	}
	return !e.pfx.IsValid() || prefixHolds(e.pfx, familyOf(s), ap.Addr())
}

func endOf(s *inspect.Socket, sd side) netip.AddrPort {
	if sd == peer {
		return s.Peer
	}
	return s.Local
}

// familyOf returns the socket's family, which the kernel compares with a
// condition's; from the local address when Family is unset.
func familyOf(s *inspect.Socket) inspect.Family {
	if s.Family == inspect.INet || s.Family == inspect.INet6 {
		return s.Family
	}
	if s.Local.Addr().Is4() {
		return inspect.INet
	}
	return inspect.INet6
}

// prefixHolds reports whether addr, of a socket of family fam, is in pfx, as
// the kernel's hostcond check decides: an IPv6 prefix holds only for IPv6
// sockets; an IPv4 prefix holds for IPv4 sockets and for IPv4-mapped
// addresses (::ffff:a.b.c.d) of IPv6 sockets.
func prefixHolds(pfx netip.Prefix, fam inspect.Family, addr netip.Addr) bool {
	// As16 maps an IPv4 address into IPv6, so a source may store an IPv6
	// socket's mapped address either way.
	a16 := addr.As16()
	if !pfx.Addr().Is4() {
		return fam == inspect.INet6 && pfx.Contains(netip.AddrFrom16(a16))
	}
	v4 := netip.AddrFrom4([4]byte(a16[12:]))
	if fam == inspect.INet6 && !netip.AddrFrom16(a16).Is4In6() {
		return false
	}
	return pfx.Contains(v4)
}

// truth is what folding knows of an expression's value for one family.
type truth uint8

const (
	varies truth = iota
	always
	never
)

// fold simplifies e for a dump of family fam: conditions whose value the
// family decides (an IPv6 address in an IPv4 dump, "sport = *", "sport >= :0")
// become constants, which and, or and not propagate.
func (e *expr) fold(fam inspect.Family) (*expr, truth) {
	switch e.kind {
	case exprAnd, exprOr:
		x, tx := e.x.fold(fam)
		y, ty := e.y.fold(fam)
		// For or, the absorbing value is always; for and, never.
		absorb, neutral := never, always
		if e.kind == exprOr {
			absorb, neutral = always, never
		}
		switch {
		case tx == absorb || ty == absorb:
			return nil, absorb
		case tx == neutral:
			return y, ty
		case ty == neutral:
			return x, tx
		case x == e.x && y == e.y:
			return e, varies
		}
		return &expr{kind: e.kind, x: x, y: y}, varies
	case exprNot:
		x, t := e.x.fold(fam)
		switch t {
		case always:
			return nil, never
		case never:
			return nil, always
		case varies:
			if x != e.x {
				return &expr{kind: exprNot, x: x}, varies
			}
		}
		return e, varies
	case exprPort:
		switch {
		case e.port == anyPort && e.op == opEq,
			e.port == 0 && e.op == opGe,
			e.port == 0xffff && e.op == opLe:
			return nil, always
		case e.port == anyPort && e.op == opNe,
			e.port == 0 && e.op == opLt,
			e.port == 0xffff && e.op == opGt:
			return nil, never
		}
		return e, varies
	case exprUnix:
		return nil, never
	case exprCgroup:
		return e, varies
	}
	switch {
	case !e.pfx.IsValid() && e.port == anyPort:
		return nil, always
	case fam == inspect.INet && e.pfx.IsValid() && !e.pfx.Addr().Is4():
		return nil, never
	}
	return e, varies
}

// Bytecode compiles f into sock_diag bytecode (the INET_DIAG_REQ_BYTECODE
// attribute) for a dump of family, which must be INet or INet6. It returns
// nil when f keeps every socket of the family, so no filter need be sent.
//
// ss sends one program for both families, which is correct because the
// kernel compares the socket's family with each address condition's; the
// family lets Bytecode drop conditions it decides, such as an IPv6 address in
// an IPv4 dump, and send a shorter program.
func (f *Filter) Bytecode(family inspect.Family) ([]byte, error) {
	if family != inspect.INet && family != inspect.INet6 {
		return nil, fmt.Errorf("ssfilter: filter bytecode for %v: only inet and inet6 have it", family)
	}
	if f == nil || f.root == nil {
		return nil, nil
	}
	e, t := f.root.fold(family)
	var p netlinkdiag.Program
	switch t {
	case always:
		return nil, nil
	case never:
		p.Jump(netlinkdiag.Reject)
	default:
		e.compile(&p, netlinkdiag.Reject)
	}
	b, err := p.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ssfilter: filter bytecode for %v: %w", family, err)
	}
	return b, nil
}

// compile emits code that goes on past its end when e holds and jumps to no
// when it does not. e is folded: it holds no constants.
func (e *expr) compile(p *netlinkdiag.Program, no netlinkdiag.Label) {
	switch e.kind {
	case exprAnd:
		e.x.compile(p, no)
		e.y.compile(p, no)
	case exprOr:
		tryY, done := p.NewLabel(), p.NewLabel()
		e.x.compile(p, tryY)
		p.Jump(done)
		p.Bind(tryY)
		e.y.compile(p, no)
		p.Bind(done)
	case exprNot:
		holds := p.NewLabel()
		e.x.compile(p, holds)
		p.Jump(no)
		p.Bind(holds)
	case exprPort:
		sd, port := diagSide(e.side), uint16(e.port)
		switch e.op {
		case opEq:
			p.HostCond(sd, netip.Prefix{}, e.port, no)
		case opNe:
			holds := p.NewLabel()
			p.HostCond(sd, netip.Prefix{}, e.port, holds)
			p.Jump(no)
			p.Bind(holds)
		case opLt: // folding removed port 0
			p.PortAtMost(sd, port-1, no)
		case opGt: // folding removed port 65535
			p.PortAtLeast(sd, port+1, no)
		case opLe:
			p.PortAtMost(sd, port, no)
		case opGe:
			p.PortAtLeast(sd, port, no)
		}
	case exprHost:
		p.HostCond(diagSide(e.side), e.pfx, e.port, no)
	case exprCgroup:
		p.CgroupCond(e.cgroupID, no)
	}
}

func diagSide(sd side) netlinkdiag.Side {
	if sd == peer {
		return netlinkdiag.Dest
	}
	return netlinkdiag.Source
}
