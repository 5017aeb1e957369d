package testnet

import "net/netip"

// Step is one state change of one TCP socket, with the states named as
// the kernel names them (include/net/tcp_states.h, as inspect.State
// prints them), the addresses the socket has then, and the cause a
// tracer gives a move to CLOSE ("" for other moves).
type Step struct {
	From, To    string
	Local, Peer netip.AddrPort
	Cause       string
}

// Opened returns the state changes that open a connection from c to the
// listener l: the listener's CLOSE -> LISTEN, the client's handshake
// (connect(2) moves it to SYN_SENT before it picks its port, so that step
// has port 0), and the server's end's, a clone of the listener that
// leaves LISTEN. The listener's move back to CLOSE, when it is closed,
// is ListenerClosed.
func Opened(l, c netip.AddrPort) (listener, client, server []Step) {
	listener = []Step{{From: "CLOSE", To: "LISTEN", Local: l, Peer: listenerPeer(l)}}
	client = []Step{
		{From: "CLOSE", To: "SYN_SENT", Local: netip.AddrPortFrom(c.Addr(), 0), Peer: l},
		{From: "SYN_SENT", To: "ESTABLISHED", Local: c, Peer: l},
	}
	server = []Step{
		{From: "LISTEN", To: "SYN_RECV", Local: l, Peer: c},
		{From: "SYN_RECV", To: "ESTABLISHED", Local: l, Peer: c},
	}
	return listener, client, server
}

// ListenerClosed is the listener l's move to CLOSE.
func ListenerClosed(l netip.AddrPort) Step {
	return Step{From: "LISTEN", To: "CLOSE", Local: l, Peer: listenerPeer(l), Cause: "closed"}
}

// ClosedFirst returns the state changes of the end at local that closes
// an established connection first: through FIN_WAIT1 and FIN_WAIT2 to
// CLOSE, then its time-wait socket's CLOSE -> TIME_WAIT.
func ClosedFirst(local, peer netip.AddrPort) []Step {
	return []Step{
		{From: "ESTABLISHED", To: "FIN_WAIT1", Local: local, Peer: peer},
		{From: "FIN_WAIT1", To: "FIN_WAIT2", Local: local, Peer: peer},
		{From: "FIN_WAIT2", To: "CLOSE", Local: local, Peer: peer, Cause: "closed"},
		{From: "CLOSE", To: "TIME_WAIT", Local: local, Peer: peer},
	}
}

// ClosedSecond returns the state changes of the end at local that closes
// after reading its peer's FIN: through CLOSE_WAIT and LAST_ACK to CLOSE.
func ClosedSecond(local, peer netip.AddrPort) []Step {
	return []Step{
		{From: "ESTABLISHED", To: "CLOSE_WAIT", Local: local, Peer: peer},
		{From: "CLOSE_WAIT", To: "LAST_ACK", Local: local, Peer: peer},
		{From: "LAST_ACK", To: "CLOSE", Local: local, Peer: peer, Cause: "closed"},
	}
}

// listenerPeer is the peer a listener on l has: the unspecified address
// of l's family, port 0.
func listenerPeer(l netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(unspecified(l.Addr()), 0)
}
