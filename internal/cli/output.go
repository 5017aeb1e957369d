package cli

import (
	"io"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
	"github.com/sockstate/sockstate/internal/demo"
)

// output writes what a command reports, in one format: ls's listing,
// watch's events, demo's timeline and result. Each format is a file:
// output_text.go (ss's table and timeline lines), output_json.go (one
// JSON array) and output_jsonl.go (JSON Lines).
type output interface {
	// sockets writes a batch of a listing; o.processes, if set, holds
	// their processes.
	sockets(socks []inspect.Socket, o tableOptions) error
	// endList ends a listing: the header of an empty table, the end of a
	// JSON array.
	endList(o tableOptions) error
	// event writes a watch event; procs, if not nil, holds the
	// processes that hold its socket (watch -p).
	event(e *inspect.WatchEvent, procs []owners.Process) error
	entry(e *demo.Entry) error
	// result writes the demo's outcome: the states it missed, if any.
	result(missed []string) error
}

// view is how an output looks rather than what it says.
type view struct {
	color   bool // ANSI colours (--color)
	micro   bool // the demo's times in microseconds
	ssNames bool // ss's spellings of the states (--ss-names)
	// width is the terminal's, to fit the text to; 0 for no limit.
	width int
	// oneProtocol says -t or -u selected one protocol, which the text of
	// watch's events then leaves out.
	oneProtocol bool
	// netns, when not nil, labels each of watch's event lines with the
	// socket's namespace (--all-netns).
	netns func(inode uint64) string
}

// newOutput returns the output of format, "text", "json" or "jsonl", to
// w, looking as v says.
func newOutput(format string, w io.Writer, v view) output {
	switch format {
	case "json":
		return &jsonOutput{w: w, ssNames: v.ssNames}
	case "jsonl":
		return &jsonlOutput{w: w, ssNames: v.ssNames}
	}
	return &textOutput{w: w, view: v}
}
