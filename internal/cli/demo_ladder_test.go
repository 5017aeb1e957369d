package cli

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sockstate/sockstate/inspect/capture"
	"github.com/sockstate/sockstate/internal/testnet"
)

// ladderLine is any line of demo -j with the capture: an entry, a packet
// or the result.
type ladderLine struct {
	demoLine
	Time    string       `json:"time"`
	Frame   int          `json:"frame"`
	From    string       `json:"from"`
	Flags   string       `json:"flags"`
	Seq     *uint32      `json:"seq"`
	Ack     *uint32      `json:"ack"`
	Len     *int         `json:"len"`
	Payload string       `json:"payload"`
	Caused  []jsonCaused `json:"caused"`
}

// pkt is a packet as the tests compare them: "client SYN 0 0 0", the
// sender, flags, relative seq, ack and length.
type pkt struct {
	Seg    string
	Caused string
}

// wantLadder returns the textbook's packets for closer, with the state
// changes each causes, in the close of four packets or of three (the
// passive side's ACK of the FIN riding on its own FIN, when its delayed
// ACK had not fired before the program closed).
func wantLadder(closer string, three bool) []pkt {
	open := []pkt{
		{"client SYN 0 0 0", "client CLOSE -> SYN_SENT"},
		{"server SYN,ACK 0 1 0", "client SYN_SENT -> ESTABLISHED"},
		{"client ACK 1 1 0", "server LISTEN -> SYN_RECV; server SYN_RECV -> ESTABLISHED"},
		{`client PSH,ACK 1 1 21 "hello from the client"`, ""},
		{"server ACK 1 22 0", ""},
		{`server PSH,ACK 1 22 11 "thank you !"`, ""},
		{"client ACK 22 12 0", ""},
	}
	a, p := "server", "client" // the active and passive closers
	aSeq, pSeq := uint32(12), uint32(22)
	if closer == "client" {
		a, p = p, a
		aSeq, pSeq = pSeq, aSeq
	}
	n := func(v uint32) string { return strings.TrimSpace(strings.Repeat(" ", 0) + uitoa(v)) }
	fin := pkt{a + " FIN,ACK " + n(aSeq) + " " + n(pSeq) + " 0", a + " ESTABLISHED -> FIN_WAIT1; " + p + " ESTABLISHED -> CLOSE_WAIT"}
	ack := pkt{p + " ACK " + n(pSeq) + " " + n(aSeq+1) + " 0", a + " FIN_WAIT1 -> FIN_WAIT2"}
	pfin := pkt{p + " FIN,ACK " + n(pSeq) + " " + n(aSeq+1) + " 0", p + " CLOSE_WAIT -> LAST_ACK; " + a + " FIN_WAIT2 -> TIME_WAIT"}
	last := pkt{a + " ACK " + n(aSeq+1) + " " + n(pSeq+1) + " 0", p + " LAST_ACK -> CLOSE"}
	if three {
		pfin.Caused = p + " CLOSE_WAIT -> LAST_ACK; " + a + " FIN_WAIT1 -> FIN_WAIT2; " + a + " FIN_WAIT2 -> TIME_WAIT"
		return append(open, fin, pfin, last)
	}
	return append(open, fin, ack, pfin, last)
}

func uitoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func (l *ladderLine) seg() string {
	s := l.From + " " + l.Flags + " " + uitoa(*l.Seq) + " " + uitoa(*l.Ack) + " " + uitoa(uint32(*l.Len))
	if l.Payload != "" {
		s += ` "` + l.Payload + `"`
	}
	return s
}

func causedString(cs []jsonCaused) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Socket + " " + c.From + " -> " + c.To
	}
	return strings.Join(parts, "; ")
}

// TestDemoLadder runs the demo with the tracer and the capture for each
// closer over IPv4 and IPv6, and requires the textbook's packets with
// their flags and relative numbers, each state change of the connection
// right after the packet that caused it, the payloads, and a pcapng file
// that gopacket and tshark read back with the same packets and a comment
// on every packet that changed a state and on no other.
func TestDemoLadder(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark (apt-get install tshark): %v", err)
	}
	for _, closer := range []string{"server", "client"} {
		for _, addr := range []string{"127.0.0.1:7788", "[::1]:7788"} {
			t.Run(closer+"/"+addr, func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "demo.pcapng")
				svg := filepath.Join(t.TempDir(), "demo.svg")
				out, stderr, code := traceDemo(t, "demo", "-j", "--step", "50ms", "--source", "trace", "--closer", closer, "--addr", addr, "--pcap", file, "--svg", svg)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
				}
				lines := decodeLines[ladderLine](t, out)
				var got []pkt
				for i, l := range lines {
					switch {
					case l.Type == "packet":
						if l.Frame != len(got)+1 {
							t.Errorf("packet line %d: frame %d, want %d", i, l.Frame, len(got)+1)
						}
						got = append(got, pkt{l.seg(), causedString(l.Caused)})
						// The states it caused follow it, in order;
						// a CLOSE is followed by gone.
						next := lines[i+1:]
						for _, c := range l.Caused {
							for len(next) > 0 && next[0].State == "gone" {
								next = next[1:]
							}
							if len(next) == 0 || next[0].Type != "state" || sideOf(next[0].Socket) != c.Socket || next[0].State != c.To {
								t.Errorf("frame %d caused %s %s, but the next line is %+v", l.Frame, c.Socket, c.To, next[:min(1, len(next))])
								break
							}
							next = next[1:]
						}
					case l.Type == "state" && l.Socket != "listener" && l.State != "gone":
						if i == 0 || !followsCause(lines[:i], sideOf(l.Socket), l.State) {
							t.Errorf("line %d: %s %s does not follow the packet that caused it", i, l.Socket, l.State)
						}
					}
				}
				want := wantLadder(closer, len(got) == 10)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("packets (-want +got):\n%s\n%s", diff, out)
				}
				checkPcap(t, file, got)
				checkTshark(t, tshark, file, got)
				checkSVG(t, svg, lines)
			})
		}
	}
}

func sideOf(socket string) string {
	if socket == "client" {
		return "client"
	}
	return "server"
}

// followsCause reports whether the lines before a state end with a packet
// that caused it, then only states it caused (and gone).
func followsCause(before []ladderLine, side, state string) bool {
	for i := len(before) - 1; i >= 0; i-- {
		l := before[i]
		switch l.Type {
		case "state":
			continue
		case "packet":
			return slices.ContainsFunc(l.Caused, func(c jsonCaused) bool { return c.Socket == side && c.To == state })
		}
		return false
	}
	return false
}

// checkPcap reads file back with gopacket's pcapng reader.
func checkPcap(t *testing.T, file string, want []pkt) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	intf, err := r.Interface(0)
	if err != nil || intf.Name != "lo" || !strings.HasPrefix(intf.Description, "loopback: the sockstate demo's connection ") {
		t.Errorf("interface %+v, %v", intf, err)
	}
	var got []pkt
	for {
		data, _, opts, err := r.ReadPacketDataWithOptions()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var p capture.Packet
		if err := capture.Decode(data, &p); err != nil {
			t.Fatal(err)
		}
		got = append(got, pkt{p.Flags.String(), strings.Join(opts.Comments, "|")})
	}
	if diff := cmp.Diff(flagsAndComments(want), got); diff != "" {
		t.Errorf("pcapng read by gopacket (-want +got):\n%s", diff)
	}
}

// flagsAndComments keeps the flags of each packet and what it caused.
func flagsAndComments(ps []pkt) []pkt {
	out := make([]pkt, len(ps))
	for i, p := range ps {
		out[i] = pkt{strings.Fields(p.Seg)[1], p.Caused}
	}
	return out
}

// checkTshark reads file with tshark: the flags of every frame, and the
// comment of every frame that changed a state.
func checkTshark(t *testing.T, tshark, file string, want []pkt) {
	t.Helper()
	cmd := exec.Command(tshark, "-r", file, "-T", "fields", "-e", "frame.number", "-e", "tcp.flags.str", "-e", "frame.comment")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	// tcp.flags.str marks each bit with a letter at its place:
	// ·······A··S· for SYN+ACK.
	letters := map[rune]capture.Flags{'F': capture.FIN, 'S': capture.SYN, 'R': capture.RST, 'P': capture.PSH, 'A': capture.ACK, 'U': capture.URG, 'E': capture.ECE, 'C': capture.CWR}
	var got []pkt
	for i, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		fields := strings.Split(line, "\t")
		if len(fields) != 3 || fields[0] != uitoa(uint32(i+1)) {
			t.Fatalf("tshark line %q", line)
		}
		var f capture.Flags
		for _, r := range fields[1] {
			f |= letters[r]
		}
		got = append(got, pkt{f.String(), fields[2]})
	}
	if diff := cmp.Diff(flagsAndComments(want), got); diff != "" {
		t.Errorf("tshark -r (-want +got):\n%s", diff)
	}
}

// TestDemoLadderPolled runs the demo polling sock_diag with the capture:
// the same packets, none tied to a state.
func TestDemoLadderPolled(t *testing.T) {
	out, stderr, code := traceDemo(t, "demo", "-j", "--step", "100ms", "--source", "netlink")
	// A poll of a loaded machine may miss a state (see traceDemo): the
	// packets are what this test is about, and they are all there.
	if code != 0 && !strings.HasPrefix(stderr, "sockstate: demo: not observed: ") || code == 0 && stderr != "" {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
	}
	var got []pkt
	for _, l := range decodeLines[ladderLine](t, out) {
		if l.Type == "packet" {
			got = append(got, pkt{l.seg(), causedString(l.Caused)})
		}
	}
	want := wantLadder("server", len(got) == 10)
	for i := range want {
		want[i].Caused = ""
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
}

// TestDemoLadderText draws the ladder 100 and 80 columns wide: every line
// fits, the arrows point from the sender, the data shows its text, and
// the states stand on their own side.
func TestDemoLadderText(t *testing.T) {
	for _, width := range []int{100, 80} {
		args := []string{"demo", "--step", "50ms", "--source", "trace"}
		if width == 80 {
			args = append(args, "--narrow")
		}
		out, stderr, code := traceDemo(t, args...)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(l); n > width {
				t.Errorf("%d columns, want at most %d: %q", n, width, l)
			}
		}
		for _, want := range []string{
			"│─", " SYN seq=0 len=0 ", "─▶│\n",
			"│◀─", " SYN,ACK seq=0 ack=1 len=0 ", "─│\n",
			`"hello from the client"`, `"thank you !"`,
			"    SYN_SENT│", " ESTABLISHED│", "│ SYN_RECV\n", "│ TIME_WAIT\n", "│ listener LISTEN\n",
			"\nok: every state the textbook requires was observed\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%d columns: the ladder lacks %q:\n%s", width, want, out)
			}
		}
	}
}

// TestDemoPcapBadFile: --pcap or --svg into a missing directory, over a
// read-only file or a directory is refused in one line before the demo
// runs, leaving nothing behind; either with --no-capture, or --pcap with
// an empty name, is a usage error.
func TestDemoPcapBadFile(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro.pcapng")
	if err := os.WriteFile(ro, []byte("keep"), 0o444); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing", "x.pcapng")
	ns := testnet.New(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--pcap", missing}, 1, "sockstate: demo: --pcap " + missing + ": no directory " + filepath.Dir(missing) + ": create it first\n"},
		{[]string{"--pcap", ro}, 1, "sockstate: demo: --pcap " + ro + ": the file is read-only: remove it or make it writable\n"},
		{[]string{"--pcap", dir}, 1, "sockstate: demo: --pcap " + dir + ": is a directory: name a file\n"},
		{[]string{"--pcap", filepath.Join(dir, "y.pcapng"), "--no-capture"}, 2, "sockstate: demo: --pcap needs the packets: drop --no-capture\n"},
		{[]string{"--pcap="}, 2, "sockstate: demo: flag --pcap has an empty value; give one\n"},
		{[]string{"--svg", missing}, 1, "sockstate: demo: --svg " + missing + ": no directory " + filepath.Dir(missing) + ": create it first\n"},
		{[]string{"--svg", ro}, 1, "sockstate: demo: --svg " + ro + ": the file is read-only: remove it or make it writable\n"},
		// The first file is made before the second is refused, and
		// removed.
		{[]string{"--pcap", filepath.Join(dir, "z.pcapng"), "--svg", missing}, 1, "sockstate: demo: --svg " + missing + ": no directory " + filepath.Dir(missing) + ": create it first\n"},
		{[]string{"--svg", filepath.Join(dir, "y.svg"), "--no-capture"}, 2, "sockstate: demo: --svg needs the packets: drop --no-capture\n"},
	} {
		out, stderr, code := sockstate(t, ns, append([]string{"demo", "--step", "1ms"}, tc.args...)...)
		if code != tc.code || stderr != tc.stderr || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d, %q and nothing", tc.args, code, stderr, out, tc.code, tc.stderr)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "ro.pcapng" {
		t.Errorf("left in the directory: %v", entries)
	}
	if b, err := os.ReadFile(ro); err != nil || string(b) != "keep" {
		t.Errorf("the read-only file holds %q, %v", b, err)
	}
}

// TestDemoPcapInterrupted interrupts a demo writing --pcap once its
// temporary file exists: the demo ends with the context's error, and
// neither the file nor the temporary one is left.
func TestDemoPcapInterrupted(t *testing.T) {
	ns := testnet.New(t)
	dir := t.TempDir()
	cmd := cliCommand(t, ns, executable(t), nil, "demo", "--step", "2s", "--pcap", filepath.Join(dir, "demo.pcapng"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 1 {
			break
		}
		if i == 500 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no temporary file in %s after 500 looks", dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || stderr.String() != "sockstate: demo: interrupted\n" {
		t.Errorf("interrupted demo: %v, stderr %q; want exit 1 and the one line", err, stderr.String())
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("left behind: %v (%v)", entries, err)
	}
}

// checkSVG parses the SVG ladder as XML and requires an arrow per packet,
// from the side that sent it, and each side's states in the order of
// the JSON lines.
func checkSVG(t *testing.T, file string, lines []ladderLine) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, l := range lines {
		switch {
		case l.Type == "packet":
			want = append(want, "packet "+l.From+" "+l.Flags)
		case l.Type == "state" && l.Socket == "listener":
			want = append(want, "server listener "+l.State)
		case l.Type == "state":
			want = append(want, sideOf(l.Socket)+" "+l.State)
		}
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	inState := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", file, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Name.Local] = a.Value
			}
			switch {
			case tok.Name.Local == "g" && attrs["class"] == "packet":
				got = append(got, "packet "+attrs["data-from"]+" "+attrs["data-flags"])
			case tok.Name.Local == "text" && strings.HasPrefix(attrs["class"], "state "):
				inState = strings.TrimPrefix(attrs["class"], "state ")
			}
		case xml.CharData:
			if inState != "" {
				got = append(got, inState+" "+string(tok))
				inState = ""
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SVG packets and states (-want +got):\n%s", diff)
	}
}
