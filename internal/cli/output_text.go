package cli

import (
	"io"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
	"github.com/sockstate/sockstate/internal/demo"
)

// textOutput writes as ss does: a listing as a table whose columns are
// aligned within each batch, as ss aligns each part of its output it
// buffers; an event or a timeline entry as a line.
type textOutput struct {
	w      io.Writer
	view   view
	listed bool // a batch of a listing was written
	table  table
	events *eventPrinter // keeps the columns' widths from line to line
}

var _ output = (*textOutput)(nil)

func (t *textOutput) sockets(socks []inspect.Socket, o tableOptions) error {
	if len(socks) == 0 {
		return nil
	}
	o.header = o.header && !t.listed
	t.listed = true
	// The batches come on a goroutine that overlaps the kernel's work
	// already: each is formatted serially, in one reused table.
	t.table.serial = true
	return t.table.writeSockets(t.w, socks, o)
}

func (t *textOutput) endList(o tableOptions) error {
	if t.listed {
		return nil
	}
	return writeTable(t.w, nil, o)
}

func (t *textOutput) event(e *inspect.WatchEvent, procs []owners.Process) error {
	if t.events == nil {
		t.events = &eventPrinter{w: t.w, color: t.view.color, label: t.view.netns, layout: newLayout(t.view.width, t.view.oneProtocol, t.view.ssNames)}
	}
	return t.events.print(e, procs)
}

func (t *textOutput) entry(e *demo.Entry) error {
	p := timelinePrinter{w: t.w, color: t.view.color, micro: t.view.micro, width: t.view.width, names: demoNames(t.view.ssNames)}
	return p.print(e)
}

func (t *textOutput) result(missed []string) error {
	if len(missed) > 0 {
		return nil
	}
	_, err := io.WriteString(t.w, "ok: every state the textbook requires was observed\n")
	return err
}
