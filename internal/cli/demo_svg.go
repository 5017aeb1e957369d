package cli

import (
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/capture"
	"github.com/sockstate/sockstate/internal/demo"
)

// The SVG ladder's geometry, in pixels: the client's lifeline at
// svgClientX, the server's at svgServerX, a row every svgRow.
const (
	svgWidth   = 960
	svgClientX = 260
	svgServerX = 700
	svgRow     = 24
	svgTop     = 70
)

// svgColors are the states' colours, as the terminal's stateColors:
// green while data flows, amber for the handshake and the closing
// states, teal for listeners, blue for TIME_WAIT, red for the end.
var svgColors = map[inspect.State]string{
	inspect.Established: "#1a7f37",
	inspect.SynSent:     "#b35900", inspect.SynRecv: "#b35900", inspect.NewSynRecv: "#b35900",
	inspect.FinWait1: "#b35900", inspect.FinWait2: "#b35900", inspect.CloseWait: "#b35900",
	inspect.LastAck: "#b35900", inspect.Closing: "#b35900",
	inspect.Listen:   "#0e7c86",
	inspect.TimeWait: "#0550ae",
	inspect.Close:    "#cf222e", demo.Gone: "#cf222e",
}

// writeSVG draws l as an SVG sequence diagram: a lifeline for each side,
// the packets as arrows between them labelled as in the terminal, the
// calls in grey beside their lifeline and each state in colour on its
// side. Every packet is a <g class="packet">, every state a <text
// class="state client"> or <text class="state server">.
func writeSVG(w io.Writer, l *demo.Ladder) error {
	var rows strings.Builder
	y := svgTop
	for _, r := range l.Rows {
		switch {
		case r.Entry == nil:
			svgPacket(&rows, r.Packet, y)
		case r.Entry.Kind == demo.EntryState:
			svgState(&rows, r.Entry, l.Caused, l.Names, y)
		case r.Entry.Kind == demo.EntryStep:
			x, anchor := svgClientX+8, "start"
			if r.Entry.Actor != "client" {
				x, anchor = svgServerX-8, "end"
			}
			fmt.Fprintf(&rows, `<text class="call" x="%d" y="%d" text-anchor="%s">%s</text>`+"\n", x, y+4, anchor, html.EscapeString(r.Entry.Text))
		default:
			continue
		}
		y += svgRow
	}
	height := y + svgRow
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans Mono, Menlo, monospace" font-size="13">
<title>The textbook TCP exchange: %s and %s, packets and states</title>
<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#24292f"/></marker></defs>
<style>.call{fill:#6e7781;font-style:italic}.label{fill:#24292f}.lifeline{stroke:#8c959f;stroke-width:2}.packet line{stroke:#24292f;stroke-width:1.5}.state{font-weight:bold}</style>
<rect width="100%%" height="100%%" fill="#ffffff"/>
<text x="%d" y="24" text-anchor="middle" font-weight="bold">client</text>
<text x="%d" y="42" text-anchor="middle" class="call">%s</text>
<text x="%d" y="24" text-anchor="middle" font-weight="bold">server</text>
<text x="%d" y="42" text-anchor="middle" class="call">%s</text>
<line class="lifeline" x1="%d" y1="50" x2="%d" y2="%d"/>
<line class="lifeline" x1="%d" y1="50" x2="%d" y2="%d"/>
`, svgWidth, height, svgWidth, height, l.Client, l.Server,
		svgClientX, svgClientX, l.Client, svgServerX, svgServerX, l.Server,
		svgClientX, svgClientX, height-10, svgServerX, svgServerX, height-10)
	b.WriteString(rows.String())
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// svgPacket draws a packet as an arrow that falls a little as it
// crosses, as in the textbooks, its label above it.
func svgPacket(b *strings.Builder, p *demo.Packet, y int) {
	x1, x2 := svgClientX, svgServerX
	if p.From != demo.Client {
		x1, x2 = x2, x1
	}
	label := p.Flags.String() + " seq=" + strconv.FormatUint(uint64(p.RelSeq), 10)
	if p.Flags&capture.ACK != 0 {
		label += " ack=" + strconv.FormatUint(uint64(p.RelAck), 10)
	}
	label += " len=" + strconv.Itoa(len(p.Payload))
	if len(p.Payload) > 0 {
		label += " " + strconv.Quote(string(p.Payload))
	}
	fmt.Fprintf(b, `<g class="packet" data-from="%s" data-flags="%s"><line x1="%d" y1="%d" x2="%d" y2="%d" marker-end="url(#head)"/><text class="label" x="%d" y="%d" text-anchor="middle">%s</text></g>`+"\n",
		p.From.Side(), p.Flags, x1, y, x2, y+14, (svgClientX+svgServerX)/2, y-3, html.EscapeString(label))
}

// svgState writes a state on its side: the client's left of its
// lifeline, the server's right of its own; one passed through unseen in
// parentheses and grey, one a poll saw marked with *.
func svgState(b *strings.Builder, e *demo.Entry, caused bool, names demo.Names, y int) {
	side, x, anchor := "server", svgServerX+10, "start"
	if e.Socket == demo.Client {
		side, x, anchor = "client", svgClientX-10, "end"
	}
	name := names.State(e.State)
	color := svgColors[e.State]
	switch {
	case !e.Observed:
		name, color = "("+name+")", "#8c959f"
	case !caused && e.Socket != demo.Listener:
		name += "*"
	}
	if e.Socket == demo.Listener {
		name = "listener " + name
	}
	fmt.Fprintf(b, `<text class="state %s" x="%d" y="%d" text-anchor="%s" fill="%s">%s</text>`+"\n", side, x, y+4, anchor, color, html.EscapeString(name))
}
