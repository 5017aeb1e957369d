package cli

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
)

// listHeapLimit is the Go memory ls lets grow before the collector runs.
// A listing is built once, written and dropped, so most of what ls
// allocates is garbage a batch later, and at 100,000 sockets the
// collector's paced cycles cost a tenth of the run; never collecting
// left ls -xap's peak RSS at 80 MiB. With the collector run only near
// this limit, a small listing never collects and a large one collects
// a few times, its peak RSS the limit plus the binary's pages.
const listHeapLimit = 24 << 20

// heapBudget holds the collector to listHeapLimit while ls lists, and
// gives the runtime's pacing back when the live heap nears it: a live
// heap over the limit would have the collector running without end.
type heapBudget struct {
	gcPercent int
	limit     int64
	paced     bool
	live      []metrics.Sample
}

// newHeapBudget turns the collector's pacing off and sets the limit.
func newHeapBudget() *heapBudget {
	return &heapBudget{
		gcPercent: debug.SetGCPercent(-1),
		limit:     debug.SetMemoryLimit(listHeapLimit),
		live:      []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
	}
}

// check paces the collector again, with no limit, once the last cycle
// found more than half the limit live. Call it between batches.
func (b *heapBudget) check() {
	if b == nil || b.paced {
		return
	}
	metrics.Read(b.live)
	if b.live[0].Value.Kind() == metrics.KindUint64 && b.live[0].Value.Uint64() > listHeapLimit/2 {
		b.paced = true
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}
}

// restore sets the collector back as it was.
func (b *heapBudget) restore() {
	debug.SetMemoryLimit(b.limit)
	debug.SetGCPercent(b.gcPercent)
}
