package owners

import (
	"context"
	"fmt"

	"github.com/sockstate/sockstate/inspect"
)

// Cache names the processes that hold the sockets a watch reports. The
// model's events carry no owners (this package imports inspect), so the
// caller joins them: Owners returns each event's beside the batch, as
// ProcessTable.Owners does for a listing.
//
// A socket's owners are read from the process table when it is first seen
// with a file, by its inode, and kept by its key (the cookie, where the
// source has one) until it is gone: a change the kernel makes in softirq,
// or after the owner closed the socket, is still the owner's, never the
// task's that happened to run it nor pid 0. A socket seen without a file
// (a connection not yet accepted, TIME_WAIT) is looked up at its first
// event with one; one no process held when it was looked up stays unknown.
// Use one Cache per watch, from one goroutine.
type Cache struct {
	// Read reads the process table; nil means ReadProcessTable(ctx, "").
	Read func(ctx context.Context) (*ProcessTable, error)

	known map[inspect.Key][]Process
}

// Owners returns, for each event of batch, the descriptors that held its
// socket when it was first seen with a file: owners[i] is batch[i]'s, nil
// when not known (and for lost and unmatched events). It reads the
// process table once when a socket of the batch is seen with a file for
// the first time, and forgets the sockets gone.
func (c *Cache) Owners(ctx context.Context, batch []inspect.WatchEvent) ([][]Process, error) {
	if c.known == nil {
		c.known = map[inspect.Key][]Process{}
	}
	var need []inspect.Socket
	var keys []inspect.Key
	for i := range batch {
		e := &batch[i]
		if !socketEvent(e) || e.Socket.Inode == 0 {
			continue
		}
		k := inspect.KeyOf(&e.Socket)
		if _, ok := c.known[k]; ok {
			continue
		}
		// Asked: nil until the table answers, so a key is asked once
		// per batch.
		c.known[k] = nil
		need = append(need, e.Socket)
		keys = append(keys, k)
	}
	if len(need) > 0 {
		read := c.Read
		if read == nil {
			read = func(ctx context.Context) (*ProcessTable, error) { return ReadProcessTable(ctx, "") }
		}
		t, err := read(ctx)
		if err != nil {
			for _, k := range keys {
				delete(c.known, k)
			}
			return nil, fmt.Errorf("owners: %w", err)
		}
		for i, owners := range t.Owners(need) {
			c.known[keys[i]] = owners
		}
	}
	owners := make([][]Process, len(batch))
	for i := range batch {
		e := &batch[i]
		if !socketEvent(e) {
			continue
		}
		k := inspect.KeyOf(&e.Socket)
		owners[i] = c.known[k]
		if e.Kind == inspect.EventGone {
			delete(c.known, k)
		}
	}
	return owners, nil
}

// socketEvent reports whether e is about one socket (not a count of lost
// or unmatched reports).
func socketEvent(e *inspect.WatchEvent) bool {
	return e.Kind != inspect.EventLost && e.Kind != inspect.EventUnmatched
}
