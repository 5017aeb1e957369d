package cli

import (
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

// isTerminal reports whether w is a terminal, the only place colours go.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// eventState names state st of a socket of protocol p as sockstate prints
// states: the kernel's name, UNCONN for a UDP socket in CLOSE; with ss,
// ss's spelling.
func eventState(p inspect.Protocol, st inspect.State, ss bool) string {
	s := inspect.Socket{Protocol: p, State: st}
	return stateName(&s, ss)
}

// stateColors are the ANSI colours of states on a terminal: green while
// data flows, yellow for the handshake and the closing states, cyan for
// listeners, blue for TIME_WAIT, red for the end.
var stateColors = map[inspect.State]string{
	inspect.Established: "32",
	inspect.SynSent:     "33", inspect.SynRecv: "33", inspect.NewSynRecv: "33",
	inspect.FinWait1: "33", inspect.FinWait2: "33", inspect.CloseWait: "33",
	inspect.LastAck: "33", inspect.Closing: "33",
	inspect.TimeWait: "34",
	inspect.Listen:   "36",
	inspect.Close:    "31",
}

// eventPrinter writes watch events as text lines.
type eventPrinter struct {
	w     io.Writer
	color bool
	// label, when not nil, names a socket's namespace at the start of
	// its line.
	label func(inode uint64) string
	layout
	buf []byte
}

// print writes e as one line:
//
//	10:00:00.123456 tcp 127.0.0.1:7788  127.0.0.1:51234 ESTABLISHED -> CLOSE_WAIT  after 301ms
//
// or, on a terminal too narrow for that (layout.narrow),
//
//	10:00:00.123 127.0.0.1:7788  127.0.0.1:51234 ESTABLISHED -> CLOSE_WAIT 301ms
//
// On a terminal, what follows the second state goes on lines of its own,
// indented to the addresses, when the line would be wider than the
// terminal and its first part is not (addresses too wide for the terminal
// leave the line to it); a lost or unmatched event's line wraps at its
// words. With a label, a socket's line starts with its namespace, on a
// line of its own on a terminal where the line would not fit with it.
func (p *eventPrinter) print(e *inspect.WatchEvent, procs []owners.Process) error {
	if text := lossText(e); text != "" {
		b := e.Time.AppendFormat(p.buf[:0], p.timeFormat())
		b = append(b, ' ')
		b = append(b[:0], wrap(string(b), text, p.width)...)
		p.buf = b
		_, err := p.w.Write(b)
		return err
	}
	b := p.buf[:0]
	start := 0 // where the line after the label starts
	if p.label != nil {
		b = append(b, p.label(e.Socket.NetNS)...)
		b = append(b, ' ')
		start = len(b)
	}
	b = e.Time.AppendFormat(b, p.timeFormat())
	b = append(b, ' ')
	s := &e.Socket
	if !p.oneProtocol {
		b = append(b, s.Netid()...)
		b = append(b, ' ')
	}
	addrs := len(b) // where the addresses start
	from, to := "new", "gone"
	var fromState, toState inspect.State
	if e.Kind != inspect.EventNew {
		from, fromState = eventState(s.Protocol, e.From, p.ssNames), e.From
	}
	if e.Kind != inspect.EventGone {
		to, toState = eventState(s.Protocol, e.To, p.ssNames), e.To
	}
	local, peer := eventEndpoints(s)
	p.see(local, peer, from)
	b = pad(b, local, p.localW)
	b = append(b, ' ')
	b = pad(b, peer, p.peerW)
	b = append(b, ' ')
	b = p.state(b, from, fromState, p.fromW)
	b = append(b, " -> "...)
	b, end := p.tail(b, e, to, toState, procs)
	if p.width > 0 && start > 0 && columns(string(b[:end])) > p.width && columns(string(b[start:end])) <= p.width {
		b[start-1] = '\n' // the label on a line of its own
	} else {
		start = 0
	}
	if p.width > 0 && end < len(b) && columns(string(b[start:])) > p.width && columns(string(b[start:end])) <= p.width {
		rest := string(b[end:])
		b = append(b[:end], '\n')
		b = append(b, wrap(strings.Repeat(" ", columns(string(b[start:addrs]))), rest, p.width)...)
	} else {
		b = append(b, '\n')
	}
	p.buf = b
	_, err := p.w.Write(b)
	return err
}

// lossText is the text of a lost or unmatched event's line, and "" for
// every other kind.
func lossText(e *inspect.WatchEvent) string {
	switch e.Kind {
	case inspect.EventLost:
		n := ""
		if e.Lost > 0 {
			n = strconv.FormatUint(e.Lost, 10) + " reports, "
		}
		return "lost: " + n + "the kernel dropped reports (of destroyed sockets or state changes: its buffer was full, or the tracer found a state change it was not given); resynchronised from a fresh dump"
	case inspect.EventUnmatched:
		return "unmatched: " + strconv.FormatUint(e.Unmatched, 10) + " destroyed sockets that no poll showed could not be matched to the filter: the kernel cleared the addresses it reads"
	}
	return ""
}

// tail appends the end of e's line from its second state, to: the cause,
// the time in the first state, the reset mark and ss's users:(...), each
// where known, with the columns padded when more follows. It returns the
// line and where the second state ends in it.
func (p *eventPrinter) tail(b []byte, e *inspect.WatchEvent, to string, toState inspect.State, procs []owners.Process) ([]byte, int) {
	b = p.state(b, to, toState, 0)
	end := len(b)
	if p.narrow {
		// Under 105 columns: no padding and no "after"; the JSON keeps
		// the lifetime and bytes, for which a narrow line has no room.
		if e.Cause != inspect.CauseUnknown {
			b = append(b, ' ')
			b = append(b, e.Cause.String()...)
		}
		if e.InState > 0 {
			b = append(b, ' ')
			b = append(b, roundDuration(e.InState).String()...)
		}
		if e.Reset {
			b = append(b, " reset"...)
		}
	} else {
		width := func(more bool, w int) int {
			if more {
				return w
			}
			return 0
		}
		more := e.InState > 0 || e.Reset || e.Lifetime > 0 || e.Seen > 0 || e.Bytes != nil || procs != nil
		for n := len(to); n < width(e.Cause != inspect.CauseUnknown || more, 11); n++ {
			b = append(b, ' ')
		}
		if e.Cause != inspect.CauseUnknown {
			b = append(b, ' ')
			b = pad(b, e.Cause.String(), width(more, 14))
		}
		if e.InState > 0 {
			b = append(b, " after "...)
			b = append(b, roundDuration(e.InState).String()...)
		}
		if e.Lifetime > 0 {
			b = append(b, " lived "...)
			b = append(b, roundDuration(e.Lifetime).String()...)
		}
		if e.Seen > 0 {
			b = append(b, " seen "...)
			b = append(b, roundDuration(e.Seen).String()...)
		}
		if e.Bytes != nil {
			b = append(b, " acked "...)
			b = strconv.AppendUint(b, e.Bytes.Acked, 10)
			b = append(b, " B received "...)
			b = strconv.AppendUint(b, e.Bytes.Received, 10)
			b = append(b, " B"...)
		}
		if e.Reset {
			b = append(b, " reset, addresses cleared by the kernel"...)
		}
	}
	if procs != nil {
		b = append(b, ' ')
		b = appendUsers(b, procs)
	}
	return b, end
}

// state appends name, coloured for st on a terminal (not for the words
// new and gone, st 0), padded to width.
func (p *eventPrinter) state(b []byte, name string, st inspect.State, width int) []byte {
	code, ok := stateColors[st]
	if !p.color || !ok {
		return pad(b, name, width)
	}
	b = append(b, "\x1b["+code+"m"...)
	b = append(b, name...)
	b = append(b, "\x1b[0m"...)
	for n := len(name); n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

func pad(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for n := len(s); n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

// roundDuration keeps three significant digits: 301ms, 1.23s, 450µs.
func roundDuration(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}

// jsonEvent is a watch event as -j prints it; from is absent on new, to
// on gone, in_state_ms and in_state_us (the same time, in microseconds,
// as the tracer measures it) when the time in from is not known; lost, on
// a lost event, counts the reports lost when the source knows; unmatched,
// on an unmatched event, the destroyed sockets not matched to the filter;
// cause is why a socket ended, where known; reset marks a gone socket
// reported with the tuple the kernel cleared; lifetime_ms, bytes_acked
// and bytes_received, on gone, the socket's life and what it carried,
// where known; seen_ms, on gone from polling, how long the watch saw the
// socket, from the first poll that showed it (not its lifetime); process, with -p, the processes holding the socket, where
// known. The time is in UTC; the text's is local.
type jsonEvent struct {
	Time      string        `json:"time"`
	Event     string        `json:"event"`
	Netid     string        `json:"netid,omitempty"`
	Family    string        `json:"family,omitempty"`
	Local     any           `json:"local,omitempty"` // *jsonEndpoint, or *jsonUnixEnd
	Peer      any           `json:"peer,omitempty"`
	From      string        `json:"from,omitempty"`
	To        string        `json:"to,omitempty"`
	Cookie    string        `json:"cookie,omitempty"`
	InStateMS *int64        `json:"in_state_ms,omitempty"`
	InStateUS *int64        `json:"in_state_us,omitempty"`
	Cause     string        `json:"cause,omitempty"`
	Reset     bool          `json:"reset,omitempty"`
	LifeMS    *int64        `json:"lifetime_ms,omitempty"`
	SeenMS    *int64        `json:"seen_ms,omitempty"`
	Acked     *uint64       `json:"bytes_acked,omitempty"`
	Received  *uint64       `json:"bytes_received,omitempty"`
	Process   []jsonProcess `json:"process,omitempty"`
	Lost      uint64        `json:"lost,omitempty"`
	Unmatched uint64        `json:"unmatched,omitempty"`
}

func newJSONEvent(e *inspect.WatchEvent, ssNames bool, procs []owners.Process) jsonEvent {
	j := jsonEvent{Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), Event: e.Kind.String()}
	if e.Kind == inspect.EventLost || e.Kind == inspect.EventUnmatched {
		j.Lost, j.Unmatched = e.Lost, e.Unmatched
		return j
	}
	s := &e.Socket
	j.Netid, j.Family = s.Netid(), s.Family.String()
	if u := s.Unix; u != nil {
		j.Local, j.Peer = newJSONUnixEnd(u, s.Inode), &jsonUnixEnd{Inode: u.PeerInode}
	} else {
		j.Local = &jsonEndpoint{Addr: s.Local.Addr().String(), Port: s.Local.Port()}
		j.Peer = &jsonEndpoint{Addr: s.Peer.Addr().String(), Port: s.Peer.Port()}
	}
	if e.Kind != inspect.EventNew {
		j.From = eventState(s.Protocol, e.From, ssNames)
	}
	if e.Kind != inspect.EventGone {
		j.To = eventState(s.Protocol, e.To, ssNames)
	}
	if s.Cookie != 0 {
		j.Cookie = cookieText(s.Cookie)
	}
	if e.InState > 0 {
		ms, us := e.InState.Milliseconds(), e.InState.Microseconds()
		j.InStateMS, j.InStateUS = &ms, &us
	}
	if e.Cause != inspect.CauseUnknown {
		j.Cause = e.Cause.String()
	}
	j.Reset = e.Reset
	if e.Lifetime > 0 {
		ms := e.Lifetime.Milliseconds()
		j.LifeMS = &ms
	}
	if e.Seen > 0 {
		ms := e.Seen.Milliseconds()
		j.SeenMS = &ms
	}
	if e.Bytes != nil {
		j.Acked, j.Received = &e.Bytes.Acked, &e.Bytes.Received
	}
	for _, p := range procs {
		j.Process = append(j.Process, jsonProcess(p))
	}
	return j
}
