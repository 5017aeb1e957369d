package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"

	"github.com/sockstate/sockstate/inspect/capture"
	"github.com/sockstate/sockstate/internal/demo"
	"github.com/sockstate/sockstate/netns"
)

// ladderOptions are demo's flags for the packets.
type ladderOptions struct {
	pcap, svg string
	absolute  bool
	narrow    bool
	noCapture bool
	// The files the flags name, once created.
	pcapOut, svgOut *outFile
	// netns and ifname say where to capture: the caller's loopback when
	// zero.
	netns  int
	ifname string
}

func (o *ladderOptions) flags() []flagSpec {
	return []flagSpec{
		{long: "pcap", hasValue: true, set: func(v string) error { o.pcap = v; return nil }},
		{long: "svg", hasValue: true, set: func(v string) error { o.svg = v; return nil }},
		{long: "absolute-seq", set: boolFlag(&o.absolute)},
		{long: "narrow", set: boolFlag(&o.narrow)},
		{long: "no-capture", set: boolFlag(&o.noCapture)},
	}
}

// open creates the files --pcap and --svg name and starts capturing port
// on loopback. When the capture cannot start it returns why, for the
// timeline's second line, unless a file needs the packets: then that is
// the error. close removes what open made that output did not finish.
func (o *ladderOptions) open(port uint16) (c *capture.Capture, why string, err error) {
	needs := ""
	switch {
	case o.pcap != "":
		needs = "--pcap"
	case o.svg != "":
		needs = "--svg"
	}
	if o.noCapture {
		if needs != "" {
			return nil, "", usagef("demo: %s needs the packets: drop --no-capture", needs)
		}
		return nil, "", nil
	}
	if o.pcap != "" {
		if o.pcapOut, err = createOut("pcap", o.pcap); err != nil {
			return nil, "", err
		}
	}
	if o.svg != "" {
		if o.svgOut, err = createOut("svg", o.svg); err != nil {
			o.close()
			return nil, "", err
		}
	}
	ifname := cmp.Or(o.ifname, "lo")
	if o.netns != 0 {
		err = netns.Do(o.netns, func() (err error) {
			c, err = capture.Open(ifname, port)
			return err
		})
	} else {
		c, err = capture.Open(ifname, port)
	}
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			err = errors.New(err.Error() + " (capturing needs CAP_NET_RAW: run as root)")
		}
		if needs != "" {
			o.close()
			return nil, "", errors.New("demo: " + needs + ": " + err.Error())
		}
		return nil, "no packets: " + err.Error() + "; the states alone", nil
	}
	return c, "", nil
}

func (o *ladderOptions) close() {
	o.pcapOut.discard()
	o.svgOut.discard()
}

// rowsPrinter writes the ladder as its rows come, then what follows it.
type rowsPrinter interface {
	rows([]demo.Row) error
	finish(*demo.Ladder) error
}

// printer returns the ladder's writer: text, or JSON Lines. The text is
// 80 columns wide with --narrow or on a terminal narrower than 100
// (termWidth, 0 when unknown), else 100.
func (o *ladderOptions) printer(w io.Writer, jsonOut, color, micro, caused bool, termWidth int, names demo.Names) rowsPrinter {
	if jsonOut {
		return &jsonLadder{enc: json.NewEncoder(w), absolute: o.absolute, names: names}
	}
	p := &ladderPrinter{w: w, color: color, micro: micro, absolute: o.absolute, width: 100, caused: caused, names: names}
	if o.narrow || (termWidth > 0 && termWidth < 100) {
		p.width = 80
	}
	return p
}

// writeFiles writes the files --pcap and --svg name.
func (o *ladderOptions) writeFiles(l *demo.Ladder) error {
	if o.pcapOut != nil {
		if err := o.pcapOut.write(l, writePcap); err != nil {
			return err
		}
	}
	if o.svgOut != nil {
		return o.svgOut.write(l, writeSVG)
	}
	return nil
}

// jsonLadder writes the ladder's rows as JSON Lines: the timeline's
// entries and a packet line per packet, numbered as --pcap's frames.
type jsonLadder struct {
	enc      *json.Encoder
	absolute bool
	frame    int
	names    demo.Names
}

func (j *jsonLadder) rows(rows []demo.Row) error {
	for _, r := range rows {
		var v any
		if r.Entry != nil {
			v = newJSONEntry(r.Entry, j.names)
		} else {
			j.frame++
			v = newJSONPacket(r.Packet, j.frame, j.absolute, j.names)
		}
		if err := j.enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// finish says what the capture lost, if anything.
func (j *jsonLadder) finish(l *demo.Ladder) error {
	for _, n := range lostNotes(l) {
		if err := j.enc.Encode(jsonEntry{Type: "note", Text: n}); err != nil {
			return err
		}
	}
	return nil
}

// jsonPacket is a packet as demo -j prints it, among the timeline's
// entries.
type jsonPacket struct {
	MS   int64  `json:"ms"`
	US   int64  `json:"us"`
	Type string `json:"type"`
	// Time is the kernel's stamp; Frame the packet's number in --pcap's
	// file.
	Time    time.Time    `json:"time"`
	Frame   int          `json:"frame"`
	From    string       `json:"from"`
	Flags   string       `json:"flags"`
	Seq     uint32       `json:"seq"`
	Ack     uint32       `json:"ack"`
	Len     int          `json:"len"`
	Payload string       `json:"payload,omitempty"`
	Caused  []jsonCaused `json:"caused"`
}

type jsonCaused struct {
	Socket string `json:"socket"`
	From   string `json:"from"`
	To     string `json:"to"`
}

func newJSONPacket(p *demo.Packet, frame int, absolute bool, names demo.Names) jsonPacket {
	j := jsonPacket{
		MS: p.Elapsed.Milliseconds(), US: p.Elapsed.Microseconds(), Type: "packet", Time: p.Time.UTC(), Frame: frame,
		From: p.From.Side(), Flags: p.Flags.String(), Seq: p.RelSeq, Ack: p.RelAck, Len: len(p.Payload),
		Payload: string(p.Payload), Caused: []jsonCaused{},
	}
	if absolute {
		j.Seq, j.Ack = p.Seq, p.Ack
	}
	for _, t := range p.Caused {
		j.Caused = append(j.Caused, jsonCaused{Socket: t.Socket.Side(), From: names.State(t.From), To: names.State(t.To)})
	}
	return j
}
