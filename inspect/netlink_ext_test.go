package inspect

import (
	"runtime"
	"testing"
	"time"
)

// TestExtPipelineOrderAndEnd pushes many chunks through the decoding
// pipeline, with one P so that the receiver runs far ahead of the decoder
// and chunks pile up, and requires every socket back in order, and finish
// to return.
func TestExtPipelineOrderAndEnd(t *testing.T) {
	for _, procs := range []int{1, 2} {
		old := runtime.GOMAXPROCS(procs)
		p := startExtPipeline(newExtDecoder(Query{Memory: true}), 0)
		const n = 40*chunkSockets + 7
		for i := range n {
			s := Socket{Inode: uint64(i)}
			p.add(&s, nil)
		}
		done := make(chan []Socket, 1)
		go func() {
			out, err := p.finish()
			if err != nil {
				t.Error(err)
			}
			done <- out
		}()
		select {
		case out := <-done:
			if len(out) != n {
				t.Fatalf("GOMAXPROCS %d: %d sockets back, want %d", procs, len(out), n)
			}
			for i := range out {
				if out[i].Inode != uint64(i) {
					t.Fatalf("GOMAXPROCS %d: socket %d is %d", procs, i, out[i].Inode)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("GOMAXPROCS %d: finish did not return", procs)
		}
		runtime.GOMAXPROCS(old)
	}
}
