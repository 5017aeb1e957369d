package owners

import (
	"testing"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
)

// BenchmarkOwners indexes a process table of 120,000 socket descriptors
// and joins it to a listing of 100,000 sockets in batches, as ls -p does at
// that size: every socket held once, and 20,000 descriptors of sockets
// outside the listing.
func BenchmarkOwners(b *testing.B) {
	const listed, extra = 100000, 20000
	socks := make([]inspect.Socket, listed)
	comms := map[int32]string{}
	var hits []fdHit
	for i := range socks {
		socks[i].Inode = uint64(3000000 + 2*i)
	}
	for i := range listed + extra {
		pid := int32(1000 + i/20000)
		comms[pid] = "helper"
		// Processes list their descriptors in another order than the
		// kernel lists sockets.
		hits = append(hits, fdHit{inode: uint64(3000000 + 2*((i*7919)%(listed+extra))), pid: pid, fd: int32(i % 20000)})
	}
	b.ReportAllocs()
	table := make([]fdHit, len(hits))
	for b.Loop() {
		// As ls does: index the table once, join it batch by batch. The
		// table is sorted in place: each round sorts a fresh copy.
		copy(table, hits)
		t := newProcessTable(table, comms, 0)
		for from := 0; from < listed; from += sockdiag.BatchSize {
			batch := socks[from:min(from+sockdiag.BatchSize, listed)]
			if owners := t.Owners(batch); len(owners) != len(batch) || len(owners[0]) != 1 {
				b.Fatal(len(owners))
			}
		}
	}
}
