package cli

// layout sizes watch's lines: to the terminal, to the addresses seen, and
// without what the flags already say.
//
// A line at its widest is the time to the microsecond, the netid, two
// 22-character addresses, the states padded to ESTABLISHED and "after
// 301ms": about 105 characters. On a terminal narrower than that it is
// narrow: the time to the millisecond and the time in the state without
// "after", so that most loopback IPv4 lines fit in 80 columns whole.
// Address columns grow to the widest address seen, so that a full IPv6
// address moves the columns once rather than breaking every line after it.
// On a terminal, what follows a line's second state (the cause, the time
// in state, the reset mark, -p's users) goes on lines of its own, indented,
// when the line would be wider than the terminal: a loopback IPv4 line's
// first part is at most 75 columns, so at 80 the terminal wraps nothing.
type layout struct {
	width       int // the terminal's; 0 when not a terminal
	narrow      bool
	oneProtocol bool // -t or -u: the netid column would say it on every line
	ssNames     bool // ss's spellings of the states
	// localW, peerW and fromW are the widths of the local and peer
	// address columns and of the from state.
	localW, peerW, fromW int
}

// wideLine is the width of watch's widest line of IPv4 addresses.
const wideLine = 105

// newLayout returns the layout for a terminal width columns wide (0: not
// a terminal, no limit).
func newLayout(width int, oneProtocol, ssNames bool) layout {
	l := layout{width: width, narrow: width > 0 && width < wideLine, oneProtocol: oneProtocol, ssNames: ssNames}
	if !l.narrow {
		// The columns the wide line always had: 22 characters fit an
		// IPv4 address and port, 11 the longest state, ESTABLISHED.
		l.localW, l.peerW, l.fromW = 22, 22, 11
	}
	return l
}

// timeFormat is the layout of an event's time of day, in local time.
func (l *layout) timeFormat() string {
	if l.narrow {
		return "15:04:05.000"
	}
	return "15:04:05.000000"
}

// see widens the columns to fit a line's local and peer addresses and its
// from state.
func (l *layout) see(local, peer, from string) {
	l.localW = max(l.localW, len(local))
	l.peerW = max(l.peerW, len(peer))
	l.fromW = max(l.fromW, len(from))
}
