// Package inspect is sockstate's model of sockets and its contracts.
//
// # The model
//
// A Socket has a State, a Timer and, when asked for, its TCPInfo and
// Memory. A Key (KeyOf) identifies a socket across listings; Diff tells
// what changed between two, and a Watcher polls a Source and reports
// WatchEvents.
//
// # The contracts
//
// A Source answers a Query (protocols, families, states, a Filter). A
// Source may also be a Streamer, which hands a listing over batch by
// batch (Each), or a Poller, which keeps its connection from one poll to
// the next (NewPoll); both are found through wrappers (Find). A listing
// the kernel kept interrupting is ErrIncomplete.
//
// The sources are packages of their own: inspect/sockdiag (sock_diag(7)),
// inspect/procsrc (proc(5)), inspect/trace (the sock:inet_sock_set_state
// tracepoint); the filter language is inspect/ssfilter and the process
// table inspect/owners. The states and their numbers are those of
// include/net/tcp_states.h, the state groups those of ss(8).
package inspect
