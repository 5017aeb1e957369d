package procnet

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseUnix(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "unix", "net_unix"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ParseUnix(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// The first, the embryo (inode 0, padded) and the last lines of the
	// captured table; testdata/README.md says how it was made.
	if len(recs) != 12 {
		t.Fatalf("%d records, want 12", len(recs))
	}
	for _, tt := range []struct {
		i    int
		want UnixRecord
	}{
		{0, UnixRecord{RefCount: 2, Flags: UnixAcceptCon, Type: 1, St: UnixUnconnected, Inode: 3633805, Name: "/tmp/uxexp/ln.sock"}},
		{2, UnixRecord{RefCount: 3, Type: 1, St: UnixConnected, Inode: 3633806}},
		{9, UnixRecord{RefCount: 3, Type: 1, St: UnixConnecting, Inode: 0, Name: "/tmp/uxexp/ln.sock"}},
		{11, UnixRecord{RefCount: 3, Type: 2, St: UnixConnected, Inode: 3633809, Name: "@abs name"}},
	} {
		if diff := cmp.Diff(tt.want, recs[tt.i]); diff != "" {
			t.Errorf("record %d (-want +got)\n%s", tt.i, diff)
		}
	}
}

const unixHead = unixHeader + "\n"

func TestParseUnixNames(t *testing.T) {
	for _, tt := range []struct {
		name, table string
		want        []UnixRecord
	}{
		{"empty", unixHead, []UnixRecord{}},
		{"header with trailing space", unixHeader + " \n", []UnixRecord{}},
		{"leading space in a path", unixHead + "0000000000000000: 00000002 00000000 00000000 0001 01 7  /x y\n",
			[]UnixRecord{{RefCount: 2, Type: 1, St: 1, Inode: 7, Name: " /x y"}}},
		{"newline in a path", unixHead + "0000000000000000: 00000002 00000000 00000000 0002 01 7 /a\nb\n0000000000000000: 00000002 00000000 00000000 0002 01 8\n",
			[]UnixRecord{{RefCount: 2, Type: 2, St: 1, Inode: 7, Name: "/a\nb"}, {RefCount: 2, Type: 2, St: 1, Inode: 8}}},
		{"no final newline", unixHead + "0000000000000000: 00000002 00000000 00000000 0002 01 9",
			[]UnixRecord{{RefCount: 2, Type: 2, St: 1, Inode: 9}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := ParseUnix(strings.NewReader(tt.table))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, recs); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseUnixErrors(t *testing.T) {
	for _, tt := range []struct{ name, table string }{
		{"no header", "0000000000000000: 00000002 00000000 00000000 0002 01 9\n"},
		{"tcp header", header4},
		{"bad slot", unixHead + "zz: 00000002 00000000 00000000 0002 01 9\n"},
		{"short", unixHead + "0000000000000000: 00000002 00000000\n"},
		{"inode not decimal", unixHead + "0000000000000000: 00000002 00000000 00000000 0002 01 9a\n"},
		{"type too wide", unixHead + "0000000000000000: 00000002 00000000 00000000 00002 01 9\n"},
		{"lone space after inode", unixHead + "0000000000000000: 00000002 00000000 00000000 0002 01 9 \n"},
		{"continuation without a name", unixHead + "0000000000000000: 00000002 00000000 00000000 0002 01 9\nb\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := ParseUnix(strings.NewReader(tt.table))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
			if recs != nil {
				t.Errorf("%d records with the error", len(recs))
			}
		})
	}
}

func FuzzParseUnix(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "unix", "net_unix"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(unixHead + "0000000000000000: 00000002 00000000 00000000 0002 01 7 /a\nb\n"))
	f.Add([]byte(unixHead))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ParseUnix(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if recs != nil {
				t.Fatalf("%d records returned with error %v", len(recs), err)
			}
			return
		}
		names := 0
		for _, r := range recs {
			names += len(r.Name)
			for _, part := range strings.Split(r.Name, "\n") {
				if !bytes.Contains(data, []byte(part)) {
					t.Fatalf("name %q of %+v is not in the table", part, r)
				}
			}
		}
		if names > len(data) {
			t.Fatalf("names of %d bytes from %d", names, len(data))
		}
	})
}
