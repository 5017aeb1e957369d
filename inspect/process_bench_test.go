package inspect

import "testing"

// BenchmarkOwners joins a process table of 120,000 socket descriptors to a
// listing of 100,000 sockets, as ls -p does at that size: every socket held
// once, and 20,000 descriptors of sockets outside the listing.
func BenchmarkOwners(b *testing.B) {
	const listed, extra = 100000, 20000
	socks := make([]Socket, listed)
	t := &ProcessTable{comms: map[int32]string{}}
	for i := range socks {
		socks[i].Inode = uint64(3000000 + 2*i)
	}
	for i := range listed + extra {
		pid := int32(1000 + i/20000)
		t.comms[pid] = "helper"
		// Processes list their descriptors in another order than the
		// kernel lists sockets.
		t.hits = append(t.hits, fdHit{inode: uint64(3000000 + 2*((i*7919)%(listed+extra))), pid: pid, fd: int32(i % 20000)})
	}
	b.ReportAllocs()
	for b.Loop() {
		owners := t.Owners(socks)
		if len(owners) != listed {
			b.Fatal(len(owners))
		}
	}
}
