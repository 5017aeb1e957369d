package cli

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestHeapBudget: ls turns pacing off under listHeapLimit, gives pacing
// back (GOGC 100, no limit) once a cycle finds more than half the limit
// live, and restores what it found.
func TestHeapBudget(t *testing.T) {
	b := newHeapBudget()
	if got := debug.SetMemoryLimit(-1); got != listHeapLimit {
		t.Errorf("memory limit %d, want %d", got, listHeapLimit)
	}
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("GC percent %d, want -1 (off)", got)
	}
	live := make([]byte, listHeapLimit)
	runtime.GC()
	b.check()
	runtime.KeepAlive(live)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit %d with %d bytes live, want none", got, len(live))
	}
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GC percent %d with %d bytes live, want 100", got, len(live))
	}
	b.restore()
	if got := debug.SetMemoryLimit(-1); got != b.limit {
		t.Errorf("memory limit %d after restore, want %d", got, b.limit)
	}
	if got := debug.SetGCPercent(b.gcPercent); got != b.gcPercent {
		t.Errorf("GC percent %d after restore, want %d", got, b.gcPercent)
	}
}
