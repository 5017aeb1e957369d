package cli

import (
	"slices"
	"strings"

	"github.com/sockstate/sockstate/inspect"
)

// checkWatchKinds refuses the kinds of q that watch's source cannot
// follow: the tracer sees TCP alone (the tracepoint it loads is TCP's),
// and /proc has no MPTCP sockets.
func checkWatchKinds(q *inspect.Query, source string) error {
	switch {
	case source == "trace" && polledOnly(q):
		return usagef("watch: --source trace follows TCP sockets only (the kernel's TCP tracepoint); unix, raw and MPTCP sockets are polled: use --source auto or netlink")
	case source == "proc" && slices.Contains(q.Protocols, inspect.MPTCP):
		return usagef("watch: -M: MPTCP sockets come from sock_diag only; --source proc has none")
	}
	return nil
}

// polledOnly reports whether q names a kind only polls can follow.
func polledOnly(q *inspect.Query) bool {
	return len(q.UnixTypes) > 0 || slices.Contains(q.Protocols, inspect.Raw) || slices.Contains(q.Protocols, inspect.MPTCP)
}

// kindLabels name the IP protocols in watch's lines on stderr, in the
// order they are named.
var kindLabels = []struct {
	p    inspect.Protocol
	name string
}{{inspect.TCP, "TCP"}, {inspect.UDP, "UDP"}, {inspect.MPTCP, "MPTCP"}, {inspect.Raw, "raw"}}

// kindNames names q's kinds as a sentence: TCP, UDP, MPTCP, raw and unix,
// in that order; with undestroyed, only those the kernel sends no destroy
// report of (sock_diag reports freed TCP and UDP sockets only), "" for
// none.
func kindNames(q *inspect.Query, undestroyed bool) string {
	var names []string
	protos := q.ProtocolsOrDefault()
	for _, l := range kindLabels {
		if slices.Contains(protos, l.p) && (!undestroyed || l.p != inspect.TCP && l.p != inspect.UDP) {
			names = append(names, l.name)
		}
	}
	if len(q.UnixTypes) > 0 {
		names = append(names, "unix")
	}
	return joinAnd(names)
}

// joinAnd joins words as a sentence does: "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// eventEndpoints returns the local and peer ends of s as watch's line
// prints them: as ls prints them, a unix socket's name and inode and its
// peer's inode in place of addresses.
func eventEndpoints(s *inspect.Socket) (local, peer string) {
	if s.Unix != nil {
		return string(appendUnixLocal(nil, s)), string(appendUnixPeer(nil, s))
	}
	return endpoint(s.Local), endpoint(s.Peer)
}

// jsonUnixEnd is a unix socket's end in watch's JSON, as ls -j writes
// it: the name ("path", or "abstract" without its leading NUL, neither
// when unbound) and the inode; a peer has its inode alone.
type jsonUnixEnd struct {
	Path     string  `json:"path,omitempty"`
	Abstract *string `json:"abstract,omitempty"`
	Inode    uint64  `json:"inode"`
}

func newJSONUnixEnd(u *inspect.UnixEnd, inode uint64) *jsonUnixEnd {
	e := &jsonUnixEnd{Inode: inode}
	switch {
	case u.Abstract:
		name := u.Name
		e.Abstract = &name
	case u.Name != "":
		e.Path = u.Name
	}
	return e
}
