//go:build !linux

package cgroups

import (
	"fmt"
	"runtime"
)

// NewPaths returns Paths for the cgroup2 mount. cgroups exist on Linux
// only: elsewhere it returns an error.
func NewPaths() (*Paths, error) {
	return nil, fmt.Errorf("cgroups: cgroups are not available on %s", runtime.GOOS)
}

func (p *Paths) walk() {}

// ID returns the cgroup v2 id of the cgroup at path. Elsewhere than on
// Linux it returns an error.
func (p *Paths) ID(string) (uint64, error) {
	return 0, fmt.Errorf("cgroups: cgroups are not available on %s", runtime.GOOS)
}
