package owners

import (
	"io"
	"strconv"
	"strings"
	"testing"
)

// FuzzSocketInode feeds socketInode descriptor link texts. It must never
// panic, and it must accept exactly "socket:[N]" with N a decimal uint64
// that strconv reads back to the same value.
func FuzzSocketInode(f *testing.F) {
	for _, s := range []string{"socket:[12345]", "socket:[]", "pipe:[1]", "socket:[18446744073709551615]", "socket:[18446744073709551616]", "socket:[-1]", "/dev/null"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		ino, ok := socketInode([]byte(link))
		digits, isSocket := strings.CutPrefix(link, "socket:[")
		digits, closed := strings.CutSuffix(digits, "]")
		want, err := strconv.ParseUint(digits, 10, 64)
		wantOK := isSocket && closed && err == nil && digits != "" && !strings.HasPrefix(digits, "+")
		if ok != wantOK || ok && ino != want {
			t.Fatalf("socketInode(%q) = %d, %v; want %d, %v", link, ino, ok, want, wantOK)
		}
	})
}

// FuzzDirentAt feeds direntAt arbitrary getdents buffers: it must never
// panic, and a record it returns lies within the buffer.
func FuzzDirentAt(f *testing.F) {
	rec := make([]byte, 24)
	rec[16] = 24
	copy(rec[19:], "123\x00")
	f.Add(rec)
	f.Add(rec[:18])
	f.Fuzz(func(t *testing.T, b []byte) {
		name, reclen := direntAt(b)
		if reclen == 0 {
			if name != nil {
				t.Fatalf("name %q without a record", name)
			}
			return
		}
		if reclen < direntName || reclen > len(b) || len(name) > reclen-direntName {
			t.Fatalf("record of %d bytes, name %q, in %d bytes", reclen, name, len(b))
		}
		if _, err := strconv.ParseUint(string(name), 10, 64); err == nil {
			if n, ok := parseDecimal(name); ok && strconv.FormatInt(n, 10) != strings.TrimLeft(string(name), "0") && n != 0 {
				t.Fatalf("parseDecimal(%q) = %d", name, n)
			}
		}
	})
}

// FuzzReadRecords feeds readRecords arbitrary iterator streams, cut at
// arbitrary points: it must never panic, it decodes a stream of whole
// records into one hit each, with a command entry for each process, and
// it refuses any other stream with no table.
func FuzzReadRecords(f *testing.F) {
	f.Add(make([]byte, 2*fdRecordSize), uint8(5))
	f.Add(make([]byte, fdRecordSize+3), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		hits, comms, err := readRecords(&cutReader{b: b, n: int(cut)%fdRecordSize + 1})
		if len(b)%fdRecordSize != 0 {
			if err == nil || hits != nil || comms != nil {
				t.Fatalf("%d bytes: %d records, error %v", len(b), len(hits), err)
			}
			return
		}
		if err != nil || len(hits) != len(b)/fdRecordSize {
			t.Fatalf("%d bytes: %d records, error %v", len(b), len(hits), err)
		}
		for _, h := range hits {
			if _, ok := comms[h.pid]; !ok {
				t.Fatalf("pid %d has no command entry", h.pid)
			}
		}
	})
}

// cutReader reads b at most n bytes at a time.
type cutReader struct {
	b []byte
	n int
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}
