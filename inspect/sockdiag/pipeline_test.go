package sockdiag

import (
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// runPipeline pushes socks through a pipeline into a sink, marking a dump
// of both families around the sockets from hold on (hold < 0: none), and
// returns the inodes fn saw, in order, and finish's error.
func runPipeline(t *testing.T, socks []inspect.Socket, hold int, fn func([]inspect.Socket) error) ([]uint64, error) {
	t.Helper()
	var got []uint64
	k := newSink(inspect.Query{Memory: true}, func(batch []inspect.Socket) error {
		if len(batch) > BatchSize {
			t.Errorf("batch of %d", len(batch))
		}
		for _, s := range batch {
			got = append(got, s.Inode)
		}
		return fn(batch)
	}, 0)
	p := startPipeline(k)
	for i := range socks {
		if i == hold {
			p.mark(markHold)
		}
		if err := p.add(&socks[i], nil); err != nil {
			break
		}
	}
	if hold >= 0 {
		p.mark(markRelease)
	}
	done := make(chan error, 1)
	go func() { done <- p.finish() }()
	select {
	case err := <-done:
		return got, err
	case <-time.After(10 * time.Second):
		t.Fatal("finish did not return")
		return nil, nil
	}
}

// TestPipelineOrderAndEnd pushes many chunks through the pipeline, with
// one P so that the receiver runs far ahead and chunks pile up, and
// requires every socket in order and finish to return; IPv6 sockets of a
// dump of both families come after its IPv4 ones.
func TestPipelineOrderAndEnd(t *testing.T) {
	const n = 40*chunkSockets + 7
	socks := make([]inspect.Socket, n)
	var want4, want6 []uint64
	for i := range socks {
		socks[i] = inspect.Socket{Inode: uint64(i), Family: inspect.INet}
		if i >= 100 && i%3 == 0 {
			socks[i].Family = inspect.INet6
			want6 = append(want6, uint64(i))
		} else if i >= 100 {
			want4 = append(want4, uint64(i))
		}
	}
	var want []uint64
	for i := range 100 {
		want = append(want, uint64(i))
	}
	want = append(append(want, want4...), want6...)
	for _, procs := range []int{1, 2} {
		old := runtime.GOMAXPROCS(procs)
		got, err := runPipeline(t, socks, 100, func([]inspect.Socket) error { return nil })
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("GOMAXPROCS %d: %d sockets in another order than %d", procs, len(got), len(want))
		}
	}
}

// TestPipelineCallerError stops the listing with the caller's error, which
// must come back as it is.
func TestPipelineCallerError(t *testing.T) {
	errStop := errors.New("stop here")
	socks := make([]inspect.Socket, 3*BatchSize)
	for i := range socks {
		socks[i] = inspect.Socket{Inode: uint64(i), Local: netip.MustParseAddrPort("127.0.0.1:1")}
	}
	calls := 0
	got, err := runPipeline(t, socks, -1, func([]inspect.Socket) error {
		calls++
		return errStop
	})
	if err != errStop || calls != 1 || len(got) != BatchSize {
		t.Errorf("error %v after %d calls and %d sockets; want errStop after one batch", err, calls, len(got))
	}
}
