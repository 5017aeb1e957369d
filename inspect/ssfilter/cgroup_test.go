package ssfilter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
)

// fakeCgroups resolves the paths of a map, as the cgroup2 mount would.
func fakeCgroups(ids map[string]uint64) Options {
	return Options{CgroupID: func(path string) (uint64, error) {
		if id, ok := ids[path]; ok {
			return id, nil
		}
		return 0, fmt.Errorf("cgroup %q: no such cgroup under /sys/fs/cgroup", path)
	}}
}

// TestCgroupCondition: "cgroup [=|!=] PATH" matches the sockets of that
// cgroup's id, and none below it, and compiles to
// INET_DIAG_BC_CGROUP_COND with the id, as ss compiles it.
func TestCgroupCondition(t *testing.T) {
	opts := fakeCgroups(map[string]uint64{"/a": 5, "b/c": 0x1122334455667788})
	tests := []struct {
		words   []string
		canon   string
		matches map[uint64]bool // cgroup id -> kept
	}{
		{[]string{"cgroup /a"}, "cgroup /a", map[uint64]bool{5: true, 6: false, 0: false}},
		{[]string{"cgroup", "=", "/a"}, "cgroup /a", map[uint64]bool{5: true, 6: false}},
		{[]string{"cgroup != /a"}, "not cgroup /a", map[uint64]bool{5: false, 6: true, 0: true}},
		{[]string{"cgroup /a or cgroup b/c"}, "cgroup /a or cgroup b/c", map[uint64]bool{5: true, 0x1122334455667788: true, 7: false}},
	}
	for _, tt := range tests {
		f, err := ParseWith(tt.words, opts)
		if err != nil {
			t.Fatalf("ParseWith(%q): %v", tt.words, err)
		}
		if got := f.String(); got != tt.canon {
			t.Errorf("ParseWith(%q) = %q, want %q", tt.words, got, tt.canon)
		}
		if !f.Cgroup() {
			t.Errorf("%q: Cgroup() = false", tt.words)
		}
		for id, want := range tt.matches {
			if got := f.Match(&inspect.Socket{CgroupID: id}); got != want {
				t.Errorf("%q on cgroup %d: %v, want %v", tt.words, id, got, want)
			}
		}
	}

	f, err := ParseWith([]string{"cgroup b/c"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := f.Bytecode(inspect.INet)
	if err != nil {
		t.Fatal(err)
	}
	// struct inet_diag_bc_op {code 13, yes 12, no 16}, then the u64 id,
	// all in native byte order.
	want := []byte{13, 12, 0, 0}
	binary.NativeEndian.PutUint16(want[2:], 16)
	want = binary.NativeEndian.AppendUint64(want, 0x1122334455667788)
	if diff := cmp.Diff(want, bc); diff != "" {
		t.Errorf("bytecode (-want +got):\n%s", diff)
	}
	if g, _ := Parse([]string{"sport = :1"}); g.Cgroup() {
		t.Error(`"sport = :1": Cgroup() = true`)
	}
}

func TestCgroupConditionErrors(t *testing.T) {
	opts := fakeCgroups(map[string]uint64{"/a": 5})
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"cgroup /nope"}, `filter: cgroup "/nope": no such cgroup under /sys/fs/cgroup at column 8`},
		{[]string{"cgroup > /a"}, `filter: cgroup compares only with "=" or "!=", not ">" at column 8`},
		{[]string{"sport = :1 and cgroup"}, `filter: expected a cgroup path after "cgroup", found end of input at column 22`},
	} {
		f, err := ParseWith(tt.words, opts)
		if !errors.Is(err, ErrSyntax) || f != nil {
			t.Fatalf("ParseWith(%q) = %v, %v; want an error wrapping ErrSyntax", tt.words, f, err)
		}
		if err.Error() != tt.want {
			t.Errorf("ParseWith(%q):\n got %s\nwant %s", tt.words, err, tt.want)
		}
	}
}
