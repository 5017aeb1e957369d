package cli

import (
	"errors"
	"fmt"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/cgroups"
)

// cgroupNames names sockets' cgroups by their paths under the cgroup2
// mount (ls --cgroup), and their containers (ls -C), remembering each
// id's.
type cgroupNames struct {
	// pathOf names a cgroup id: cgroups.Paths.Path.
	pathOf func(id uint64) string
	// show prints each socket's cgroup (--cgroup); containers adds the
	// Container column (-C).
	show, containers bool
	byID             map[uint64]containerName
}

// containerName is a cgroup's container and its text in the Container
// column.
type containerName struct {
	c    cgroups.Container
	ok   bool
	text string
}

// newCgroupNames finds the cgroup2 mount.
func newCgroupNames(show, containers bool) (*cgroupNames, error) {
	p, err := cgroups.NewPaths()
	if err != nil {
		return nil, fmt.Errorf("ls: --cgroup: %w", err)
	}
	return &cgroupNames{pathOf: p.Path, show: show, containers: containers, byID: map[uint64]containerName{}}, nil
}

// path returns the path of the cgroup of id, as ss prints it; "" for id
// 0, which a socket without a cgroup (TIME_WAIT) has.
func (c *cgroupNames) path(id uint64) string {
	if id == 0 {
		return ""
	}
	return c.pathOf(id)
}

// container returns the container of the cgroup of id, as Recognize reads
// it from the path.
func (c *cgroupNames) container(id uint64) containerName {
	if n, ok := c.byID[id]; ok {
		return n
	}
	n := containerName{text: "-"}
	if id != 0 {
		n.c, n.ok = cgroups.Recognize(c.path(id))
	}
	switch {
	case n.c.ID != "" && n.c.PodUID != "":
		n.text = n.c.Runtime + ":" + n.c.Short() + ",pod:" + n.c.PodUID
	case n.c.ID != "":
		n.text = n.c.Runtime + ":" + n.c.Short()
	case n.c.Unit != "":
		n.text = "unit:" + n.c.Unit
	}
	c.byID[id] = n
	return n
}

// jsonContainer is a socket's "container" in JSON (ls -C -j).
type jsonContainer struct {
	Runtime string `json:"runtime,omitempty"`
	ID      string `json:"id,omitempty"`
	PodUID  string `json:"pod_uid,omitempty"`
	Unit    string `json:"unit,omitempty"`
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
	return o.cgroup || o.containers || (ok && f.Cgroup())
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

// appendJSONContainer appends ,"container":{...} as json.Encoder writes a
// jsonContainer of c.
func appendJSONContainer(b []byte, c *cgroups.Container) []byte {
	b = append(b, `,"container":{`...)
	start := len(b)
	for _, kv := range [...]struct{ k, v string }{{"runtime", c.Runtime}, {"id", c.ID}, {"pod_uid", c.PodUID}, {"unit", c.Unit}} {
		if kv.v == "" {
			continue
		}
		if len(b) > start {
			b = append(b, ',')
		}
		b = appendJSONString(append(append(append(b, '"'), kv.k...), `":`...), kv.v)
	}
	return append(b, '}')
}
