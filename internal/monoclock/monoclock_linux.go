//go:build linux

package monoclock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// samples is how many readings WallOffset takes to keep the tightest.
const samples = 16

// WallOffset returns CLOCK_REALTIME minus CLOCK_MONOTONIC in nanoseconds.
// It reads the wall clock between two monotonic readings and sets it
// against their middle, keeping the tightest of several tries: a
// preemption between two readings (a loaded machine, the race detector)
// would otherwise shift the offset by as long as it lasted. The offset
// changes only when the wall clock is stepped: NTP's slewing moves both
// clocks alike.
func WallOffset() (int64, error) {
	best, width := int64(0), int64(-1)
	for range samples {
		var m1, r, m2 unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1); err != nil {
			return 0, fmt.Errorf("monoclock: clock_gettime: %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &r); err != nil {
			return 0, fmt.Errorf("monoclock: clock_gettime: %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2); err != nil {
			return 0, fmt.Errorf("monoclock: clock_gettime: %w", err)
		}
		if w := m2.Nano() - m1.Nano(); width < 0 || w < width {
			best, width = r.Nano()-(m1.Nano()+w/2), w
		}
	}
	return best, nil
}
