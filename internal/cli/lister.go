package cli

import (
	"context"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
	"github.com/sockstate/sockstate/inspect/sockdiag"
)

// lister writes a listing with the processes holding each socket (-p). It
// reads every process's descriptors while the kernel lists the sockets:
// the two are independent and each takes the kernel a while. Batches
// that come before the process table is read are kept, copied, rather
// than waited on, so that the kernel goes on listing meanwhile, up to
// maxPending sockets: copies of a whole listing were a fifth of ls -xap's
// memory at 100,000 sockets, and waiting after a few batches costs no time.
type lister struct {
	ctx context.Context
	out output
	o   tableOptions
	// names names hosts and ports for -r; peers says to name the
	// processes holding unix sockets' peers.
	names   *names
	peers   bool
	threads bool
	read    chan processTableResult
	table   *owners.ProcessTable
	pending [][]inspect.Socket
	// npending counts the sockets in pending.
	npending int
}

// maxPending is the most sockets a lister keeps while the process table
// is read.
const maxPending = 4 * sockdiag.BatchSize

type processTableResult struct {
	table *owners.ProcessTable
	err   error
}

// newLister starts reading the process table.
func newLister(ctx context.Context, out output, o tableOptions) *lister {
	l := &lister{ctx: ctx, out: out, o: o, read: make(chan processTableResult, 1)}
	go func() {
		t, err := owners.ReadProcessTable(ctx, "")
		l.read <- processTableResult{t, err}
	}()
	return l
}

// write writes a batch of sockets with their processes, or keeps a copy
// until the process table is read.
func (l *lister) write(batch []inspect.Socket) error {
	if err := l.withTable(l.npending+len(batch) > maxPending); err != nil {
		return err
	}
	if l.table == nil {
		l.pending = append(l.pending, cloneSockets(batch))
		l.npending += len(batch)
		return nil
	}
	return l.out.sockets(batch, l.options(batch))
}

// finish writes the batches kept, waiting for the process table if any
// were.
func (l *lister) finish() error {
	if len(l.pending) == 0 {
		return nil
	}
	return l.withTable(true)
}

// skipped is how many processes the table could not read; 0 if it was
// not needed.
func (l *lister) skipped() int {
	if l == nil || l.table == nil {
		return 0
	}
	return l.table.Skipped
}

// withTable takes the process table if it has been read, or waits for it,
// and writes the batches kept.
func (l *lister) withTable(wait bool) error {
	if l.table != nil {
		return nil
	}
	var r processTableResult
	if wait {
		r = <-l.read
	} else {
		select {
		case r = <-l.read:
		default:
			return nil
		}
	}
	if r.err != nil {
		return r.err
	}
	l.table = r.table
	for _, p := range l.pending {
		if err := l.out.sockets(p, l.options(p)); err != nil {
			return err
		}
	}
	l.pending, l.npending = nil, 0
	return nil
}

// options returns the table options of batch: its processes, its unix
// peers' processes and its names.
func (l *lister) options(batch []inspect.Socket) tableOptions {
	o := withNames(l.ctx, l.o, l.names, batch)
	setOwners(&o, l.table, batch, l.peers, l.threads)
	return o
}
