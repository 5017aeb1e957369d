package trace

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"
)

// readLosses returns the records the full ring buffer refused, and the
// events both copies of the program missed: the primary's recursion
// misses that the backup did not count. The kernel counts a miss, then
// runs the backup, which counts it in the same tracepoint call: so it reads
// the misses first, and when they exceed the backup's count, which they do
// for the moment between the two, it reads the backup's count again once
// that moment is long past.
func (t *Tracer) readLosses() (drops, misses uint64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.released {
		return 0, 0, os.ErrClosed
	}
	return t.readLossesLocked()
}

// readLossesLocked is readLosses with mu held.
func (t *Tracer) readLossesLocked() (drops, misses uint64, err error) {
	stats, err := t.progs[0].Stats()
	if err != nil {
		return 0, 0, fmt.Errorf("program statistics: %w", err)
	}
	backups, err := t.readBackups()
	if err != nil {
		return 0, 0, err
	}
	if stats.RecursionMisses > backups {
		time.Sleep(missSettle)
		if backups, err = t.readBackups(); err != nil {
			return 0, 0, err
		}
	}
	if err := t.drops.Lookup(uint32(0), &drops); err != nil {
		return 0, 0, fmt.Errorf("drop counter: %w", err)
	}
	if stats.RecursionMisses > backups {
		misses = stats.RecursionMisses - backups
	}
	return drops, misses, nil
}

// missSettle is how long readLosses waits for the backup to count a miss
// the kernel counted: far longer than a tracepoint call, which runs with
// preemption off.
const missSettle = 10 * time.Millisecond

// readBackups returns the events the backup copy found the primary
// skipped, over all CPUs.
func (t *Tracer) readBackups() (uint64, error) {
	var claims [][claimSize]byte
	if err := t.claims.Lookup(uint32(0), &claims); err != nil {
		return 0, fmt.Errorf("claims: %w", err)
	}
	var backups uint64
	for _, c := range claims {
		backups += binary.NativeEndian.Uint64(c[claimBackup:])
	}
	return backups, nil
}
