package inspect

import "context"

// Query says which sockets a Source returns.
type Query struct {
	// Protocols to list; empty means UDP and TCP.
	Protocols []Protocol
	// Families to list; empty means INet and INet6.
	Families []Family
	// States to return; sent to the kernel as idiag_states. The empty set
	// returns nothing.
	States StateSet
	// Filter, an ss expression, keeps the sockets it matches; nil keeps
	// every socket. The netlink source sends it to the kernel as
	// INET_DIAG_REQ_BYTECODE, the proc source applies Match.
	Filter *Filter
	// Info asks for Socket.Info and Memory for Socket.Memory. Only the
	// netlink source has them: it asks the kernel for the extensions
	// (idiag_ext) only when they are wanted, as they cost time per
	// socket. The proc source ignores both.
	Info, Memory bool
}

func (q *Query) protocols() []Protocol {
	if len(q.Protocols) == 0 {
		return []Protocol{UDP, TCP}
	}
	return q.Protocols
}

func (q *Query) families() []Family {
	if len(q.Families) == 0 {
		return []Family{INet, INet6}
	}
	return q.Families
}

// Source lists sockets. Implementations: the netlink source (sock_diag), the
// proc source (/proc/net) and the automatic source that tries both.
type Source interface {
	Sockets(ctx context.Context, q Query) ([]Socket, error)
}
