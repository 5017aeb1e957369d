package owners

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
)

// TestCache: a socket's owners are read once, when it is first seen with
// a file, and kept for its later events, those without a file too (a
// change in softirq after the owner closed it), until it is gone; one no
// process held when it was looked up stays unknown, and a socket seen
// first without a file is looked up at its first event with one. Lost and
// unmatched events name no one.
func TestCache(t *testing.T) {
	hits := []fdHit{{inode: 11, pid: 42, fd: 3}, {inode: 13, pid: 42, fd: 4}, {inode: 13, pid: 7, fd: 5}}
	reads := 0
	c := &Cache{Read: func(context.Context) (*ProcessTable, error) {
		reads++
		return newProcessTable(hits, map[int32]string{42: "server", 7: "worker"}, 0), nil
	}}
	ev := func(kind inspect.EventKind, cookie, inode uint64) inspect.WatchEvent {
		return inspect.WatchEvent{Event: inspect.Event{Kind: kind, Socket: inspect.Socket{Protocol: inspect.TCP, Cookie: cookie, Inode: inode}}}
	}
	steps := [][]inspect.WatchEvent{
		{ev(inspect.EventNew, 1, 11), ev(inspect.EventNew, 2, 12), ev(inspect.EventNew, 3, 0)},
		{ev(inspect.EventChange, 1, 0), ev(inspect.EventChange, 2, 12), ev(inspect.EventChange, 3, 13)},
		{ev(inspect.EventGone, 1, 0), {Event: inspect.Event{Kind: inspect.EventLost}}, ev(inspect.EventGone, 3, 0)},
		{ev(inspect.EventNew, 1, 0), {Event: inspect.Event{Kind: inspect.EventUnmatched}}},
	}
	var got []string
	for _, batch := range steps {
		owners, err := c.Owners(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range batch {
			var names []string
			for _, p := range owners[i] {
				names = append(names, fmt.Sprintf("{%d %s %d}", p.PID, p.Comm, p.FD))
			}
			got = append(got, fmt.Sprintf("%s %d %v", e.Kind, e.Socket.Cookie, names))
		}
		got = append(got, fmt.Sprintf("reads %d", reads))
	}
	want := []string{
		"new 1 [{42 server 3}]", "new 2 []", "new 3 []", "reads 1",
		"change 1 [{42 server 3}]", "change 2 []", "change 3 [{7 worker 5} {42 server 4}]", "reads 2",
		"gone 1 [{42 server 3}]", "lost 0 []", "gone 3 [{7 worker 5} {42 server 4}]", "reads 2",
		"new 1 []", "unmatched 0 []", "reads 2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCacheReadError: a table that cannot be read fails the batch, and
// the sockets it asked about are asked again at their next event.
func TestCacheReadError(t *testing.T) {
	errDenied := errors.New("denied")
	fail := true
	c := &Cache{Read: func(context.Context) (*ProcessTable, error) {
		if fail {
			return nil, errDenied
		}
		return newProcessTable([]fdHit{{inode: 11, pid: 42, fd: 3}}, map[int32]string{42: "server"}, 0), nil
	}}
	batch := []inspect.WatchEvent{{Event: inspect.Event{Kind: inspect.EventNew, Socket: inspect.Socket{Cookie: 1, Inode: 11}}}}
	if _, err := c.Owners(context.Background(), batch); !errors.Is(err, errDenied) {
		t.Fatalf("Owners: %v, want %v", err, errDenied)
	}
	fail = false
	owners, err := c.Owners(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]Process{{{PID: 42, Comm: "server", FD: 3}}}, owners); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
