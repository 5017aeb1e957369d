package cli

import (
	"errors"
	"fmt"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/cgroups"
)

// cgroupNames names sockets' cgroups by their paths under the cgroup2
// mount (ls --cgroup), remembering each id's.
type cgroupNames struct {
	paths *cgroups.Paths
}

// newCgroupNames finds the cgroup2 mount.
func newCgroupNames() (*cgroupNames, error) {
	p, err := cgroups.NewPaths()
	if err != nil {
		return nil, fmt.Errorf("ls: --cgroup: %w", err)
	}
	return &cgroupNames{paths: p}, nil
}

// path returns the path of the cgroup of id, as ss prints it; "" for id
// 0, which a socket without a cgroup (TIME_WAIT) has.
func (c *cgroupNames) path(id uint64) string {
	if id == 0 {
		return ""
	}
	return c.paths.Path(id)
}

// appendCgroup appends ss's " cgroup:PATH" to b; nothing for path "".
func appendCgroup(b []byte, path string) []byte {
	if path == "" {
		return b
	}
	return append(append(b, " cgroup:"...), path...)
}

// errProcNoCgroup is the refusal of --source proc to name cgroups.
var errProcNoCgroup = errors.New("ls: the /proc source has no cgroups (/proc/net/tcp does not say which cgroup a socket is in); use --source netlink")

// wantsCgroup reports whether the listing needs each socket's cgroup: for
// --cgroup, -C, or a cgroup condition in the filter.
func (o *lsOptions) wantsCgroup(q *inspect.Query) bool {
	type cgroupFilter interface{ Cgroup() bool }
	f, ok := q.Filter.(cgroupFilter)
	return o.cgroup || (ok && f.Cgroup())
}

// cgroupSource returns the source to use when the listing needs cgroups:
// sock_diag, as /proc has none.
func cgroupSource(name string) (string, error) {
	switch name {
	case "proc":
		return "", errProcNoCgroup
	case "auto":
		return "netlink", nil
	}
	return name, nil
}
