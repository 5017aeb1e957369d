package inspect

import "context"

// Query says which sockets a Source returns. The zero Query returns nothing;
// use AllQuery or set each field.
type Query struct {
	// Protocols to list; nil or empty means TCP and UDP.
	Protocols []Protocol
	// Families to list; nil or empty means INet and INet6.
	Families []Family
	// States to return; sent to the kernel as idiag_states.
	States StateSet
	Filter *Filter // nil keeps every socket; the netlink source sends it as INET_DIAG_REQ_BYTECODE, the proc source applies Match
}

// Source lists sockets. Implementations: the netlink source (sock_diag), the
// proc source (/proc/net) and the automatic source that tries both.
type Source interface {
	Sockets(ctx context.Context, q Query) ([]Socket, error)
}
