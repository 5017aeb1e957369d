//go:build !linux

package monoclock

import (
	"fmt"
	"runtime"
)

// WallOffset returns an error: the clocks are Linux's.
func WallOffset() (int64, error) {
	return 0, fmt.Errorf("monoclock: CLOCK_MONOTONIC's offset needs Linux, not %s", runtime.GOOS)
}
