package cgroups

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sockstate/sockstate/internal/mountinfo"
)

// ErrNoCgroup2 is returned when no cgroup2 file system is mounted.
var ErrNoCgroup2 = errors.New("cgroups: no cgroup2 file system is mounted")

// ErrNoCgroup is wrapped by ID's error for a path that is not a cgroup.
var ErrNoCgroup = errors.New("no such cgroup")

// findMount returns the mount point of the first cgroup2 file system in
// mountinfo.
func findMount(r io.Reader) (string, error) {
	mounts, err := mountinfo.Parse(r)
	if err != nil {
		return "", fmt.Errorf("cgroups: %w", err)
	}
	for _, m := range mounts {
		if m.FSType == "cgroup2" {
			return m.Point, nil
		}
	}
	return "", ErrNoCgroup2
}

// Paths names cgroup v2 ids by their paths under the cgroup2 mount, as ss
// prints them: "/" for the root, "/system.slice/sshd.service" below it.
// It walks the mount the first time it is asked, and again, once per
// unknown id, when asked for an id it does not know (a cgroup made
// since). It is not safe for concurrent use.
type Paths struct {
	// Mount is the cgroup2 mount point.
	Mount string
	byID  map[uint64]string
	// missed holds the ids a walk did not find, so that each costs one
	// walk at most.
	missed map[uint64]bool
}

// Path returns the path of the cgroup of id, or, as ss prints it for a
// cgroup removed since (a socket may outlive its cgroup, or be passed to
// another), unreachable:ID in hex.
func (p *Paths) Path(id uint64) string {
	if path, ok := p.byID[id]; ok {
		return path
	}
	if p.byID == nil || !p.missed[id] {
		p.walk()
		if path, ok := p.byID[id]; ok {
			return path
		}
		if p.missed == nil {
			p.missed = map[uint64]bool{}
		}
		p.missed[id] = true
	}
	return "unreachable:" + strconv.FormatUint(id, 16)
}

// cgroupPath returns the path under mount of the directory dir, which is
// mount or below it.
func cgroupPath(mount, dir string) string {
	rel := strings.TrimPrefix(dir, mount)
	if rel == "" {
		return "/"
	}
	return rel
}
