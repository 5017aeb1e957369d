package inspect

import (
	"errors"
	"net/netip"
	"slices"
	"time"
)

// loss is one loss of destroy reports: when it was noticed, and how many
// the kernel dropped (0: not known).
type loss struct {
	at time.Time
	n  uint64
}

// lossCounter is an error that says how many reports were lost, as the
// kernel counted them (netlinkdiag.LostError is one).
type lossCounter interface {
	LostReports() uint64
}

// lossOf returns the loss err reports, with the kernel's count when err
// carries one.
func lossOf(err error) loss {
	l := loss{at: time.Now()}
	var counted lossCounter
	if errors.As(err, &counted) {
		l.n = counted.LostReports()
	}
	return l
}

// goneSet holds the keys of the sockets a poll reported gone, or moved to
// CLOSE, whose destroy report is still to come: the latter with the
// socket as reported, the former with the zero Socket. Cookies are never
// reused, so a key leaves the set only when its report comes or a poll
// shows it again (a tuple reused, beside a source without cookies, or a
// socket back in the selection): the set holds at most one key per socket
// alive.
type goneSet map[Key]Socket

func (g *goneSet) add(k Key, s Socket) {
	if *g == nil {
		*g = goneSet{}
	}
	(*g)[k] = s
}

func (g goneSet) forget(k Key) { delete(g, k) }

// take reports whether s, reported destroyed, is in the set under its
// cookie or, for a source without cookies, its tuple, removes it, and
// returns its key and what it holds.
func (g goneSet) take(s *Socket) (Key, Socket, bool) {
	for _, k := range []Key{{Cookie: s.Cookie}, {Protocol: s.Protocol, Local: s.Local, Peer: s.Peer}} {
		if k.Cookie == 0 && s.Cookie != 0 {
			continue
		}
		if held, ok := g[k]; ok {
			delete(g, k)
			return k, held, true
		}
	}
	return Key{}, Socket{}, false
}

// awaitsDestroy reports whether the kernel sends a destroy report when s,
// which a poll no longer shows, is freed: full sockets have one (sk_destruct),
// time-wait and request sockets, which are minisockets, do not.
func awaitsDestroy(s *Socket) bool {
	return s.State != TimeWait && s.Timer != TimerTimeWait && !isRequest(s)
}

// isRequest reports whether s is a TCP connection request: in SYN_RECV
// (NEW_SYN_RECV inside the kernel) without a file.
func isRequest(s *Socket) bool {
	return s.Protocol == TCP && (s.State == SynRecv || s.State == NewSynRecv) && s.Inode == 0
}

// ClearedMatcher is a Filter that can judge a socket the kernel reported
// destroyed with a cleared tuple (ssfilter.Filter is one). A Watcher
// counts as unmatched such a socket that no poll showed when its filter
// is not one.
type ClearedMatcher interface {
	// MatchCleared reports whether the filter keeps s whatever its
	// local address (when unspecified) and peer port (when 0) were;
	// decided is false when the answer turns on them.
	MatchCleared(s *Socket) (keep, decided bool)
}

// verdict is what a query makes of a socket with a cleared tuple.
type verdict uint8

const (
	rejected  verdict = iota // not selected, whatever the cleared fields held
	selected                 // selected, whatever they held
	undecided                // the cleared fields decide
)

// keepsCleared tells whether q selects s, a socket freed before any poll
// saw it whose tuple the kernel cleared. As for keepsFreed, the state
// selection does not apply.
func (q *Query) keepsCleared(s *Socket) verdict {
	if s.Local.Port() == 0 || !slices.Contains(q.ProtocolsOrDefault(), s.Protocol) || !slices.Contains(q.FamiliesOrDefault(), s.Family) {
		return rejected
	}
	if q.Filter == nil {
		return selected
	}
	cm, ok := q.Filter.(ClearedMatcher)
	if !ok {
		return undecided
	}
	switch keep, decided := cm.MatchCleared(s); {
	case !decided:
		return undecided
	case keep:
		return selected
	}
	return rejected
}

// tupleOf is a connection's addresses, which its request socket and its
// full socket share while their cookies differ.
type tupleOf struct {
	proto       Protocol
	local, peer netip.AddrPort
}

// joinRequests reports a connection the previous poll showed as its request
// socket and this one as its full socket as one socket: the kernel makes
// the full socket, with a cookie of its own, when the handshake ends. The
// request's gone event is dropped (Kind 0) and the full socket's new event
// becomes a change from the request's state, with the time the request
// was seen in it.
func (t *tracker) joinRequests(events []Event, inState []time.Duration, now time.Time) {
	requests := map[tupleOf]int{}
	for i := range events {
		if e := &events[i]; e.Kind == EventGone && isRequest(&e.Socket) {
			requests[tupleOf{e.Socket.Protocol, e.Socket.Local, e.Socket.Peer}] = i
		}
	}
	if len(requests) == 0 {
		return
	}
	for i := range events {
		e := &events[i]
		if e.Kind != EventNew || isRequest(&e.Socket) {
			continue
		}
		tu := tupleOf{e.Socket.Protocol, e.Socket.Local, e.Socket.Peer}
		r, ok := requests[tu]
		if !ok {
			continue
		}
		delete(requests, tu)
		req := &events[r]
		k := KeyOf(&req.Socket)
		inState[i] = t.observed(k, now)
		delete(t.since, k)
		e.Kind, e.From = EventChange, req.Socket.State
		req.Kind = 0
	}
}

// requestsOf gives each destroy report of a full socket no poll showed the
// poll's gone event of its connection's request socket to replace, so
// that the connection ends once, as a change from SYN_RECV into the state
// it was freed in.
func requestsOf(events []Event, destroyed []destroyedSocket, inNext []bool, gone []*Event) {
	var requests map[tupleOf]*Event
	for i := range events {
		if e := &events[i]; e.Kind == EventGone && isRequest(&e.Socket) {
			if requests == nil {
				requests = map[tupleOf]*Event{}
			}
			requests[tupleOf{e.Socket.Protocol, e.Socket.Local, e.Socket.Peer}] = e
		}
	}
	for j := range destroyed {
		d := &destroyed[j].Socket
		if requests == nil || gone[j] != nil || inNext[j] || clearedTuple(d) {
			continue
		}
		tu := tupleOf{d.Protocol, d.Local, d.Peer}
		if e, ok := requests[tu]; ok {
			gone[j] = e
			delete(requests, tu)
		}
	}
}

// remains is what the kernel leaves of a tuple it clears: the protocol,
// the local port and the peer address.
type remains struct {
	proto Protocol
	port  uint16
	peer  netip.Addr
}

// clearedOf gives each destroy report with a cleared tuple that its cookie
// did not match the poll's gone event of a socket without a cookie (the
// proc source's) that has what is left of the tuple, when exactly one has.
func clearedOf(events []Event, destroyed []destroyedSocket, inNext []bool, gone []*Event) {
	var left map[remains]*Event
	for i := range events {
		e := &events[i]
		if e.Kind != EventGone || e.Socket.Cookie != 0 {
			continue
		}
		if left == nil {
			left = map[remains]*Event{}
		}
		r := remains{e.Socket.Protocol, e.Socket.Local.Port(), e.Socket.Peer.Addr()}
		if _, dup := left[r]; dup {
			left[r] = nil
		} else {
			left[r] = e
		}
	}
	for j := range destroyed {
		d := &destroyed[j].Socket
		if left == nil || gone[j] != nil || inNext[j] || !clearedTuple(d) {
			continue
		}
		r := remains{d.Protocol, d.Local.Port(), d.Peer.Addr()}
		if e := left[r]; e != nil {
			gone[j] = e
			delete(left, r)
		}
	}
}
