package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
	"github.com/sockstate/sockstate/internal/demo"
)

// TestWriteAlignedMatchesTablewriter holds the streaming renderer used for
// large tables to the tablewriter output used for small ones, byte for byte.
func TestWriteAlignedMatchesTablewriter(t *testing.T) {
	socks := []inspect.Socket{
		{Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Listen, SendQ: 4096,
			Local: netip.MustParseAddrPort("0.0.0.0:22"), Peer: netip.MustParseAddrPort("0.0.0.0:0"), Inode: 1234, Cookie: 0x2a},
		{Protocol: inspect.UDP, Family: inspect.INet6, State: inspect.Close,
			Local: netip.MustParseAddrPort("[::1]:5353"), Peer: netip.MustParseAddrPort("[::]:0"), UID: 65534},
		{Protocol: inspect.TCP, Family: inspect.INet6, State: inspect.TimeWait,
			Local: netip.MustParseAddrPort("[2001:db8::1]:443"), Peer: netip.MustParseAddrPort("[2001:db8::2]:51234"), Cookie: 0xffffffffff},
		{Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Established, RecvQ: 123456, SendQ: 7,
			Local: netip.MustParseAddrPort("127.0.0.1:7788"), Peer: netip.MustParseAddrPort("127.0.0.1:1")},
	}
	for _, o := range []tableOptions{
		{netid: true, state: true, header: true},
		{netid: true, state: true, header: true, extended: true},
		{state: true},
		{netid: true, extended: true},
		{header: true},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			var tw, al bytes.Buffer
			if err := writeTablewriter(&tw, socks, o); err != nil {
				t.Fatal(err)
			}
			if err := writeAligned(&al, socks, o); err != nil {
				t.Fatal(err)
			}
			if tw.String() != al.String() {
				t.Errorf("tablewriter:\n%s\nwriteAligned:\n%s", tw.String(), al.String())
			}
			if lines := bytes.Count(al.Bytes(), []byte("\n")); lines != len(socks)+btoi(o.header) {
				t.Errorf("%d lines, want %d", lines, len(socks)+btoi(o.header))
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestWriteJSONShape(t *testing.T) {
	l := inspect.Socket{Protocol: inspect.TCP, Family: inspect.INet6, State: inspect.Listen,
		Local: netip.MustParseAddrPort("[::1]:80"), Peer: netip.MustParseAddrPort("[::]:0"), Inode: 7}
	tests := []struct {
		name  string
		socks []inspect.Socket
		want  string
	}{
		{"empty", nil, "[]\n"},
		{"one", []inspect.Socket{l}, `[{"netid":"tcp","family":"inet6","state":"LISTEN","recv_q":0,"send_q":0,"local":{"addr":"::1","port":80},"peer":{"addr":"::","port":0},"uid":0,"inode":7}]` + "\n"},
		{"two", []inspect.Socket{l, l}, "[" + `{"netid":"tcp","family":"inet6","state":"LISTEN","recv_q":0,"send_q":0,"local":{"addr":"::1","port":80},"peer":{"addr":"::","port":0},"uid":0,"inode":7}` +
			",\n" + `{"netid":"tcp","family":"inet6","state":"LISTEN","recv_q":0,"send_q":0,"local":{"addr":"::1","port":80},"peer":{"addr":"::","port":0},"uid":0,"inode":7}` + "]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			o := newOutput("json", &b, view{})
			if err := o.sockets(tt.socks, tableOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := o.endList(tableOptions{}); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

// failingWriter fails every write after the first n.
type failingWriter struct{ n int }

func (w *failingWriter) Write(b []byte) (int, error) {
	if w.n == 0 {
		return 0, errWriteFailed
	}
	w.n--
	return len(b), nil
}

var errWriteFailed = errors.New("write failed")

// TestWriteAlignedBlocks writes a table of many blocks, formatted on
// several goroutines, and requires the rows in order, and a failed write
// to stop the writing with its error.
func TestWriteAlignedBlocks(t *testing.T) {
	const n = 10*1024 + 3
	socks := make([]inspect.Socket, n)
	for i := range socks {
		socks[i] = inspect.Socket{Protocol: inspect.TCP, State: inspect.Established, RecvQ: uint32(i),
			Local: netip.MustParseAddrPort("127.0.0.1:1"), Peer: netip.MustParseAddrPort("127.0.0.1:2"), Timer: inspect.TimerKeepalive}
	}
	for _, procs := range []int{1, 2, 4} {
		old := runtime.GOMAXPROCS(procs)
		var b bytes.Buffer
		if err := writeAligned(&b, socks, tableOptions{state: true, timers: true}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) != n {
			t.Fatalf("GOMAXPROCS %d: %d lines, want %d", procs, len(lines), n)
		}
		for i, l := range lines {
			if f := strings.Fields(l); len(f) < 2 || f[1] != strconv.Itoa(i) {
				t.Fatalf("GOMAXPROCS %d: line %d is %q", procs, i, l)
			}
		}
		if err := writeAligned(&failingWriter{n: 3}, socks, tableOptions{state: true}); !errors.Is(err, errWriteFailed) {
			t.Errorf("GOMAXPROCS %d: failing writer: %v", procs, err)
		}
		runtime.GOMAXPROCS(old)
	}
}

// TestKillError checks the one line -K prints for each refusal of
// SOCK_DESTROY that the user can act on, with the errno kept.
func TestKillError(t *testing.T) {
	for _, tt := range []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.EPERM, "ls: -K: closing sockets needs CAP_NET_ADMIN in their network namespace (run as root): inspect: destroy: operation not permitted"},
		{syscall.EOPNOTSUPP, "ls: -K: this kernel cannot close sockets (it was built without CONFIG_INET_DIAG_DESTROY): inspect: destroy: operation not supported"},
		{syscall.EINVAL, "ls: -K: inspect: destroy: invalid argument"},
	} {
		err := killError(fmt.Errorf("inspect: destroy: %w", tt.errno))
		if err.Error() != tt.want || !errors.Is(err, tt.errno) {
			t.Errorf("%v: %q, want %q wrapping the errno", tt.errno, err, tt.want)
		}
	}
	if killError(nil) != nil {
		t.Error("killError(nil) is not nil")
	}
}

// writeTablewriter writes the table with tablewriter, as ls did before
// writeAligned: the reference the aligned writer is held to.
func writeTablewriter(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithPadding(tw.Padding{Right: " ", Overwrite: true}),
	)
	if o.header {
		t.Header(o.headerCells()...)
	}
	var cells []string
	for i := range socks {
		cells = o.cells(cells[:0], &socks[i])
		row := make([]any, len(cells))
		for j, c := range cells {
			row[j] = c
		}
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}

// headerCells returns the header of the columns o shows.
func (o tableOptions) headerCells() []any {
	h := []any{"Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"}
	if o.state {
		h = append([]any{"State"}, h...)
	}
	if o.netid {
		h = append([]any{"Netid"}, h...)
	}
	if o.extended {
		h = append(h, "UID", "Inode", "Cookie")
	}
	return h
}

// cells appends the cells of s's row to dst.
func (o tableOptions) cells(dst []string, s *inspect.Socket) []string {
	if o.netid {
		dst = append(dst, s.Protocol.String())
	}
	if o.state {
		dst = append(dst, stateName(s, o.ssNames))
	}
	dst = append(dst, strconv.FormatUint(uint64(s.RecvQ), 10), strconv.FormatUint(uint64(s.SendQ), 10),
		endpoint(s.Local), endpoint(s.Peer))
	if o.extended {
		dst = append(dst, strconv.FormatUint(uint64(s.UID), 10), strconv.FormatUint(s.Inode, 10), cookieText(s.Cookie))
	}
	return dst
}

// TestAppendJSONSocket checks that the hand-written JSON of a socket is
// byte for byte what json.Encoder writes of newJSONSocket, and that the
// sockets it leaves to json.Encoder are those with a timer, memory or info
// to write.
func TestAppendJSONSocket(t *testing.T) {
	base := inspect.Socket{
		Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Established,
		Local: netip.MustParseAddrPort("127.0.0.1:5000"), Peer: netip.MustParseAddrPort("127.0.0.1:41234"),
		RecvQ: 7, SendQ: 4294967295, UID: 1000, Inode: 18446744073709551615, Cookie: 0xdeadbeef,
	}
	with := func(f func(*inspect.Socket)) inspect.Socket { s := base; f(&s); return s }
	tests := []struct {
		name  string
		sock  inspect.Socket
		procs []owners.Process
		opts  tableOptions
		hand  bool // written by appendJSONSocket
	}{
		{name: "established", sock: base, hand: true},
		{name: "no cookie", sock: with(func(s *inspect.Socket) { s.Cookie = 0 }), hand: true},
		{name: "listener, no peer", sock: with(func(s *inspect.Socket) { s.State, s.Peer = inspect.Listen, netip.AddrPort{} }), hand: true},
		{name: "udp unconn", sock: with(func(s *inspect.Socket) { s.Protocol, s.State = inspect.UDP, inspect.Close }), hand: true},
		{name: "ipv6", sock: with(func(s *inspect.Socket) {
			s.Family, s.Local, s.Peer = inspect.INet6, netip.MustParseAddrPort("[2001:db8::1]:443"), netip.MustParseAddrPort("[::ffff:10.0.0.1]:5")
		}), hand: true},
		{name: "zones to escape", sock: with(func(s *inspect.Socket) {
			s.Family, s.Local, s.Peer = inspect.INet6, netip.MustParseAddrPort(`[fe80::1%a"b<c>&\d]:1`), netip.MustParseAddrPort("[fe80::2%eth0]:2")
		}), hand: true},
		{name: "processes", sock: base, procs: []owners.Process{
			{PID: 1, Comm: "systemd", FD: 3},
			{PID: 42, Comm: "a \"q\" \\ <b>&\t\x01\x7f é \u2028 \xff", FD: 2147483647},
		}, opts: tableOptions{processes: [][]owners.Process{}}, hand: true},
		{name: "each character to escape", sock: base, procs: []owners.Process{
			{PID: 1, Comm: "<", FD: 1}, {PID: 1, Comm: ">", FD: 2}, {PID: 1, Comm: "&", FD: 3}, {PID: 1, Comm: `"`, FD: 4},
			{PID: 1, Comm: `\`, FD: 5}, {PID: 1, Comm: "\n", FD: 6}, {PID: 1, Comm: "\x7f", FD: 7}, {PID: 1, Comm: "é", FD: 8},
		}, hand: true},
		{name: "timers without one", sock: base, opts: tableOptions{timers: true}, hand: true},
		{name: "timer", sock: with(func(s *inspect.Socket) { s.Timer, s.Expires = inspect.TimerKeepalive, 1500*time.Millisecond }), opts: tableOptions{timers: true}},
		{name: "timer not asked for", sock: with(func(s *inspect.Socket) { s.Timer = inspect.TimerOn }), hand: true},
		{name: "memory", sock: with(func(s *inspect.Socket) { s.Memory = &inspect.Memory{RcvBuf: 1} }), opts: tableOptions{memory: true}},
		{name: "info", sock: with(func(s *inspect.Socket) { s.Info = &inspect.TCPInfo{} }), opts: tableOptions{info: true}},
		{name: "netns named", sock: with(func(s *inspect.Socket) { s.NetNS = 4026532281 }), opts: tableOptions{netns: fakeNamer{4026532281: {Name: `blue "<&>"`}}}, hand: true},
		{name: "netns of a container", sock: with(func(s *inspect.Socket) { s.NetNS = 4026532282 }), opts: tableOptions{netns: fakeNamer{4026532282: {Container: "pod:8dbc2f1e-7f7a-4b7e-9a50-2c1d3e4f5a6b"}}}, hand: true},
		{name: "netns unnamed", sock: with(func(s *inspect.Socket) { s.NetNS = 4026531840 }), opts: tableOptions{netns: fakeNamer{}}, hand: true},
		{name: "cgroup", sock: with(func(s *inspect.Socket) { s.CgroupID = 1 }), opts: tableOptions{cgroups: fakeCgroups(1, `/a "b"/<c>`, true, false)}, hand: true},
		{name: "no cgroup", sock: base, opts: tableOptions{cgroups: fakeCgroups(1, "/a", true, true)}, hand: true},
		{name: "container", sock: with(func(s *inspect.Socket) { s.CgroupID = 1 }), opts: tableOptions{cgroups: fakeCgroups(1, "/kubepods/pod8dbc2f1e-7f7a-4b7e-9a50-2c1d3e4f5a6b/"+strings.Repeat("ab", 32), true, true)}, hand: true},
		{name: "unit", sock: with(func(s *inspect.Socket) { s.CgroupID = 1 }), opts: tableOptions{cgroups: fakeCgroups(1, "/system.slice/sshd.service", false, true)}, hand: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(newJSONSocket(&tt.sock, tt.procs, &tt.opts)); err != nil {
				t.Fatal(err)
			}
			got, hand := appendJSONSocket([]byte("x"), &tt.sock, tt.procs, &tt.opts)
			if hand != tt.hand {
				t.Fatalf("appendJSONSocket wrote it: %v, want %v", hand, tt.hand)
			}
			if !hand {
				if string(got) != "x" {
					t.Errorf("appendJSONSocket appended %q to what it left to json.Encoder", got[1:])
				}
				return
			}
			if diff := cmp.Diff(strings.TrimSuffix(want.String(), "\n"), string(got[1:])); diff != "" {
				t.Errorf("(-json.Encoder +appendJSONSocket):\n%s", diff)
			}
		})
	}
}

// TestTimelinePrinter: the demo's text lines, an unobserved state marked
// as passed through, colours only on a terminal.
func TestTimelinePrinter(t *testing.T) {
	entries := []demo.Entry{
		{Elapsed: 902 * time.Millisecond, Kind: demo.EntryStep, Actor: "client", Text: "connect(127.0.0.1:7788)"},
		{Elapsed: 903 * time.Millisecond, Kind: demo.EntryState, Socket: demo.ServerConn, State: inspect.SynRecv},
		{Elapsed: 904 * time.Millisecond, Kind: demo.EntryState, Socket: demo.Client, State: inspect.Established, Observed: true},
	}
	var b bytes.Buffer
	p := &timelinePrinter{w: &b}
	for i := range entries {
		if err := p.print(&entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := "   902 ms  client       connect(127.0.0.1:7788)\n" +
		"   903 ms  server conn  SYN_RECV     passed through, not observed: " + demo.Meaning(inspect.SynRecv) + "\n" +
		"   904 ms  client       ESTABLISHED  " + demo.Meaning(inspect.Established) + "\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
}

// fakeNamer names namespaces from a map, for the Netns column.
type fakeNamer map[uint64]jsonNetNS

func (f fakeNamer) label(ino uint64) string {
	switch n := f[ino]; {
	case n.Name != "":
		return n.Name
	case n.Container != "":
		return n.Container
	}
	return fmt.Sprintf("net:[%d]", ino)
}

func (f fakeNamer) jsonOf(ino uint64) jsonNetNS {
	n := f[ino]
	n.Inode = ino
	return n
}

// fakeCgroups names cgroup id as path, with the columns given, without a
// cgroup2 mount.
func fakeCgroups(id uint64, path string, show, containers bool) *cgroupNames {
	pathOf := func(got uint64) string {
		if got != id {
			return fmt.Sprintf("unreachable:%x", got)
		}
		return path
	}
	return &cgroupNames{pathOf: pathOf, show: show, containers: containers, byID: map[uint64]containerName{}}
}
