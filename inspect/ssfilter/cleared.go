package ssfilter

import "github.com/sockstate/sockstate/inspect"

var _ inspect.ClearedMatcher = (*Filter)(nil)

// MatchCleared tells what f makes of s, a socket the kernel reported
// destroyed with a cleared tuple: its local address, when unspecified,
// and its peer port, when 0, are unknown (tcp_disconnect clears them).
// decided is false when the answer turns on them; otherwise keep is the
// answer whatever they were.
func (f *Filter) MatchCleared(s *inspect.Socket) (keep, decided bool) {
	if f == nil || f.root == nil {
		return true, true
	}
	switch f.root.cleared(s, s.Local.Addr().IsUnspecified(), s.Peer.Port() == 0) {
	case always:
		return true, true
	case never:
		return false, true
	}
	return false, false
}

// cleared is match in three values, with the local address and the peer
// port unknown as noAddr and noPort say.
func (e *expr) cleared(s *inspect.Socket, noAddr, noPort bool) truth {
	switch e.kind {
	case exprAnd, exprOr:
		x, y := e.x.cleared(s, noAddr, noPort), e.y.cleared(s, noAddr, noPort)
		if e.kind == exprAnd {
			return and3(x, y)
		}
		return not3(and3(not3(x), not3(y)))
	case exprNot:
		return not3(e.x.cleared(s, noAddr, noPort))
	case exprPort:
		if e.port != anyPort && e.side == peer && noPort {
			return varies
		}
		return truthOf(e.match(s))
	}
	ap := endOf(s, e.side)
	port := always
	switch {
	case e.port == anyPort:
	case e.side == peer && noPort:
		port = varies
	default:
		port = truthOf(int32(ap.Port()) == e.port)
	}
	addr := always
	switch {
	case !e.pfx.IsValid():
	case e.side == local && noAddr:
		addr = varies
	default:
		addr = truthOf(prefixHolds(e.pfx, familyOf(s), ap.Addr()))
	}
	return and3(port, addr)
}

func truthOf(b bool) truth {
	if b {
		return always
	}
	return never
}

func and3(x, y truth) truth {
	switch {
	case x == never || y == never:
		return never
	case x == always && y == always:
		return always
	}
	return varies
}

func not3(x truth) truth {
	switch x {
	case always:
		return never
	case never:
		return always
	}
	return varies
}
