//go:build linux

package allnetns

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sockstate/sockstate/netns"
)

// Index finds the host's network namespaces by inode, for a watch of
// every namespace that learns of one from a socket's event (the tracer):
// it names them, and opens them, discovering again when asked for an
// inode it does not know, at most once a second for the same inode.
type Index struct {
	// Discover finds the namespaces; nil means Discover("/proc").
	Discover func() (Found, error)

	mu      sync.Mutex
	byInode map[uint64]Namespace
	missed  map[uint64]time.Time // inodes a discovery did not find, and when
}

// missAgain is how long an inode a discovery did not find is taken as
// unknown before it is looked for again.
const missAgain = time.Second

// Namespace returns the namespace of inode, discovering the namespaces
// again if it is not known.
func (x *Index) Namespace(inode uint64) (Namespace, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.find(inode)
}

// find is Namespace, with mu held.
func (x *Index) find(inode uint64) (Namespace, bool) {
	if ns, ok := x.byInode[inode]; ok {
		return ns, true
	}
	if at, ok := x.missed[inode]; ok && time.Since(at) < missAgain {
		return Namespace{}, false
	}
	discover := x.Discover
	if discover == nil {
		discover = func() (Found, error) { return Discover("/proc") }
	}
	found, err := discover()
	if x.missed == nil {
		x.missed = map[uint64]time.Time{}
	}
	if err != nil {
		x.missed[inode] = time.Now()
		return Namespace{}, false
	}
	x.byInode = make(map[uint64]Namespace, len(found.Namespaces))
	for _, ns := range found.Namespaces {
		x.byInode[ns.Inode] = ns
		delete(x.missed, ns.Inode)
	}
	ns, ok := x.byInode[inode]
	if !ok {
		x.missed[inode] = time.Now()
	}
	return ns, ok
}

// Open opens the namespace of inode. Its error wraps fs.ErrNotExist (and
// errVanished) when no namespace of that inode is found, and
// fs.ErrPermission (and errDenied) when it may not be opened.
func (x *Index) Open(inode uint64) (*os.File, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if ns, ok := x.byInode[inode]; ok {
		f, err := openInode(&ns)
		if !Vanished(err) {
			return f, err
		}
		// The path led elsewhere: its process ended, its pid was
		// reused. The namespace may be held by another.
		delete(x.byInode, inode)
		delete(x.missed, inode)
	}
	ns, ok := x.find(inode)
	if !ok {
		return nil, fmt.Errorf("net:[%d]: %w", inode, errVanished)
	}
	return openInode(&ns)
}

// openInode opens ns and checks that it is still the namespace of its
// inode, as a /proc/PID path may have passed to another process.
func openInode(ns *Namespace) (*os.File, error) {
	f, err := netns.Open(ns.Path)
	if err != nil {
		return nil, classifyOpen(ns, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Ino != ns.Inode {
		f.Close()
		return nil, fmt.Errorf("%s: %w", ns.Label(), errVanished)
	}
	return f, nil
}
