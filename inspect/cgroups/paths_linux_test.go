package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestPaths makes a cgroup, resolves its path to an id and back, in each
// form ID takes, and names an id no cgroup has as ss does.
func TestPaths(t *testing.T) {
	p, err := NewPaths()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("sockstate-test-paths-%d", os.Getpid())
	dir := filepath.Join(p.Mount, name)
	// Paths walks once first: the cgroup made after is found by the walk
	// a miss makes.
	root, err := p.ID("/")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Path(root); got != "/" {
		t.Errorf("Path(root) = %q, want /", got)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	var ids []uint64
	for _, path := range []string{"/" + name, name, dir} {
		id, err := p.ID(path)
		if err != nil {
			t.Fatalf("ID(%q): %v", path, err)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || ids[0] == root {
		t.Fatalf("ids %v of one cgroup, root %d", ids, root)
	}
	if got := p.Path(ids[0]); got != "/"+name {
		t.Errorf("Path(%d) = %q, want /%s", ids[0], got, name)
	}
	for _, path := range []string{"/no-such-cgroup", "cgroup.procs", "../../etc"} {
		if _, err := p.ID(path); !errors.Is(err, ErrNoCgroup) {
			t.Errorf("ID(%q): %v, want ErrNoCgroup", path, err)
		}
	}
	if got := p.Path(0xdead00000001); got != "unreachable:dead00000001" {
		t.Errorf("Path of no cgroup = %q", got)
	}
}
