package capture_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"github.com/sockstate/sockstate/inspect/capture"
)

// frame builds an Ethernet frame holding a TCP segment from src to dst.
func frame(t testing.TB, src, dst netip.AddrPort, tcp layers.TCP, payload string) []byte {
	t.Helper()
	eth := layers.Ethernet{SrcMAC: make(net.HardwareAddr, 6), DstMAC: make(net.HardwareAddr, 6), EthernetType: layers.EthernetTypeIPv4}
	var ip gopacket.SerializableLayer
	if src.Addr().Is4() {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP(src.Addr().AsSlice()), DstIP: net.IP(dst.Addr().AsSlice())}
		tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.IP(src.Addr().AsSlice()), DstIP: net.IP(dst.Addr().AsSlice())}
		tcp.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	}
	tcp.SrcPort, tcp.DstPort = layers.TCPPort(src.Port()), layers.TCPPort(dst.Port())
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, &eth, ip, &tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst string
	}{
		{"v4", "127.0.0.1:50000", "127.0.0.1:7788"},
		{"v6", "[::1]:50000", "[::1]:7788"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
			b := frame(t, src, dst, layers.TCP{Seq: 100, Ack: 200, PSH: true, ACK: true, Window: 512}, "thank you !")
			var p capture.Packet
			if err := capture.Decode(b, &p); err != nil {
				t.Fatal(err)
			}
			got := []any{p.Src, p.Dst, p.Flags.String(), p.Seq, p.Ack, p.Window, string(p.Payload), len(p.Frame)}
			want := []any{src, dst, "PSH,ACK", uint32(100), uint32(200), uint16(512), "thank you !", len(b)}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeNotTCP(t *testing.T) {
	eth := layers.Ethernet{SrcMAC: make(net.HardwareAddr, 6), DstMAC: make(net.HardwareAddr, 6), EthernetType: layers.EthernetTypeIPv4}
	ip := layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{127, 0, 0, 1}, DstIP: net.IP{127, 0, 0, 1}}
	udp := layers.UDP{SrcPort: 1, DstPort: 2}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, &eth, &ip, &udp); err != nil {
		t.Fatal(err)
	}
	p := capture.Packet{Seq: 7}
	if err := capture.Decode(buf.Bytes(), &p); !errors.Is(err, capture.ErrNotTCP) {
		t.Errorf("error %v, want ErrNotTCP", err)
	}
	if p.Seq != 7 || p.Frame != nil {
		t.Errorf("a failed decode changed the packet: %+v", p)
	}
}

func TestFlagsString(t *testing.T) {
	for f, want := range map[capture.Flags]string{
		0:                                       "none",
		capture.SYN:                             "SYN",
		capture.SYN | capture.ACK:               "SYN,ACK",
		capture.FIN | capture.ACK:               "FIN,ACK",
		capture.FIN | capture.PSH | capture.ACK: "FIN,PSH,ACK",
		capture.RST:                             "RST",
		capture.URG | capture.ECE | capture.CWR: "URG,ECE,CWR",
	} {
		if got := f.String(); got != want {
			t.Errorf("%08b: %q, want %q", uint8(f), got, want)
		}
	}
}

// TestFilter runs the filter in x/net/bpf's interpreter: it keeps the
// port's TCP segments either way over both families, whole, and drops
// other ports, UDP and later IPv4 fragments.
func TestFilter(t *testing.T) {
	raw, err := capture.Filter(7788)
	if err != nil {
		t.Fatal(err)
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("the filter does not disassemble")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort
	fragment := frame(t, ap("127.0.0.1:50000"), ap("127.0.0.1:7788"), layers.TCP{SYN: true}, "")
	fragment[14+6] |= 0x01 // a fragment offset of 8 bytes
	udp := frame(t, ap("127.0.0.1:50000"), ap("127.0.0.1:7788"), layers.TCP{SYN: true}, "")
	udp[14+9] = 17
	for _, tc := range []struct {
		name string
		b    []byte
		keep bool
	}{
		{"v4 to", frame(t, ap("127.0.0.1:50000"), ap("127.0.0.1:7788"), layers.TCP{SYN: true}, ""), true},
		{"v4 from", frame(t, ap("127.0.0.1:7788"), ap("127.0.0.1:50000"), layers.TCP{ACK: true}, "x"), true},
		{"v6 to", frame(t, ap("[::1]:50000"), ap("[::1]:7788"), layers.TCP{SYN: true}, ""), true},
		{"v6 from", frame(t, ap("[::1]:7788"), ap("[::1]:50000"), layers.TCP{ACK: true}, "x"), true},
		{"v4 other port", frame(t, ap("127.0.0.1:50000"), ap("127.0.0.1:7789"), layers.TCP{SYN: true}, ""), false},
		{"v6 other port", frame(t, ap("[::1]:50000"), ap("[::1]:7789"), layers.TCP{SYN: true}, ""), false},
		{"v4 fragment", fragment, false},
		{"v4 udp", udp, false},
	} {
		n, err := vm.Run(tc.b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if keep := n > 0; keep != tc.keep || keep && n < len(tc.b) {
			t.Errorf("%s: the filter keeps %d bytes of %d, want keep=%v, whole", tc.name, n, len(tc.b), tc.keep)
		}
	}
}

// FuzzDecode: Decode never panics; on success the ends are of one family
// and the frame is kept whole; on failure the packet is untouched.
func FuzzDecode(f *testing.F) {
	ap := netip.MustParseAddrPort
	f.Add(frame(f, ap("127.0.0.1:50000"), ap("127.0.0.1:7788"), layers.TCP{SYN: true}, ""))
	f.Add(frame(f, ap("[::1]:7788"), ap("[::1]:50000"), layers.TCP{FIN: true, ACK: true}, "bye"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := capture.Packet{Seq: 1}
		if err := capture.Decode(b, &p); err != nil {
			if p.Seq != 1 || p.Frame != nil {
				t.Fatalf("a failed decode changed the packet: %+v", p)
			}
			return
		}
		if p.Src.Addr().Is4() != p.Dst.Addr().Is4() || !p.Src.IsValid() || !p.Dst.IsValid() {
			t.Fatalf("ends %v -> %v", p.Src, p.Dst)
		}
		if len(p.Frame) != len(b) {
			t.Fatalf("frame of %d bytes kept as %d", len(b), len(p.Frame))
		}
	})
}
