package inspect

import "time"

// NewTracker returns a Watcher's tracker of q, for the benchmarks outside
// the package, which poll the sources.
func NewTracker(q *Query) *tracker {
	return &tracker{q: q, since: map[Key]time.Time{}, seen: map[Key]time.Time{}}
}

// Step reports what changed from prev to next, as a Watcher's poll does.
func (t *tracker) Step(prev, next []Socket, at time.Time) []WatchEvent {
	batch, _ := t.step(prev, next, at, at, nil, nil)
	return batch
}
