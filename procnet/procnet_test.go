package procnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpRecords compares netip values with ==, as their fields are unexported.
var cmpRecords = cmpopts.EquateComparable(netip.AddrPort{})

// requireLittleEndian skips tests whose fixtures hold addresses as a
// little-endian kernel prints them; see the package doc.
func requireLittleEndian(t testing.TB) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("fixtures are little-endian kernel output; this host is big-endian")
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// The sockets in testdata/loopback, captured in a fresh network namespace
// (see testdata/README.md). Ports and inodes agree with ss.txt, which ss
// printed at the same moment.
var loopback = map[File][]Record{
	TCP: {
		{Local: ap("127.0.0.1:7788"), Remote: ap("0.0.0.0:0"), State: 0x0A, RxQueue: 1, Inode: 8494},
		{Local: ap("127.0.0.1:7788"), Remote: ap("127.0.0.1:58440"), State: 0x01},
		{Local: ap("127.0.0.1:7788"), Remote: ap("127.0.0.1:58422"), State: 0x01, RxQueue: 5, Inode: 8499},
		{Local: ap("127.0.0.1:39858"), Remote: ap("127.0.0.1:7790"), State: 0x01, Inode: 8512},
		{Local: ap("127.0.0.1:39860"), Remote: ap("127.0.0.1:7790"), State: 0x06, Timer: 3, TimerExpires: 5989},
		{Local: ap("127.0.0.1:39874"), Remote: ap("127.0.0.1:7790"), State: 0x01, Inode: 8516},
		{Local: ap("127.0.0.1:58422"), Remote: ap("127.0.0.1:7788"), State: 0x01, Inode: 8498},
		{Local: ap("127.0.0.1:58426"), Remote: ap("127.0.0.1:7788"), State: 0x06, Timer: 3, TimerExpires: 5979},
		{Local: ap("127.0.0.1:58440"), Remote: ap("127.0.0.1:7788"), State: 0x01, Inode: 8502},
	},
	TCP6: {
		{Local: ap("[::1]:7789"), Remote: ap("[::]:0"), State: 0x0A, RxQueue: 1, Inode: 8503},
		{Local: ap("[::]:7790"), Remote: ap("[::]:0"), State: 0x0A, RxQueue: 1, Inode: 8510},
		{Local: ap("[::1]:52294"), Remote: ap("[::1]:7789"), State: 0x01, Inode: 8505},
		{Local: ap("[::1]:52302"), Remote: ap("[::1]:7789"), State: 0x06, Timer: 3, TimerExpires: 5984},
		{Local: ap("[::1]:52318"), Remote: ap("[::1]:7789"), State: 0x01, Inode: 8509},
		{Local: ap("[::1]:7789"), Remote: ap("[::1]:52294"), State: 0x01, RxQueue: 5, Inode: 8506},
		{Local: ap("[::1]:7789"), Remote: ap("[::1]:52318"), State: 0x01},
		{Local: ap("[::ffff:127.0.0.1]:7790"), Remote: ap("[::ffff:127.0.0.1]:39858"), State: 0x01, RxQueue: 5, Inode: 8513},
		{Local: ap("[::ffff:127.0.0.1]:7790"), Remote: ap("[::ffff:127.0.0.1]:39874"), State: 0x01},
	},
	UDP: {
		{Local: ap("127.0.0.1:33733"), Remote: ap("127.0.0.1:9999"), State: 0x01, Inode: 8518},
		{Local: ap("127.0.0.1:9999"), Remote: ap("0.0.0.0:0"), State: 0x07, RxQueue: 832, Inode: 8517},
	},
	UDP6: {
		{Local: ap("[::1]:38989"), Remote: ap("[::1]:9998"), State: 0x01, Inode: 8520},
		{Local: ap("[::1]:9998"), Remote: ap("[::]:0"), State: 0x07, RxQueue: 832, Inode: 8519},
	},
}

func TestParseTestdata(t *testing.T) {
	requireLittleEndian(t)
	for _, f := range []File{TCP, TCP6, UDP, UDP6} {
		t.Run(string(f), func(t *testing.T) {
			file, err := os.Open(filepath.Join("testdata", "loopback", "net", string(f)))
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			got, err := Parse(file, f)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(loopback[f], got, cmpRecords); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFSRead(t *testing.T) {
	requireLittleEndian(t)
	fsys := NewFS(filepath.Join("testdata", "loopback"))
	for _, f := range []File{TCP, TCP6, UDP, UDP6} {
		t.Run(string(f), func(t *testing.T) {
			got, err := fsys.Read(f)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(loopback[f], got, cmpRecords); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFSReadMissing(t *testing.T) {
	got, err := NewFS(t.TempDir()).Read(TCP)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of an empty root: err = %v, want fs.ErrNotExist", err)
	}
	if got != nil {
		t.Errorf("Read of an empty root returned %v, want nil", got)
	}
}

func TestUnknownFile(t *testing.T) {
	const header = "  sl  local_address rem_address   st\n"
	for _, f := range []File{"", "icmp", "TCP", "../tcp"} {
		t.Run(fmt.Sprintf("%q", string(f)), func(t *testing.T) {
			want := fmt.Sprintf("procnet: unknown file %q", string(f))
			got, err := Parse(strings.NewReader(header), f)
			if err == nil || err.Error() != want || got != nil {
				t.Errorf("Parse(%q) = %v, %v; want nil, %s", string(f), got, err, want)
			}
			if errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q): %v wraps ErrMalformed; the table is fine, the name is not", string(f), err)
			}
			got, err = NewFS(filepath.Join("testdata", "loopback")).Read(f)
			if err == nil || err.Error() != want || got != nil {
				t.Errorf("Read(%q) = %v, %v; want nil, %s", string(f), got, err, want)
			}
		})
	}
}

const (
	header4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	header6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	// listen4 is a listener on 127.0.0.1:7788 as a little-endian kernel
	// prints it; listen6 the same on [::1]:7788.
	listen4 = "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0"
	listen6 = "   0: 00000000000000000000000001000000:1E6C 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0"
)

func TestParse(t *testing.T) {
	requireLittleEndian(t)
	listener4 := Record{Local: ap("127.0.0.1:7788"), Remote: ap("0.0.0.0:0"), State: 0x0A, Inode: 12345}
	listener6 := Record{Local: ap("[::1]:7788"), Remote: ap("[::]:0"), State: 0x0A, Inode: 12345}
	tests := []struct {
		name  string
		file  File
		input string
		want  []Record
	}{
		{
			name:  "header only",
			file:  TCP,
			input: header4,
			want:  []Record{},
		},
		{
			name:  "header without newline",
			file:  UDP6,
			input: strings.TrimSuffix(header6, "\n"),
			want:  []Record{},
		},
		{
			name:  "listener",
			file:  TCP,
			input: header4 + listen4 + "\n",
			want:  []Record{listener4},
		},
		{
			name:  "last line without newline",
			file:  TCP,
			input: header4 + listen4,
			want:  []Record{listener4},
		},
		{
			name:  "ipv6 listener",
			file:  TCP6,
			input: header6 + listen6 + "\n",
			want:  []Record{listener6},
		},
		{
			// 2001:db8::1 is the words 20010db8 0 0 00000001, each
			// printed as a little-endian integer; ports 0x01BB and 0xC350.
			name: "ipv6 address word order",
			file: UDP6,
			input: header6 +
				"  12: B80D0120000000000000000001000000:01BB B80D01200000000000000000FFFF0000:C350 01 00000000:00000000 00:00000000 00000000  1000        0 77 2 0000000000000000 0\n",
			want: []Record{{Local: ap("[2001:db8::1]:443"), Remote: ap("[2001:db8::ffff]:50000"), State: 0x01, UID: 1000, Inode: 77}},
		},
		{
			name: "exactly ten fields",
			file: TCP,
			input: header4 +
				"0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 12345\n",
			want: []Record{listener4},
		},
		{
			// A TIME_WAIT row ends after the socket pointer and has
			// inode 0; a udp row has a drops column.
			name: "time wait and drops columns",
			file: TCP,
			input: header4 +
				"   7: 0100007F:E43A 0100007F:1E6C 06 00000000:00000000 03:0000175B 00000000     0        0 0 3 00000000c9c6e793                                      \n",
			want: []Record{{Local: ap("127.0.0.1:58426"), Remote: ap("127.0.0.1:7788"), State: 0x06, Timer: 3, TimerExpires: 0x175B}},
		},
		{
			name: "every numeric field at its largest",
			file: TCP,
			input: header4 +
				"2147483647: FFFFFFFF:FFFF FFFFFFFF:FFFF 0C FFFFFFFF:FFFFFFFF FF:FFFFFFFFFFFFFFFF FFFFFFFF 4294967295 4294967295 18446744073709551615\n",
			want: []Record{{
				Local: ap("255.255.255.255:65535"), Remote: ap("255.255.255.255:65535"), State: 12,
				TxQueue: 1<<32 - 1, RxQueue: 1<<32 - 1, Timer: 0xFF, TimerExpires: 1<<64 - 1,
				Retransmits: 1<<32 - 1, UID: 1<<32 - 1, Timeout: 1<<32 - 1, Inode: 1<<64 - 1,
			}},
		},
		{
			name: "every field distinct",
			file: TCP,
			input: header4 +
				"   3: 0A00A8C0:0016 6400A8C0:D431 01 00000024:0000001B 01:0000002A 00000002  1001        3 4567 4 0000000000000000 20 4 30 10 -1\n",
			want: []Record{{
				Local: ap("192.168.0.10:22"), Remote: ap("192.168.0.100:54321"), State: 0x01,
				TxQueue: 0x24, RxQueue: 0x1B, Timer: 1, TimerExpires: 0x2A,
				Retransmits: 2, UID: 1001, Timeout: 3, Inode: 4567,
			}},
		},
		{
			name: "lower-case hex",
			file: TCP,
			input: header4 +
				"   0: 0a00a8c0:001a 00000000:0000 0a 0000000a:0000000b 0c:0000000d 0000000e     0        0 1\n",
			want: []Record{{
				Local: ap("192.168.0.10:26"), Remote: ap("0.0.0.0:0"), State: 0x0A,
				TxQueue: 10, RxQueue: 11, Timer: 12, TimerExpires: 13, Retransmits: 14, Inode: 1,
			}},
		},
		{
			name: "ipv4-mapped ipv6 stays mapped",
			file: TCP6,
			input: header6 +
				"   7: 0000000000000000FFFF00000100007F:1E6E 0000000000000000FFFF00000100007F:9BB2 01 00000000:00000005 00:00000000 00000000     0        0 8513 1 000000001f52a78a 20 4 30 10 -1\n",
			want: []Record{{Local: ap("[::ffff:127.0.0.1]:7790"), Remote: ap("[::ffff:127.0.0.1]:39858"), State: 0x01, RxQueue: 5, Inode: 8513}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.input), tt.file)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpRecords); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDuplicates(t *testing.T) {
	requireLittleEndian(t)
	const (
		// a and b are the two ends of one connection; a2 is a with
		// another sl, as when the kernel lists a socket again after
		// resuming its walk.
		a  = "   1: 0100007F:1E6C 0100007F:E436 01 00000000:00000005 00:00000000 00000000     0        0 8499 1 00000000d71e842b 20 4 30 10 -1"
		a2 = "   2: 0100007F:1E6C 0100007F:E436 01 00000000:00000005 00:00000000 00000000     0        0 8499 1 00000000d71e842b 20 4 30 10 -1"
		b  = "   3: 0100007F:E436 0100007F:1E6C 01 00000000:00000000 00:00000000 00000000     0        0 8498 1 00000000db311bc3 20 0 0 11 -1"
		// aMoved is a's socket with other contents (its queue was
		// read meanwhile): the same socket, but not the same row.
		aMoved = "   4: 0100007F:1E6C 0100007F:E436 01 00000000:00000000 00:00000000 00000000     0        0 8499 1 00000000d71e842b 20 4 30 10 -1"
		// aTail differs from a only after the ten fields Parse reads.
		aTail = "   1: 0100007F:1E6C 0100007F:E436 01 00000000:00000005 00:00000000 00000000     0        0 8499 2 00000000d71e842b 20 4 30 10 -1"
	)
	recA := Record{Local: ap("127.0.0.1:7788"), Remote: ap("127.0.0.1:58422"), State: 0x01, RxQueue: 5, Inode: 8499}
	recB := Record{Local: ap("127.0.0.1:58422"), Remote: ap("127.0.0.1:7788"), State: 0x01, Inode: 8498}
	recAMoved := Record{Local: ap("127.0.0.1:7788"), Remote: ap("127.0.0.1:58422"), State: 0x01, Inode: 8499}
	tests := []struct {
		name string
		rows []string
		want []Record
	}{
		{name: "no duplicates", rows: []string{a, b}, want: []Record{recA, recB}},
		{name: "same line twice", rows: []string{a, a, b}, want: []Record{recA, recB}},
		{name: "same row with another sl", rows: []string{a, a2, b}, want: []Record{recA, recB}},
		{name: "duplicate not adjacent", rows: []string{a, b, a2}, want: []Record{recA, recB}},
		{name: "many copies", rows: []string{b, a, a2, b, a, b}, want: []Record{recB, recA}},
		{name: "differs after the tenth field", rows: []string{a, aTail}, want: []Record{recA}},
		{name: "same socket with new contents is kept", rows: []string{a, aMoved, a2}, want: []Record{recA, recAMoved}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := header4 + strings.Join(tt.rows, "\n") + "\n"
			got, err := Parse(strings.NewReader(input), TCP)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpRecords); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	const good = "   1: 0100007F:1E6C 0100007F:E436 01 00000000:00000005 00:00000000 00000000     0        0 8499 1 0 20 4 30 10 -1"
	tests := []struct {
		name  string
		file  File
		input string
		// line and text are the line number and line the error must quote.
		line int
		text string
		// why is the part of the message that says what was wrong.
		why string
	}{
		{name: "empty file", file: TCP, input: "", line: 1, text: "", why: "missing header"},
		{name: "no header", file: TCP, input: good + "\n", line: 1, text: good, why: "missing header"},
		{name: "blank first line", file: TCP, input: "\n" + header4, line: 1, text: "", why: "missing header"},
		{name: "blank row", file: TCP, input: header4 + good + "\n\n" + good + "\n", line: 3, text: "", why: "0 fields, want at least 10"},
		{name: "nine fields", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0\n", line: 2, why: "9 fields, want at least 10"},
		{name: "sl without colon", file: TCP, input: header4 + "   0 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `sl "0": no colon`},
		{name: "sl not a number", file: TCP, input: header4 + "   x: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `sl "x:": bad number`},
		{name: "bad hex in address", file: TCP, input: header4 + "   0: 0100007G:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `local address "0100007G:1E6C": want 8 hex digits, colon, 4 hex digits`},
		{name: "bad hex in port", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:00x0 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `remote address "00000000:00x0"`},
		{name: "five digit port", file: TCP, input: header4 + "   0: 0100007F:01E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `local address "0100007F:01E6C"`},
		{name: "address without port", file: TCP, input: header4 + "   0: 0100007F1E6C0 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `local address "0100007F1E6C0"`},
		{name: "ipv6 address in tcp", file: TCP, input: header4 + listen6 + "\n", line: 2, text: listen6, why: `local address "00000000000000000000000001000000:1E6C": want 8 hex digits`},
		{name: "ipv4 address in tcp6", file: TCP6, input: header6 + listen4 + "\n", line: 2, text: listen4, why: `local address "0100007F:1E6C": want 32 hex digits`},
		{name: "ipv4 address in udp6", file: UDP6, input: header6 + listen6 + "\n" + listen4 + "\n", line: 3, text: listen4, why: `local address "0100007F:1E6C": want 32 hex digits`},
		{name: "remote of the other family", file: TCP6, input: header6 + "   0: 00000000000000000000000001000000:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `remote address "00000000:0000": want 32 hex digits`},
		{name: "state zero", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 00 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `state "00": out of range 1..12`},
		{name: "state 13", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0D 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `state "0D": out of range 1..12`},
		{name: "state with trailing garbage", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A0 00000000:00000000 00:00000000 00000000 0 0 1\n", line: 2, why: `state "0A0": bad hex`},
		{name: "queues without colon", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1\n", line: 2, why: `queues "0000000000000000"`},
		{name: "rx queue over 32 bits", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:100000000 00:00000000 00000000 0 0 1\n", line: 2, why: `queues "00000000:100000000"`},
		{name: "timer expiry over 64 bits", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:10000000000000000 00000000 0 0 1\n", line: 2, why: `timer "00:10000000000000000"`},
		{name: "timer with two colons", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:0000:0000 00000000 0 0 1\n", line: 2, why: `timer "00:0000:0000"`},
		{name: "bad retrnsmt", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 0000000Z 0 0 1\n", line: 2, why: `retrnsmt "0000000Z": bad hex`},
		{name: "negative uid", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 -1 0 1\n", line: 2, why: `uid "-1": bad number`},
		{name: "uid over 32 bits", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 4294967296 0 1\n", line: 2, why: `uid "4294967296": bad number`},
		{name: "hex timeout", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0A 1\n", line: 2, why: `timeout "0A": bad number`},
		{name: "inode with trailing garbage", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 12345x\n", line: 2, why: `inode "12345x": bad number`},
		{name: "inode over 64 bits", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 18446744073709551616\n", line: 2, why: `inode "18446744073709551616": bad number`},
		{name: "carriage return", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\r\n", line: 2, why: `inode "1\r": bad number`},
		{name: "tab separated", file: TCP, input: header4 + "   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000\t00:00000000 00000000 0 0 1 2\n", line: 2, why: `queues "00000000:00000000\t00:00000000"`},
		{name: "bad row after good rows", file: UDP, input: header4 + good + "\n" + good + "\n   2: junk\n", line: 4, text: "   2: junk", why: "2 fields, want at least 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.input), tt.file)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse: err = %v, want ErrMalformed", err)
			}
			if got != nil {
				t.Errorf("Parse returned %d records with its error, want nil", len(got))
			}
			text := tt.text
			if text == "" && tt.line > 1 {
				text = strings.Split(tt.input, "\n")[tt.line-1]
			}
			prefix := fmt.Sprintf("procnet: %s line %d: %q: ", tt.file, tt.line, text)
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.why) || !strings.HasSuffix(msg, ": malformed line") {
				t.Errorf("Parse error:\n%s\nwant prefix %s, containing %q", msg, prefix, tt.why)
			}
		})
	}
}

// TestUniqCollisions forces hash collisions, which real hashes make too
// rare to test through Parse.
func TestUniqCollisions(t *testing.T) {
	a := Record{Local: ap("127.0.0.1:1"), State: 1}
	b := Record{Local: ap("127.0.0.1:2"), State: 1}
	c := Record{Local: ap("127.0.0.1:3"), State: 1}
	d := Record{Local: ap("127.0.0.1:4"), State: 1}
	type add struct {
		rec  Record
		hash uint64
	}
	tests := []struct {
		name string
		adds []add
		want []Record
	}{
		{
			name: "same hash, different records",
			adds: []add{{a, 7}, {b, 7}, {c, 7}},
			want: []Record{a, b, c},
		},
		{
			name: "copies behind a collision",
			adds: []add{{a, 7}, {b, 7}, {c, 7}, {c, 7}, {b, 7}, {a, 7}},
			want: []Record{a, b, c},
		},
		{
			// b and c probe past 7 to keys 8 and 9, so d, whose
			// hash is 8, has to probe on to 10.
			name: "probing into the next hash",
			adds: []add{{a, 7}, {b, 7}, {c, 7}, {d, 8}, {d, 8}, {c, 7}},
			want: []Record{a, b, c, d},
		},
		{
			name: "wrap around",
			adds: []add{{a, 1<<64 - 1}, {b, 1<<64 - 1}, {c, 0}, {b, 1<<64 - 1}, {c, 0}},
			want: []Record{a, b, c},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := uniq{first: make(map[uint64]int32)}
			for _, ad := range tt.adds {
				u.add(ad.rec, ad.hash)
			}
			if diff := cmp.Diff(tt.want, u.recs, cmpRecords); diff != "" {
				t.Errorf("uniq mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
