//go:build linux

package allnetns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/sockstate/sockstate/inspect"
)

// Poller polls every network namespace of the host: each poll finds the
// namespaces again, keeps one poll of NewSource's source per namespace
// (its sock_diag socket and buffers) while the namespace lasts, holding
// the namespace open, and drops it when the namespace is gone. Sockets
// are tagged with their namespace's inode.
type Poller struct {
	// NewSource returns the source of the namespace open at nsFD (0: the
	// caller's).
	NewSource func(nsFD int) inspect.Source
	// Discover finds the namespaces; nil means Discover("/proc").
	Discover func() (Found, error)
	// Denied, when set, is called for each namespace that cannot be
	// entered, once, when it is first found.
	Denied func(ns *Namespace, err error)

	mu     sync.Mutex
	labels map[uint64]*Namespace // the namespaces of the last poll
}

var _ inspect.Poller = (*Poller)(nil)

// Sockets lists every namespace once.
func (p *Poller) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	poll := p.NewPoll()
	defer poll.Close()
	return poll.Poll(ctx, q, nil)
}

// NewPoll returns a poll of every namespace.
func (p *Poller) NewPoll() inspect.Poll {
	return &multiPoll{p: p, byInode: map[uint64]*nsPoll{}, denied: map[uint64]bool{}}
}

// Namespace returns the namespace of inode as the last poll found it.
func (p *Poller) Namespace(inode uint64) (Namespace, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ns, ok := p.labels[inode]
	if !ok {
		return Namespace{}, false
	}
	return *ns, true
}

// nsPoll is one namespace's poll and the descriptor that holds it.
type nsPoll struct {
	ns   Namespace
	f    *os.File // nil for the caller's own namespace
	poll inspect.Poll
	buf  []inspect.Socket
}

func (n *nsPoll) close() {
	n.poll.Close()
	if n.f != nil {
		n.f.Close()
	}
}

type multiPoll struct {
	p       *Poller
	byInode map[uint64]*nsPoll
	denied  map[uint64]bool
}

func (m *multiPoll) Poll(ctx context.Context, q inspect.Query, dst []inspect.Socket) ([]inspect.Socket, error) {
	discover := m.p.Discover
	if discover == nil {
		discover = func() (Found, error) { return Discover("/proc") }
	}
	found, err := discover()
	if err != nil {
		return dst[:0], err
	}
	seen := map[uint64]*Namespace{}
	for i := range found.Namespaces {
		ns := &found.Namespaces[i]
		seen[ns.Inode] = ns
		if _, ok := m.byInode[ns.Inode]; ok || m.denied[ns.Inode] {
			continue
		}
		n, err := m.open(ns)
		switch {
		case err == nil:
			m.byInode[ns.Inode] = n
		case Vanished(err):
		case Denied(err):
			m.denied[ns.Inode] = true
			if m.p.Denied != nil {
				m.p.Denied(ns, err)
			}
		default:
			return dst[:0], err
		}
	}
	for ino, n := range m.byInode {
		if seen[ino] == nil {
			n.close()
			delete(m.byInode, ino)
		}
	}
	m.p.mu.Lock()
	m.p.labels = seen
	m.p.mu.Unlock()

	dst = dst[:0]
	var incomplete error
	for i := range found.Namespaces {
		n := m.byInode[found.Namespaces[i].Inode]
		if n == nil {
			continue
		}
		socks, err := n.poll.Poll(ctx, q, n.buf)
		n.buf = socks
		switch {
		case err == nil:
		case errors.Is(err, inspect.ErrIncomplete):
			incomplete = err
		case errors.Is(err, os.ErrPermission):
			// A poll enters its namespace at its first Poll, to open
			// its sock_diag socket: one that may not be entered is
			// dropped, and said once.
			n.close()
			delete(m.byInode, n.ns.Inode)
			m.denied[n.ns.Inode] = true
			if m.p.Denied != nil {
				m.p.Denied(&n.ns, fmt.Errorf("%s: %w: %w", n.ns.Label(), errDenied, err))
			}
			continue
		default:
			return dst, fmt.Errorf("%s: %w", n.ns.Label(), err)
		}
		for j := range socks {
			socks[j].NetNS = n.ns.Inode
		}
		dst = append(dst, socks...)
	}
	return dst, incomplete
}

// open opens ns and a poll of it, checking it is still the namespace of
// its inode.
func (m *multiPoll) open(ns *Namespace) (*nsPoll, error) {
	if ns.Own {
		return &nsPoll{ns: *ns, poll: inspect.NewPoll(m.p.NewSource(0))}, nil
	}
	f, err := openInode(ns)
	if err != nil {
		return nil, err
	}
	return &nsPoll{ns: *ns, f: f, poll: inspect.NewPoll(m.p.NewSource(int(f.Fd())))}, nil
}

func (m *multiPoll) Close() {
	for ino, n := range m.byInode {
		n.close()
		delete(m.byInode, ino)
	}
}
