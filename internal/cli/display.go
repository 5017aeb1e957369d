package cli

import (
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
)

// display holds the flags every command takes that change how its text
// looks, not what it reports: --color, and for the commands that name
// sockets' states, --ss-names.
type display struct {
	color   string // auto, always or never
	ssNames bool
}

// newDisplay returns the defaults, which the environment sets:
// SOCKSTATE_SS_NAMES=1 is --ss-names, for scripts written against ss.
func newDisplay() display {
	v := os.Getenv("SOCKSTATE_SS_NAMES")
	return display{color: "auto", ssNames: v != "" && v != "0"}
}

// colorSpec is --color=auto|always|never, which every command takes.
func (d *display) colorSpec(cmd string) flagSpec {
	return flagSpec{long: "color", hasValue: true, set: func(v string) error {
		switch v {
		case "auto", "always", "never":
			d.color = v
			return nil
		}
		return usagef("%s: --color %q: use auto, always or never", cmd, v)
	}}
}

// ssNamesSpec is --ss-names.
func (d *display) ssNamesSpec() flagSpec {
	return flagSpec{long: "ss-names", set: boolFlag(&d.ssNames)}
}

// colored reports whether text written to w gets ANSI colours: always,
// never, or with auto on a terminal unless NO_COLOR is set to anything
// (no-color.org) or TERM is dumb.
func (d *display) colored(w io.Writer) bool {
	switch d.color {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w)
}

// terminalWidth returns the width of the terminal w is, else COLUMNS if
// it holds a width, else 0: no limit, for a pipe or a file.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
		if err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}

// ssStateNames are ss's spellings of the states in its State column
// (iproute2's sstate_name): --ss-names prints them. The kernel reports a
// request socket (NEW_SYN_RECV) to sock_diag as SYN_RECV.
var ssStateNames = [...]string{
	inspect.Established: "ESTAB",
	inspect.SynSent:     "SYN-SENT",
	inspect.SynRecv:     "SYN-RECV",
	inspect.FinWait1:    "FIN-WAIT-1",
	inspect.FinWait2:    "FIN-WAIT-2",
	inspect.TimeWait:    "TIME-WAIT",
	inspect.Close:       "UNCONN",
	inspect.CloseWait:   "CLOSE-WAIT",
	inspect.LastAck:     "LAST-ACK",
	inspect.Listen:      "LISTEN",
	inspect.Closing:     "CLOSING",
	inspect.NewSynRecv:  "SYN-RECV",
}

// stateName is the state as sockstate prints it: the kernel's name, except
// that a UDP socket in CLOSE is UNCONN, as ss says; with ss, ss's
// spelling of every state.
func stateName(s *inspect.Socket, ss bool) string {
	if ss && int(s.State) < len(ssStateNames) && ssStateNames[s.State] != "" {
		return ssStateNames[s.State]
	}
	if (s.Protocol == inspect.UDP || s.Protocol == inspect.Raw || s.Unix != nil) && s.State == inspect.Close {
		return "UNCONN"
	}
	return s.State.String()
}
