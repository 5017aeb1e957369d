//go:build linux

package monoclock_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/monoclock"
)

// TestWallOffset: the offset orders a monotonic reading among wall
// readings 100 µs before and after it, the order the demo needs of a
// packet's stamp and a state change (tens of µs apart).
func TestWallOffset(t *testing.T) {
	off, err := monoclock.WallOffset()
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	for time.Since(before) < 100*time.Microsecond {
	}
	var m unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &m); err != nil {
		t.Fatal(err)
	}
	mark := time.Now()
	for time.Since(mark) < 100*time.Microsecond {
	}
	after := time.Now()
	if at := m.Nano() + off; at <= before.UnixNano() || at >= after.UnixNano() {
		t.Errorf("monotonic %d + offset %d = %d, not between %d and %d", m.Nano(), off, at, before.UnixNano(), after.UnixNano())
	}
}
