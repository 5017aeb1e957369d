//go:build linux

package monoclock

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Mono reads CLOCK_MONOTONIC from Go's clock: clock_gettime(2) through
// golang.org/x/sys/unix is a system call each time, while a time.Time's
// monotonic reading comes from the vDSO and is CLOCK_MONOTONIC too, so
// one system call at the start relates the two. A hot loop (the tracer's
// reader, per record) then pays no system call.
type Mono struct {
	base time.Duration // CLOCK_MONOTONIC at or before at
	at   time.Time
}

// NewMono reads CLOCK_MONOTONIC, then Go's clock: At is then never ahead
// of the kernel's clock, behind it by at most the time between the two
// readings (the tightest of several tries).
func NewMono() (Mono, error) {
	var best Mono
	width := time.Duration(-1)
	for range samples {
		var ts, ts2 unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			return Mono{}, fmt.Errorf("monoclock: clock_gettime: %w", err)
		}
		at := time.Now()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts2); err != nil {
			return Mono{}, fmt.Errorf("monoclock: clock_gettime: %w", err)
		}
		if w := time.Duration(ts2.Nano() - ts.Nano()); width < 0 || w < width {
			best, width = Mono{base: time.Duration(ts.Nano()), at: at}, w
		}
	}
	return best, nil
}

// At returns CLOCK_MONOTONIC at t, a time.Time with a monotonic reading
// (from time.Now).
func (m Mono) At(t time.Time) time.Duration { return m.base + t.Sub(m.at) }
