package monoclock_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/monoclock"
)

// TestMono: At is never ahead of the kernel's CLOCK_MONOTONIC read after
// it, never behind one read before the Mono was made, and moves exactly
// as Go's clock does.
func TestMono(t *testing.T) {
	mono := func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ts.Nano())
	}
	before := mono()
	m, err := monoclock.NewMono()
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		t1 := time.Now()
		got := m.At(t1)
		after := mono()
		if got > after || got < before {
			t.Fatalf("At = %v, want it within [%v, %v], the kernel's readings around it", got, before, after)
		}
		t2 := time.Now()
		if d := m.At(t2) - got; d != t2.Sub(t1) {
			t.Fatalf("At moved %v where Go's clock moved %v", d, t2.Sub(t1))
		}
	}
}
