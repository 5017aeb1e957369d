package inspect

import (
	"context"
	"fmt"
)

// OwnerCache names the processes that hold the sockets a watch reports.
// A socket's owners are read from the process table (ReadProcessTable)
// when it is first seen with a file, by its inode, and kept by its key
// until it is gone: a change the kernel makes in softirq, or after the
// owner closed the socket, is still the owner's, never the task's that
// happened to run it. A socket seen without a file (a connection not yet
// accepted, TIME_WAIT) is looked up at its first event with one; one that
// no process held when it was looked up stays unknown. Use one OwnerCache
// per watch, from one goroutine.
type OwnerCache struct {
	// Read reads the process table; nil means ReadProcessTable(ctx, "").
	Read func(ctx context.Context) (*ProcessTable, error)
	// Skipped is, after each Annotate, the processes whose descriptors
	// the last table read could not read (another user's).
	Skipped int

	known map[Key][]Process
}

// Annotate sets the Processes of each event of batch whose socket's
// owners are known, reading the process table once if a socket in it is
// seen with a file for the first time, and forgets the sockets gone.
func (c *OwnerCache) Annotate(ctx context.Context, batch []WatchEvent) error {
	if c.known == nil {
		c.known = map[Key][]Process{}
	}
	var need []Socket
	var keys []Key
	var asked map[Key]bool
	for i := range batch {
		e := &batch[i]
		if e.Kind == EventLost || e.Kind == EventUnmatched || e.Socket.Inode == 0 {
			continue
		}
		k := KeyOf(&e.Socket)
		if _, ok := c.known[k]; ok || asked[k] {
			continue
		}
		if asked == nil {
			asked = map[Key]bool{}
		}
		asked[k] = true
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
			return fmt.Errorf("inspect: owners: %w", err)
		}
		c.Skipped = t.Skipped
		for i, owners := range t.Owners(need) {
			c.known[keys[i]] = owners
		}
	}
	for i := range batch {
		e := &batch[i]
		if e.Kind == EventLost || e.Kind == EventUnmatched {
			continue
		}
		k := KeyOf(&e.Socket)
		e.Processes = c.known[k]
		if e.Kind == EventGone {
			delete(c.known, k)
		}
	}
	return nil
}
