package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/capture"
	"github.com/sockstate/sockstate/internal/demo"
)

// ladderPrinter writes a demo.Ladder as a sequence diagram, rows as they
// come: the time, the client's states, the client's lifeline, the
// packets as arrows and the calls between the lifelines, the server's
// lifeline and the server's states.
type ladderPrinter struct {
	w     io.Writer
	color bool
	micro bool
	// absolute prints the sequence numbers as sent, not relative.
	absolute bool
	// width is the whole line's: 100, or 80 with --narrow.
	width int
	// caused says the states are tied to their packets (the tracer);
	// otherwise a poll placed them.
	caused bool
	// header says the columns' heading is out; polled that a state a
	// poll placed was drawn.
	header, polled bool
	// names spells the states.
	names demo.Names
}

// The ladder's columns, but for the arrows' lane, which takes the rest of
// the width.
const (
	timeWidth   = 10
	clientWidth = 14
	serverWidth = 16
)

func (p *ladderPrinter) lane() int { return p.width - timeWidth - 2 - clientWidth - 2 - serverWidth }

// rows writes rows of the ladder, the columns' heading before the first
// that is not a note.
func (p *ladderPrinter) rows(rows []demo.Row) error {
	var b strings.Builder
	for _, r := range rows {
		if !p.header && (r.Entry == nil || r.Entry.Kind != demo.EntryNote) {
			b.WriteString(fmt.Sprintf("%*s  %*s│%s│ %s\n", timeWidth, "ms", clientWidth, "client", strings.Repeat(" ", p.lane()), "server"))
			p.header = true
		}
		switch {
		case r.Entry == nil:
			p.packet(&b, r.Packet)
		case r.Entry.Kind == demo.EntryState:
			p.polled = p.polled || !p.caused && r.Entry.Observed && r.Entry.Socket != demo.Listener
			p.state(&b, r.Entry)
		case r.Entry.Kind == demo.EntryStep:
			p.step(&b, r.Entry)
		default:
			p.note(&b, p.time(r.Entry.Elapsed), r.Entry.Text)
		}
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

// finish writes what the capture lost and the legend.
func (p *ladderPrinter) finish(l *demo.Ladder) error {
	var b strings.Builder
	for _, n := range lostNotes(l) {
		p.note(&b, "", n)
	}
	if p.caused {
		p.note(&b, "", fmt.Sprintf("each state is drawn after the packet that caused it, at its own time: %s, %s and %s begin as their packet is sent, just before it",
			p.names.State(inspect.SynSent), p.names.State(inspect.FinWait1), p.names.State(inspect.LastAck)))
	}
	if p.polled {
		p.note(&b, "", "STATE* was seen by a poll of the sockets, placed where it was seen, not at its cause; (STATE) was passed through, not observed")
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

// print writes the whole of l.
func (p *ladderPrinter) print(l *demo.Ladder) error {
	p.caused = l.Caused
	if err := p.rows(l.Rows); err != nil {
		return err
	}
	return p.finish(l)
}

// lostNotes says what the capture lost and what it left out, if
// anything: nothing is lost silently.
func lostNotes(l *demo.Ladder) []string {
	var notes []string
	if l.Lost.Dropped > 0 || l.Lost.Undecoded > 0 {
		notes = append(notes, fmt.Sprintf("lost: the kernel dropped %d frames of the capture; %d frames held no TCP segment", l.Lost.Dropped, l.Lost.Undecoded))
	}
	if l.Stray > 0 {
		notes = append(notes, fmt.Sprintf("%d packets of port %d belonged to another connection and are left out", l.Stray, l.Server.Port()))
	}
	return notes
}

func (p *ladderPrinter) time(d time.Duration) string {
	us := d.Microseconds()
	if p.micro {
		return fmt.Sprintf("%*.3f", timeWidth, float64(us)/1000)
	}
	return fmt.Sprintf("%*d", timeWidth, us/1000)
}

// row writes one line: the time, the client's cell (right-aligned to its
// lifeline), the lane between the lifelines and the server's cell.
func (p *ladderPrinter) row(b *strings.Builder, at, client, lane, server string) {
	pad := clientWidth - columns(client)
	b.WriteString(fmt.Sprintf("%*s  %s%s│%s│", timeWidth, at, strings.Repeat(" ", max(pad, 0)), client, lane))
	if server != "" {
		b.WriteString(" " + server)
	}
	b.WriteString("\n")
}

// packet writes an arrow from the sender's lifeline to the receiver's,
// labelled with the flags, numbers, length and payload text: as much of
// that as the arrow holds, the rest under it.
func (p *ladderPrinter) packet(b *strings.Builder, pk *demo.Packet) {
	seq, ack := pk.RelSeq, pk.RelAck
	if p.absolute {
		seq, ack = pk.Seq, pk.Ack
	}
	numbers := "seq=" + strconv.FormatUint(uint64(seq), 10)
	if pk.Flags&capture.ACK != 0 {
		numbers += " ack=" + strconv.FormatUint(uint64(ack), 10)
	}
	numbers += " len=" + strconv.Itoa(len(pk.Payload))
	parts := []string{pk.Flags.String(), numbers}
	if len(pk.Payload) > 0 {
		parts = append(parts, strconv.Quote(string(pk.Payload)))
	}
	// The arrow keeps two dashes and its head beside the label.
	label, rest := parts[0], parts[1:]
	for len(rest) > 0 && utf8.RuneCountInString(label+" "+rest[0])+5 <= p.lane() {
		label, rest = label+" "+rest[0], rest[1:]
	}
	p.row(b, p.time(pk.Elapsed), "", arrow(label, p.lane(), pk.From == demo.Client), "")
	for _, part := range rest {
		for _, line := range wrapLines(part, p.lane()-2) {
			p.row(b, "", "", center(line, p.lane()), "")
		}
	}
}

// arrow draws label on a line width wide, pointing right or left.
func arrow(label string, width int, right bool) string {
	body := " " + label + " "
	n := width - utf8.RuneCountInString(body) - 1
	if n < 2 {
		body, n = " ", width-2
	}
	left := n / 2
	s := strings.Repeat("─", left) + body + strings.Repeat("─", n-left)
	if right {
		return s + "▶"
	}
	return "◀" + s
}

func center(s string, width int) string {
	n := width - utf8.RuneCountInString(s)
	if n <= 0 {
		return s
	}
	return strings.Repeat(" ", n/2) + s + strings.Repeat(" ", n-n/2)
}

// state writes a state on its socket's side: STATE when caused (or the
// listener's), STATE* when a poll saw it, (STATE) when passed through.
func (p *ladderPrinter) state(b *strings.Builder, e *demo.Entry) {
	name := p.names.State(e.State)
	if code, ok := stateColors[e.State]; ok && p.color {
		if !e.Observed {
			code = "2"
		}
		name = "\x1b[" + code + "m" + name + "\x1b[0m"
	}
	switch {
	case !e.Observed:
		name = "(" + name + ")"
	case !p.caused && e.Socket != demo.Listener:
		name += "*"
	}
	blank := strings.Repeat(" ", p.lane())
	switch e.Socket {
	case demo.Client:
		p.row(b, p.time(e.Elapsed), name, blank, "")
	case demo.Listener:
		p.row(b, p.time(e.Elapsed), "", blank, "listener "+name)
	default:
		p.row(b, p.time(e.Elapsed), "", blank, name)
	}
}

// step writes a call between the lifelines, on its program's side.
func (p *ladderPrinter) step(b *strings.Builder, e *demo.Entry) {
	at := p.time(e.Elapsed)
	for _, line := range wrapLines(e.Text, p.lane()-2) {
		pad := strings.Repeat(" ", p.lane()-2-utf8.RuneCountInString(line))
		if e.Actor == "client" {
			p.row(b, at, "", " "+line+pad+" ", "")
		} else {
			p.row(b, at, "", " "+pad+line+" ", "")
		}
		at = ""
	}
}

// note writes text across the line after the time, wrapped.
func (p *ladderPrinter) note(b *strings.Builder, at, text string) {
	for _, line := range wrapLines(text, p.width-timeWidth-2) {
		b.WriteString(fmt.Sprintf("%*s  %s\n", timeWidth, at, line))
		at = ""
	}
}
