package procnet

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The files as Linux 6.18 prints them.
const (
	sockstat4 = `sockets: used 15
TCP: inuse 3 orphan 1 tw 2 alloc 80006 mem 256
UDP: inuse 1 mem 4
UDPLITE: inuse 0
RAW: inuse 5
FRAG: inuse 6 memory 7
`
	sockstat6 = `TCP6: inuse 8
UDP6: inuse 9
UDPLITE6: inuse 10
RAW6: inuse 11
FRAG6: inuse 12 memory 13
`
)

func TestParseSockstat(t *testing.T) {
	both := Sockstat{
		Sockets: 15,
		TCP:     SockstatCounts{InUse: 3, Orphan: 1, TW: 2, Alloc: 80006, Mem: 256},
		UDP:     SockstatCounts{InUse: 1, Mem: 4},
		RAW:     SockstatCounts{InUse: 5},
		FRAG:    SockstatCounts{InUse: 6, Memory: 7},
		TCP6:    SockstatCounts{InUse: 8}, UDP6: SockstatCounts{InUse: 9}, UDPLite6: SockstatCounts{InUse: 10},
		RAW6: SockstatCounts{InUse: 11}, FRAG6: SockstatCounts{InUse: 12, Memory: 13},
	}
	tests := []struct {
		name  string
		files []string
		want  Sockstat
	}{
		{name: "sockstat and sockstat6", files: []string{sockstat4, sockstat6}, want: both},
		{name: "sockstat6 first", files: []string{sockstat6, sockstat4}, want: both},
		{name: "empty", files: []string{""}, want: Sockstat{}},
		{name: "no trailing newline", files: []string{"TCP: inuse 3 tw 2"}, want: Sockstat{TCP: SockstatCounts{InUse: 3, TW: 2}}},
		{
			name:  "unknown protocols and keys are skipped",
			files: []string{"MPTCP: inuse 4\nTCP: inuse 3 pressure 1 tw 2\nsockets: used 7 spare 1\n"},
			want:  Sockstat{Sockets: 7, TCP: SockstatCounts{InUse: 3, TW: 2}},
		},
		{name: "blank lines and extra blanks", files: []string{"\nTCP:  inuse  3   tw 2  \n\n"}, want: Sockstat{TCP: SockstatCounts{InUse: 3, TW: 2}}},
		{name: "negative transient count", files: []string{"TCP: inuse 1 orphan -1\n"}, want: Sockstat{TCP: SockstatCounts{InUse: 1, Orphan: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Sockstat
			for _, f := range tt.files {
				if err := ParseSockstat(strings.NewReader(f), &got); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSockstatMalformed(t *testing.T) {
	tests := []struct{ name, in, msg string }{
		{"no colon", "TCP inuse 3\n", `procnet: sockstat line 1: "TCP inuse 3": no colon after the protocol`},
		{"key without value", "sockets: used 1\nTCP: inuse\n", `procnet: sockstat line 2: "TCP: inuse": key "inuse" has no value`},
		{"value not a number", "TCP: inuse three\n", `procnet: sockstat line 1: "TCP: inuse three": key "inuse": value "three" is not an integer`},
		{"value too large", "TCP: inuse 99999999999999999999\n", `procnet: sockstat line 1: "TCP: inuse 99999999999999999999": key "inuse": value "99999999999999999999" is not an integer`},
		{"unknown protocol still needs numbers", "NEW: inuse x\n", `procnet: sockstat line 1: "NEW: inuse x": key "inuse": value "x" is not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sockstat{Sockets: 42}
			err := ParseSockstat(strings.NewReader(tt.in), &got)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
			if !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("error %q, want it to start %q", err, tt.msg)
			}
			if got != (Sockstat{Sockets: 42}) {
				t.Errorf("the Sockstat changed on error: %+v", got)
			}
		})
	}
}

func TestReadSockstat(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFS(dir).ReadSockstat(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no sockstat: error %v, want fs.ErrNotExist", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "net", "sockstat"), []byte(sockstat4), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := NewFS(dir).ReadSockstat()
	if err != nil {
		t.Fatalf("sockstat without sockstat6 (no IPv6): %v", err)
	}
	if s.TCP.InUse != 3 || s.TCP6.InUse != 0 {
		t.Errorf("TCP inuse %d, TCP6 inuse %d; want 3, 0", s.TCP.InUse, s.TCP6.InUse)
	}
	if err := os.WriteFile(filepath.Join(dir, "net", "sockstat6"), []byte("TCP6: inuse x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFS(dir).ReadSockstat(); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "sockstat6 line 1") {
		t.Errorf("bad sockstat6: error %v, want ErrMalformed naming sockstat6", err)
	}
}

func FuzzParseSockstat(f *testing.F) {
	f.Add([]byte(sockstat4))
	f.Add([]byte(sockstat6))
	f.Add([]byte("TCP: inuse\n"))
	f.Add([]byte("sockets: used -1 used 2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		before := Sockstat{Sockets: 7}
		got := before
		err := ParseSockstat(strings.NewReader(string(data)), &got)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if got != before {
				t.Fatalf("partial result %+v with error %v", got, err)
			}
			return
		}
		// Every count set came from a line that names it.
		if got.TCP.TW != 0 && !strings.Contains(string(data), "tw") {
			t.Fatalf("TCP tw %d from input without \"tw\"", got.TCP.TW)
		}
		if got.Sockets != 7 && !strings.Contains(string(data), "used") {
			t.Fatalf("sockets %d from input without \"used\"", got.Sockets)
		}
	})
}
