package cli

import (
	"fmt"
	"io"
	"runtime"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sockstate/sockstate/internal/demo"
)

// writePcap writes l's packets as pcapng, each one that changed a state
// with a comment naming the changes.
func writePcap(out io.Writer, l *demo.Ladder) error {
	caused := "placed by a poll, not tied to packets"
	if l.Caused {
		caused = "each packet that changed a state names the change in its comment"
	}
	link, what := layers.LinkTypeEthernet, "loopback"
	if l.RawIP {
		link, what = layers.LinkTypeRaw, "a TUN device of the demo's delayed link"
	}
	intf := pcapgo.NgInterface{
		Name:        l.Interface,
		Description: fmt.Sprintf("%s: the sockstate demo's connection %v <-> %v; %s", what, l.Client, l.Server, caused),
		Filter:      fmt.Sprintf("tcp port %d", l.Server.Port()),
		OS:          runtime.GOOS,
		LinkType:    link,
		SnapLength:  0x40000,
	}
	w, err := pcapgo.NewNgWriterInterface(out, intf, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Hardware: runtime.GOARCH, OS: runtime.GOOS, Application: "sockstate demo",
	}})
	if err != nil {
		return err
	}
	for _, p := range l.Packets() {
		ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Frame), Length: len(p.Frame)}
		var opts pcapgo.NgPacketOptions
		if c := p.Comment(l.Names); c != "" {
			opts.Comments = []string{c}
		}
		if err := w.WritePacketWithOptions(ci, p.Frame, opts); err != nil {
			return err
		}
	}
	return w.Flush()
}
