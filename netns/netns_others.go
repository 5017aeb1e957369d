//go:build !linux

package netns

import (
	"fmt"
	"os"
	"runtime"
)

// Do runs fn in the namespace open at fd. Network namespaces exist on Linux
// only: elsewhere Do returns an error.
func Do(fd int, fn func() error) error {
	return fmt.Errorf("netns: network namespaces are not available on %s", runtime.GOOS)
}

// Open opens the network namespace file at path. Network namespaces exist
// on Linux only: elsewhere Open returns an error.
func Open(path string) (*os.File, error) {
	return nil, fmt.Errorf("netns: network namespaces are not available on %s", runtime.GOOS)
}
