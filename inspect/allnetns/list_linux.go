//go:build linux

package allnetns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netns"
)

// Stats says what became of the namespaces a listing was given.
type Stats struct {
	// Listed counts the namespaces listed.
	Listed int
	// Vanished counts those gone before they could be entered: their
	// last process ended or their bind mount was removed.
	Vanished int
	// Denied counts those that could not be entered, and DeniedErr is
	// the first reason.
	Denied    int
	DeniedErr error
}

// Each lists the sockets q selects in each namespace of nss, in order, with
// the source newSource returns for the namespace open at a descriptor, and
// hands them to fn in batches, each socket's NetNS set to the namespace's
// inode. fn's batch is reused once it returns, as with inspect.Each.
//
// A namespace is opened once and held while it is listed, so one that is
// gone by then is skipped (Stats.Vanished) and one that is listed stays
// whole. One that may not be opened or entered is counted in
// Stats.Denied. Any other error stops the listing; an ErrIncomplete
// listing of a namespace does not, and is returned at the end.
//
// The kernel's TCP tables are the host's, shared by every namespace, so
// each namespace's dump walks every socket of the host: GOMAXPROCS
// namespaces are listed at once, each handing fn one batch at a time, and
// fn sees them in order.
func Each(ctx context.Context, nss []Namespace, q inspect.Query, newSource func(nsFD int) inspect.Source,
	fn func(ns *Namespace, batch []inspect.Socket) error) (Stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make([]slot, len(nss))
	for i := range slots {
		slots[i] = slot{batches: make(chan []inspect.Socket), acks: make(chan error), done: make(chan struct{})}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(nss)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(nss) {
					return
				}
				slots[i].list(ctx, &nss[i], q, newSource)
			}
		})
	}
	defer wg.Wait()

	var st Stats
	var incomplete error
	for i := range nss {
		sl := &slots[i]
		for batch := range sl.batches {
			err := fn(&nss[i], batch)
			sl.acks <- err
			if err != nil {
				cancel()
				return st, err
			}
		}
		<-sl.done
		switch err := sl.err; {
		case err == nil:
			st.Listed++
		case errors.Is(err, errVanished):
			st.Vanished++
		case errors.Is(err, errDenied):
			st.Denied++
			if st.DeniedErr == nil {
				st.DeniedErr = err
			}
		case errors.Is(err, inspect.ErrIncomplete):
			st.Listed++
			if incomplete == nil {
				incomplete = err
			}
		default:
			cancel()
			return st, err
		}
	}
	return st, incomplete
}

// slot is one namespace's listing, run on a worker and handed to Each's
// caller a batch at a time: the worker sends a batch and waits for the
// caller's answer before reusing it.
type slot struct {
	batches chan []inspect.Socket
	acks    chan error
	done    chan struct{}
	err     error // set before done is closed
}

// list lists ns into the slot. It gives up when ctx is done, which Each
// cancels when it stops reading.
func (sl *slot) list(ctx context.Context, ns *Namespace, q inspect.Query, newSource func(nsFD int) inspect.Source) {
	defer close(sl.done)
	defer close(sl.batches)
	sl.err = InNamespace(ns, func(fd int) error {
		if holdsNone(fd, &q) {
			return nil
		}
		return inspect.Each(ctx, newSource(fd), q, func(batch []inspect.Socket) error {
			for j := range batch {
				batch[j].NetNS = ns.Inode
			}
			select {
			case sl.batches <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			return <-sl.acks
		})
	})
}

// InNamespace opens ns, checks that it is still the namespace of that
// inode (a /proc/PID path may have passed to another process), and calls
// fn with its descriptor, which it closes after. Its error wraps
// errVanished for a namespace that is gone, errDenied for one that may
// not be opened or entered, or is fn's.
//
// The caller's own namespace is not entered: fn gets 0, the descriptor
// sources take for it, as entering even one's own namespace needs
// CAP_SYS_ADMIN.
func InNamespace(ns *Namespace, fn func(fd int) error) error {
	if ns.Own {
		return fn(0)
	}
	f, err := netns.Open(ns.Path)
	if err != nil {
		return classifyOpen(ns, err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("allnetns: %s: %w", ns.Label(), err)
	}
	if st.Ino != ns.Inode {
		return fmt.Errorf("%s: %w", ns.Label(), errVanished)
	}
	err = fn(int(f.Fd()))
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%s: %w: %w", ns.Label(), errDenied, err)
	}
	return err
}

// classifyOpen returns netns.Open's error for ns as errVanished or
// errDenied where it is either.
func classifyOpen(ns *Namespace, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ESRCH), errors.Is(err, netns.ErrNotNetNS):
		// A removed bind mount leaves an ordinary file behind, or
		// none; a process that ended leaves no /proc entry.
		return fmt.Errorf("%s: %w", ns.Label(), errVanished)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: %w: %w", ns.Label(), errDenied, err)
	}
	return err
}
