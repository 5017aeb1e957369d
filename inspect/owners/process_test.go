package owners

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
)

// TestProcessTableIndex: Owners over the sorted, bucketed index equals a
// scan of every descriptor, on tables whose inodes are dense, sparse,
// bunched (a block of new sockets far past a few old ones), at the ends
// of the range and at 0 and the largest inode, for inodes in the table,
// between its inodes and outside its range.
func TestProcessTableIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 3))
	tests := []struct {
		name  string
		inode func(i int) uint64
		n     int
	}{
		{"one", func(int) uint64 { return 7 }, 1},
		{"dense", func(i int) uint64 { return 1000 + uint64(i) }, 5000},
		{"sparse", func(int) uint64 { return rng.Uint64N(1 << 40) }, 3000},
		{"bunched", func(i int) uint64 {
			if i%100 == 0 {
				return 1 + uint64(i)
			}
			return 1<<33 + uint64(i)
		}, 4000},
		{"shared", func(i int) uint64 { return 500 + uint64(i%37) }, 2000},
		{"extremes", func(i int) uint64 { return []uint64{1, 1<<64 - 1, 1 << 63}[i%3] }, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits []fdHit
			comms := map[int32]string{}
			for i := range tt.n {
				pid := int32(100 + rng.IntN(20))
				comms[pid] = fmt.Sprint("p", pid)
				hits = append(hits, fdHit{inode: tt.inode(i), pid: pid, fd: int32(rng.IntN(1000))})
			}
			all := slices.Clone(hits)
			table := newProcessTable(hits, comms, 0)

			var socks []inspect.Socket
			for _, h := range all {
				for _, d := range []uint64{0, 1, 1<<64 - 1} {
					socks = append(socks, inspect.Socket{Inode: h.inode + d})
				}
			}
			socks = append(socks, inspect.Socket{Inode: 0}, inspect.Socket{Inode: 1<<64 - 1})
			got := table.Owners(socks)
			for i, s := range socks {
				var want []Process
				for _, h := range all {
					if s.Inode != 0 && h.inode == s.Inode {
						want = append(want, Process{PID: int(h.pid), Comm: comms[h.pid], FD: int(h.fd)})
					}
				}
				slices.SortFunc(want, func(a, b Process) int {
					if a.PID != b.PID {
						return a.PID - b.PID
					}
					return a.FD - b.FD
				})
				if diff := cmp.Diff(want, got[i]); diff != "" {
					t.Fatalf("inode %d (-want +got):\n%s", s.Inode, diff)
				}
			}
		})
	}
}

// TestProcessTableEmpty: a table of no descriptors names no one.
func TestProcessTableEmpty(t *testing.T) {
	got := newProcessTable(nil, nil, 3).Owners([]inspect.Socket{{Inode: 0}, {Inode: 5}})
	if diff := cmp.Diff([][]Process{nil, nil}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
