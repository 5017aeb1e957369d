package owners

import (
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
