package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ErrNotTCP is returned by Decode for a frame that holds no TCP segment
// over IPv4 or IPv6.
var ErrNotTCP = errors.New("capture: not a TCP segment over IP")

// Flags are a TCP segment's control bits, in the header's order (RFC 9293,
// section 3.1).
type Flags uint8

// The control bits.
const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

var flagNames = [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

// String lists the bits set as Wireshark's Info column does, SYN before
// ACK: "SYN", "SYN,ACK", "FIN,ACK", "PSH,ACK"; "none" for none.
func (f Flags) String() string {
	var names []string
	// Wireshark's order: FIN SYN RST PSH ACK URG ECE CWR, the bits' own.
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Packet is one captured TCP segment.
type Packet struct {
	// Time is when the kernel took the frame in, CLOCK_REALTIME as it
	// stamped it (SO_TIMESTAMPNS); Mono is the same instant on
	// CLOCK_MONOTONIC.
	Time time.Time
	Mono time.Duration
	// Frame is the frame as captured, from its Ethernet header.
	Frame    []byte
	Src, Dst netip.AddrPort
	Flags    Flags
	// Seq and Ack are the absolute sequence and acknowledgment numbers.
	Seq, Ack uint32
	Window   uint16
	// Payload is the segment's data.
	Payload []byte
}

// Stats are what a capture lost.
type Stats struct {
	// Dropped is how many frames the kernel dropped for want of room in
	// the socket's buffer (PACKET_STATISTICS' tp_drops).
	Dropped uint32
	// Undecoded is how many kept frames held no TCP segment Decode read.
	Undecoded int
}

// Decode decodes an Ethernet frame holding a TCP segment over IPv4 or
// IPv6 into p, which keeps frame as its Frame. On failure p is unchanged.
func Decode(frame []byte, p *Packet) error {
	var (
		eth  layers.Ethernet
		ip4  layers.IPv4
		ip6  layers.IPv6
		tcp  layers.TCP
		body gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp, &body)
	parser.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		return fmt.Errorf("capture: decode: %w", err)
	}
	var src, dst netip.Addr
	hasTCP := false
	for _, l := range decoded {
		switch l {
		case layers.LayerTypeIPv4:
			src, dst = addrOf(ip4.SrcIP), addrOf(ip4.DstIP)
		case layers.LayerTypeIPv6:
			src, dst = addrOf(ip6.SrcIP), addrOf(ip6.DstIP)
		case layers.LayerTypeTCP:
			hasTCP = true
		}
	}
	if !hasTCP || !src.IsValid() || !dst.IsValid() {
		return ErrNotTCP
	}
	var f Flags
	for i, set := range []bool{tcp.FIN, tcp.SYN, tcp.RST, tcp.PSH, tcp.ACK, tcp.URG, tcp.ECE, tcp.CWR} {
		if set {
			f |= 1 << i
		}
	}
	*p = Packet{
		Time: p.Time, Mono: p.Mono, Frame: frame,
		Src: netip.AddrPortFrom(src, uint16(tcp.SrcPort)), Dst: netip.AddrPortFrom(dst, uint16(tcp.DstPort)),
		Flags: f, Seq: tcp.Seq, Ack: tcp.Ack, Window: tcp.Window, Payload: tcp.Payload,
	}
	return nil
}

// addrOf returns ip as an address of its own length: 4 bytes for IPv4,
// 16 for IPv6; invalid for any other length.
func addrOf(ip []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a
}
