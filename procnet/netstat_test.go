package procnet

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNetstat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Netstat
	}{
		{
			name: "two groups",
			in:   "TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4\nIpExt: InOctets\nIpExt: 92629641\n",
			want: Netstat{"TcpExt": {"ListenOverflows": 3, "ListenDrops": 4}, "IpExt": {"InOctets": 92629641}},
		},
		{
			name: "snmp's negative MaxConn, no final newline",
			in:   "Tcp: RtoAlgorithm MaxConn\nTcp: 1 -1",
			want: Netstat{"Tcp": {"RtoAlgorithm": 1, "MaxConn": -1}},
		},
		{
			name: "a group without counters",
			in:   "MPTcpExt:\nMPTcpExt:\n",
			want: Netstat{"MPTcpExt": {}},
		},
		{name: "empty", in: "", want: Netstat{}},
		{name: "trailing blank lines", in: "A: x\nA: 1\n\n\n", want: Netstat{"A": {"x": 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNetstat(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseNetstatMalformed(t *testing.T) {
	tests := []struct{ name, in, quote string }{
		{"more names than values", "TcpExt: A B\nTcpExt: 1\n", "name \"B\" has no value"},
		{"more values than names", "TcpExt: A\nTcpExt: 1 2\n", "value \"2\" has no name"},
		{"no values line", "TcpExt: A\n", "the values line is of group \"\""},
		{"groups differ", "TcpExt: A\nIpExt: 1\n", "the values line is of group \"IpExt:\""},
		{"no colon", "TcpExt A\nTcpExt 1\n", "no group name with a colon"},
		{"not a number", "TcpExt: A\nTcpExt: 0x1\n", "A: value \"0x1\" is not an integer"},
		{"group repeated", "A: x\nA: 1\nA: y\nA: 2\n", "group A repeated"},
		{"name repeated", "A: x x\nA: 1 2\n", "name \"x\" repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNetstat(strings.NewReader(tt.in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.quote) {
				t.Errorf("error %q does not say %q", err, tt.quote)
			}
			if got != nil {
				t.Errorf("got %v with the error", got)
			}
		})
	}
}

// TestParseNetstatCaptured parses the files captured in testdata/netstat
// and the running kernel's, which must have the listen counters.
func TestParseNetstatCaptured(t *testing.T) {
	for _, path := range []string{"testdata/netstat/netstat", "testdata/netstat/snmp"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := ParseNetstat(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if groups := bytes.Count(b, []byte{'\n'}) / 2; len(n) != groups {
			t.Errorf("%s: %d groups, want %d", path, len(n), groups)
		}
	}
	n, err := NewFS("/proc/thread-self").ReadNetstat()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ListenOverflows", "ListenDrops"} {
		if _, ok := n.Get("TcpExt", name); !ok {
			t.Errorf("/proc/thread-self/net/netstat has no TcpExt %s", name)
		}
	}
	_, err = NewFS(t.TempDir()).ReadNetstat()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reading a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi uint16
		err    bool
	}{
		{in: "32768\t60999\n", lo: 32768, hi: 60999},
		{in: "1024 1024", lo: 1024, hi: 1024},
		{in: "0 65535\n", lo: 0, hi: 65535},
		{in: "60999\t32768\n", err: true},
		{in: "32768\n", err: true},
		{in: "1 2 3\n", err: true},
		{in: "1 65536\n", err: true},
		{in: "-1 5\n", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		lo, hi, err := ParsePortRange(strings.NewReader(tt.in))
		switch {
		case tt.err && !errors.Is(err, ErrMalformed):
			t.Errorf("%q: error %v, want ErrMalformed", tt.in, err)
		case !tt.err && err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case !tt.err && (lo != tt.lo || hi != tt.hi):
			t.Errorf("%q: %d-%d, want %d-%d", tt.in, lo, hi, tt.lo, tt.hi)
		}
	}
	f, err := os.Open(filepath.Join("/proc/sys/net/ipv4/ip_local_port_range"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := ParsePortRange(f); err != nil {
		t.Errorf("the running kernel's: %v", err)
	}
}

func FuzzNetstat(f *testing.F) {
	for _, path := range []string{"testdata/netstat/netstat", "testdata/netstat/snmp"} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("TcpExt: A B\nTcpExt: 1 2\n"))
	f.Add([]byte("A:\nA:\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseNetstat(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if n != nil {
				t.Fatalf("%v returned with error %v", n, err)
			}
			return
		}
		counters := 0
		for g, c := range n {
			if g == "" || strings.ContainsAny(g, " \n") {
				t.Fatalf("group %q", g)
			}
			counters += len(c)
		}
		if lines := bytes.Count(data, []byte{'\n'}) + 1; len(n)*2 > lines+1 {
			t.Fatalf("%d groups from %d lines", len(n), lines)
		}
		if fields := len(bytes.Fields(data)); counters*2+len(n)*2 > fields {
			t.Fatalf("%d counters in %d groups from %d fields", counters, len(n), fields)
		}
	})
}

func FuzzPortRange(f *testing.F) {
	f.Add([]byte("32768\t60999\n"))
	f.Add([]byte("1 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lo, hi, err := ParsePortRange(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if lo != 0 || hi != 0 {
				t.Fatalf("%d-%d returned with error %v", lo, hi, err)
			}
			return
		}
		if lo > hi {
			t.Fatalf("%d-%d from %q", lo, hi, data)
		}
	})
}
