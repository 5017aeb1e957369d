//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// NewPaths returns Paths for the cgroup2 mount that /proc/self/mountinfo
// names.
func NewPaths() (*Paths, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	mount, err := findMount(f)
	if err != nil {
		return nil, err
	}
	return &Paths{Mount: mount}, nil
}

// walk maps the id of every cgroup under the mount to its path.
func (p *Paths) walk() {
	if p.byID == nil {
		p.byID = map[uint64]string{}
	}
	// A cgroup that goes while the walk reads it is left out: only
	// the error of the mount itself would stop it, and then the map
	// stays as it was.
	filepath.WalkDir(p.Mount, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			p.byID[st.Ino] = cgroupPath(p.Mount, path)
		}
		return nil
	})
}

// ID returns the cgroup v2 id of the cgroup at path, as ss's cgroup filter
// takes it: a path relative to the mount ("system.slice"), a file system
// path under the mount (/sys/fs/cgroup/unified/system.slice), or an
// absolute path as --cgroup prints it (/system.slice), which ss does not
// take. A path that is not a cgroup is an error wrapping ErrNoCgroup.
func (p *Paths) ID(path string) (uint64, error) {
	dir := path
	if !strings.HasPrefix(path, p.Mount+"/") && path != p.Mount {
		dir = filepath.Join(p.Mount, path)
	}
	if dir != p.Mount && !strings.HasPrefix(dir, p.Mount+"/") {
		return 0, fmt.Errorf("cgroups: cgroup %q: %w under %s", path, ErrNoCgroup, p.Mount)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return 0, fmt.Errorf("cgroups: cgroup %q: %w under %s", path, ErrNoCgroup, p.Mount)
		}
		return 0, fmt.Errorf("cgroups: cgroup %q: %w", path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return 0, fmt.Errorf("cgroups: cgroup %q: %w under %s", path, ErrNoCgroup, p.Mount)
	}
	return st.Ino, nil
}
