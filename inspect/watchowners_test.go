package inspect

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOwnerCache: a socket's owners are read once, when it is first seen
// with a file, and kept for its later events, those without a file too
// (a change in softirq after the owner closed it), until it is gone; one
// no process held when it was looked up stays unknown, and a socket seen
// first without a file is looked up at its first event with one.
func TestOwnerCache(t *testing.T) {
	hits := []fdHit{{inode: 11, pid: 42, fd: 3}, {inode: 13, pid: 42, fd: 4}, {inode: 13, pid: 7, fd: 5}}
	reads := 0
	c := &OwnerCache{Read: func(context.Context) (*ProcessTable, error) {
		reads++
		return newProcessTable(hits, map[int32]string{42: "server", 7: "worker"}, 0), nil
	}}
	ev := func(kind EventKind, cookie, inode uint64) WatchEvent {
		return WatchEvent{Event: Event{Kind: kind, Socket: Socket{Protocol: TCP, Cookie: cookie, Inode: inode}}}
	}
	steps := [][]WatchEvent{
		{ev(EventNew, 1, 11), ev(EventNew, 2, 12), ev(EventNew, 3, 0)},
		{ev(EventChange, 1, 0), ev(EventChange, 2, 12), ev(EventChange, 3, 13)},
		{ev(EventGone, 1, 0), {Event: Event{Kind: EventLost}}, ev(EventGone, 3, 0)},
		{ev(EventNew, 1, 0)},
	}
	var got []string
	for _, batch := range steps {
		if err := c.Annotate(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		for _, e := range batch {
			got = append(got, fmt.Sprintf("%s %d %v", e.Kind, e.Socket.Cookie, e.Processes))
		}
		got = append(got, fmt.Sprintf("reads %d", reads))
	}
	want := []string{
		"new 1 [{42 server 3}]", "new 2 []", "new 3 []", "reads 1",
		"change 1 [{42 server 3}]", "change 2 []", "change 3 [{7 worker 5} {42 server 4}]", "reads 2",
		"gone 1 [{42 server 3}]", "lost 0 []", "gone 3 [{7 worker 5} {42 server 4}]", "reads 2",
		"new 1 []", "reads 2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
