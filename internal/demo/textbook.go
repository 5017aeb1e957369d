package demo

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sockstate/sockstate/inspect"
)

// Role is one of the demo's three sockets.
type Role uint8

// The demo's sockets.
const (
	Listener   Role = iota + 1 // the server's listening socket
	ServerConn                 // the server's end of the connection, from accept()
	Client                     // the client's socket
)

// String names r as the timeline does.
func (r Role) String() string {
	switch r {
	case Listener:
		return "listener"
	case ServerConn:
		return "server conn"
	case Client:
		return "client"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Closer says which side closes the connection first.
type Closer uint8

// The sides that may close first.
const (
	ServerCloses Closer = iota // the textbook's order: the server closes after replying
	ClientCloses
)

// String returns the side's name: server or client.
func (c Closer) String() string {
	if c == ClientCloses {
		return "client"
	}
	return "server"
}

// ParseCloser accepts "server" and "client".
func ParseCloser(s string) (Closer, error) {
	switch s {
	case "server":
		return ServerCloses, nil
	case "client":
		return ClientCloses, nil
	}
	return 0, fmt.Errorf("demo: closer %q: use server or client", s)
}

// Gone stands for a socket the kernel has freed: the textbook's CLOSED at
// the end of a connection. It is no state the kernel reports.
const Gone inspect.State = 0

// Names spells the states in the demo's text: nil is the kernel's names,
// as the textbook's; another spelling (ss's, for --ss-names) is a function
// from the state to its name. Gone is "gone" in every spelling.
type Names func(inspect.State) string

// State is the timeline's name of st.
func (n Names) State(st inspect.State) string {
	switch {
	case st == Gone:
		return "gone"
	case n == nil:
		return st.String()
	}
	return n(st)
}

// finWait names FIN_WAIT1 and FIN_WAIT2 together: FIN_WAIT (ss: FIN-WAIT).
func (n Names) finWait() string { return strings.TrimRight(n.State(inspect.FinWait1), "1-") }

// States names states in order, " -> " between them.
func (n Names) States(states []inspect.State) string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = n.State(st)
	}
	return strings.Join(out, " -> ")
}

// expected returns the states the TCP state machine takes r through when
// closer closes first (RFC 9293, section 3.3.2): the order in which they
// must be observed, and what "passed through, not observed" is computed
// from. every adds the kernel's CLOSE before the socket is freed, which
// only a source that reports every change sees (polls list no closed
// connection).
func expected(r Role, closer Closer, every bool) []inspect.State {
	end := []inspect.State{Gone}
	if every {
		end = []inspect.State{inspect.Close, Gone}
	}
	activeClose := []inspect.State{inspect.Established, inspect.FinWait1, inspect.FinWait2, inspect.TimeWait}
	passiveClose := append([]inspect.State{inspect.Established, inspect.CloseWait, inspect.LastAck}, end...)
	switch {
	case r == Listener:
		return append([]inspect.State{inspect.Listen}, end...)
	case r == ServerConn && closer == ServerCloses:
		return append([]inspect.State{inspect.SynRecv}, activeClose...)
	case r == ServerConn:
		return append([]inspect.State{inspect.SynRecv}, passiveClose...)
	case closer == ClientCloses:
		return append([]inspect.State{inspect.SynSent}, activeClose...)
	}
	return append([]inspect.State{inspect.SynSent}, passiveClose...)
}

// meanings are the timeline's one-line explanations of the states.
var meanings = map[inspect.State]string{
	inspect.Listen:      "waiting for connections: the kernel completes handshakes and queues them for accept()",
	inspect.SynSent:     "connect() sent a SYN and waits for SYN+ACK",
	inspect.SynRecv:     "a SYN came in; the kernel answered SYN+ACK and waits for the last ACK",
	inspect.Established: "the handshake is done: data flows both ways",
	inspect.FinWait1:    "close() sent a FIN and waits for its ACK",
	inspect.FinWait2:    "our FIN is acknowledged; waiting for the peer's FIN",
	inspect.CloseWait:   "the peer sent its FIN (recv() returns 0); waiting for this side to close()",
	inspect.LastAck:     "close() sent our FIN after the peer's and waits for its ACK",
	inspect.TimeWait:    "both FINs acknowledged; kept for 2 MSL (60 s on Linux) so stray segments die out",
	inspect.Closing:     "both sides sent a FIN at once; waiting for the ACK of ours",
	inspect.Close:       "closed: the kernel's last state change, before it frees the socket",
	Gone:                "closed: the kernel freed the socket",
}

// Meaning is the one-line explanation of st.
func Meaning(st inspect.State) string {
	if m, ok := meanings[st]; ok {
		return m
	}
	return "a state the textbook's exchange does not take"
}

// progress follows one socket along its expected states.
type progress struct {
	expect   []inspect.State
	pos      int             // index in expect of the last state observed, -1 before
	observed []inspect.State // in the order observed
}

func newProgress(r Role, closer Closer, every bool) *progress {
	return &progress{expect: expected(r, closer, every), pos: -1}
}

// enter records that st was observed and returns the expected states the
// socket went through unobserved since the last one. A state out of the
// expected order is recorded and implies nothing.
func (p *progress) enter(st inspect.State) (skipped []inspect.State) {
	if st == inspect.NewSynRecv {
		st = inspect.SynRecv
	}
	p.observed = append(p.observed, st)
	i := slices.Index(p.expect[p.pos+1:], st)
	if i < 0 {
		return nil
	}
	skipped = p.expect[p.pos+1 : p.pos+1+i]
	p.pos += 1 + i
	return skipped
}

// check returns what the textbook requires to see and was not seen: LISTEN
// on the listener, ESTABLISHED on both ends, FIN_WAIT1 or FIN_WAIT2 and
// then TIME_WAIT on the closer, CLOSE_WAIT on the other end.
func check(closer Closer, seen map[Role]*progress, n Names) []string {
	closing, other := ServerConn, Client
	if closer == ClientCloses {
		closing, other = Client, ServerConn
	}
	var missed []string
	has := func(r Role, st inspect.State) bool { return slices.Contains(seen[r].observed, st) }
	if !has(Listener, inspect.Listen) {
		missed = append(missed, n.State(inspect.Listen)+" on the listener")
	}
	for _, r := range []Role{ServerConn, Client} {
		if !has(r, inspect.Established) {
			missed = append(missed, n.State(inspect.Established)+" on the "+r.String())
		}
	}
	obs := seen[closing].observed
	fin := slices.IndexFunc(obs, func(st inspect.State) bool { return st == inspect.FinWait1 || st == inspect.FinWait2 })
	if fin < 0 {
		missed = append(missed, fmt.Sprintf("%s or %s on the %s, which closes first", n.State(inspect.FinWait1), n.State(inspect.FinWait2), closing))
	}
	if !slices.Contains(obs[max(fin, 0):], inspect.TimeWait) {
		missed = append(missed, fmt.Sprintf("%s after %s on the %s, which closes first", n.State(inspect.TimeWait), n.finWait(), closing))
	}
	if !has(other, inspect.CloseWait) {
		missed = append(missed, n.State(inspect.CloseWait)+" on the "+other.String())
	}
	return missed
}

// checkEvery returns, for a source that reports every state change, each
// socket whose observed states are not exactly its expected sequence.
func checkEvery(seen map[Role]*progress, n Names) []string {
	var missed []string
	for _, r := range []Role{Listener, ServerConn, Client} {
		if p := seen[r]; !slices.Equal(p.observed, p.expect) {
			missed = append(missed, fmt.Sprintf("the %s's states %s, want %s", r, n.States(p.observed), n.States(p.expect)))
		}
	}
	return missed
}

// summary lists what was observed of each socket, in order.
func summary(seen map[Role]*progress, n Names) string {
	var parts []string
	for _, r := range []Role{Listener, ServerConn, Client} {
		parts = append(parts, r.String()+" "+n.States(seen[r].observed))
	}
	return "observed: " + strings.Join(parts, "; ")
}
